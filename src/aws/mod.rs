//! The SDK side of the ports: every S3, Lambda, SSM and EventBridge call the
//! function makes, and nothing else. [`config`] builds the SDK configuration;
//! `s3`, [`lambda`], `ssm` and `events` implement
//! [`Folder`](crate::ports::Folder), [`Layer`](crate::ports::Layer),
//! [`Parameters`](crate::ports::Parameters) and
//! [`Events`](crate::ports::Events) on the SDK's clients.
//!
//! [`timeouts`] says how long each kind of call may take.
//!
//! SDK failures become [`AwsError`]s naming the call, its target, and the
//! service's error code, so nothing past this module sees an SDK type.

pub mod config;
mod events;
mod functions;
pub mod lambda;
mod s3;
mod ssm;
pub mod timeouts;

pub use config::{config_loader, lambda_config, lambda_config_from, retry_config};
pub use s3::copy_source;

use crate::error::{AwsError, AwsService};
use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// The S3, Lambda and SSM clients, built once per process.
#[derive(Clone, Debug)]
pub struct Aws {
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    ssm: aws_sdk_ssm::Client,
    events: aws_sdk_eventbridge::Client,
}

impl Aws {
    /// Clients from a loaded SDK configuration. With a custom endpoint (a
    /// local emulator), S3 is addressed path-style, since virtual-host
    /// addressing needs DNS for `bucket.host`.
    pub fn new(sdk: &SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self::from_clients(
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_lambda::Client::new(sdk),
            aws_sdk_ssm::Client::new(sdk),
            aws_sdk_eventbridge::Client::new(sdk),
        )
    }

    pub fn from_clients(
        s3: aws_sdk_s3::Client, lambda: aws_sdk_lambda::Client, ssm: aws_sdk_ssm::Client,
        events: aws_sdk_eventbridge::Client,
    ) -> Self {
        Self {
            s3,
            lambda,
            ssm,
            events,
        }
    }

    /// The S3 client, for the calls only `layerctl` makes (uploads, listings).
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The Lambda client, for the calls only `layerctl` makes.
    pub fn lambda(&self) -> &aws_sdk_lambda::Client {
        &self.lambda
    }

    /// The SSM client, for the calls only `layerctl` makes.
    pub fn ssm(&self) -> &aws_sdk_ssm::Client {
        &self.ssm
    }
}

/// An ETag without the quotes S3 puts around it.
/// The same clients, configured for `region`: the HTTP client and the
/// credentials are shared.
impl crate::ports::Regions for Aws {
    fn in_region(&self, region: &str) -> Self {
        let region = aws_config::Region::new(region.to_owned());
        Self {
            s3: aws_sdk_s3::Client::from_conf(
                self.s3.config().to_builder().region(region.clone()).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                self.lambda
                    .config()
                    .to_builder()
                    .region(region.clone())
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                self.ssm
                    .config()
                    .to_builder()
                    .region(region.clone())
                    .build(),
            ),
            events: aws_sdk_eventbridge::Client::from_conf(
                self.events.config().to_builder().region(region).build(),
            ),
        }
    }
}

pub fn unquoted(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_owned())
}

/// A byte count from the SDK's signed length (never negative in practice).
pub fn byte_count(length: Option<i64>) -> u64 {
    length.map_or(0, |n| n.max(0).unsigned_abs())
}

/// Maps a failed call to an [`AwsError`]: the operation, its target, and the
/// service's code and message when it sent them.
pub fn failure<E>(
    service: AwsService, operation: &'static str, target: &str, error: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let message = match (error.code(), error.message(), error.raw_response()) {
        (Some(code), Some(message), _) => format!("{code}: {message}"),
        (Some(code), None, _) => code.to_owned(),
        // An answer without a body (a HEAD's): its status is all there is.
        (None, _, Some(raw)) => format!("HTTP {}, without an error code", raw.status().as_u16()),
        _ => DisplayErrorContext(&error).to_string(),
    };
    AwsError {
        service,
        operation,
        target: target.to_owned(),
        code,
        message,
        answered: error.raw_response().is_some(),
    }
}

/// Maps a failed S3 call on `bucket`/`key` to an [`AwsError`].
pub fn s3_failure<E>(
    operation: &'static str, bucket: &str, key: &str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let target = crate::layout::s3_uri(bucket, key);
    move |error| failure(AwsService::S3, operation, &target, error)
}
