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

pub use config::{
    config_loader, lambda_config, lambda_config_from, retry_config, ThrottlesToTheCaller,
};
pub use s3::copy_source;

use crate::error::{AwsError, AwsService};
use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::retries::classifiers::SharedRetryClassifier;
use std::sync::{Arc, OnceLock};

/// The S3, Lambda, SSM and EventBridge clients, built once per process;
/// SSM's and EventBridge's only when a part first calls them (the latest
/// pointer, the event), so that a deployment without them pays nothing.
#[derive(Clone, Debug)]
pub struct Aws {
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    ssm: OnFirstUse<aws_sdk_ssm::Client>,
    events: OnFirstUse<aws_sdk_eventbridge::Client>,
}

/// A client built on its first use, then shared by the clones.
#[derive(Clone)]
struct OnFirstUse<C> {
    client: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            client: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }

    fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }
}

impl<C: Clone + Send + Sync + 'static> OnFirstUse<C> {
    /// A client already built (the tests' own).
    fn ready(client: C) -> Self {
        let built = Self::new({
            let client = client.clone();
            move || client.clone()
        });
        let _ = built.client.set(client);
        built
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.client.get().is_some() {
            "built"
        } else {
            "not built yet"
        };
        f.write_str(state)
    }
}

impl Aws {
    /// Clients from a loaded SDK configuration. With a custom endpoint (a
    /// local emulator), S3 is addressed path-style, since virtual-host
    /// addressing needs DNS for `bucket.host`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_classifiers(sdk, &[])
    }

    /// The function's clients: as [`Aws::new`]'s, but a throttled call is
    /// not retried by the SDK; it comes back to the publisher, which waits
    /// it out for as long as its deadline allows (`throttles.rs`).
    pub fn for_function(sdk: &SdkConfig) -> Self {
        Self::with_classifiers(sdk, &[SharedRetryClassifier::new(ThrottlesToTheCaller)])
    }

    fn with_classifiers(sdk: &SdkConfig, classifiers: &[SharedRetryClassifier]) -> Self {
        let mut s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some());
        let mut lambda = aws_sdk_lambda::config::Builder::from(sdk);
        for classifier in classifiers {
            s3.push_retry_classifier(classifier.clone());
            lambda.push_retry_classifier(classifier.clone());
        }
        let (for_ssm, for_events) = (
            (sdk.clone(), classifiers.to_vec()),
            (sdk.clone(), classifiers.to_vec()),
        );
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            lambda: aws_sdk_lambda::Client::from_conf(lambda.build()),
            ssm: OnFirstUse::new(move || {
                let mut config = aws_sdk_ssm::config::Builder::from(&for_ssm.0);
                for classifier in &for_ssm.1 {
                    config.push_retry_classifier(classifier.clone());
                }
                aws_sdk_ssm::Client::from_conf(config.build())
            }),
            events: OnFirstUse::new(move || {
                let mut config = aws_sdk_eventbridge::config::Builder::from(&for_events.0);
                for classifier in &for_events.1 {
                    config.push_retry_classifier(classifier.clone());
                }
                aws_sdk_eventbridge::Client::from_conf(config.build())
            }),
        }
    }

    pub fn from_clients(
        s3: aws_sdk_s3::Client, lambda: aws_sdk_lambda::Client, ssm: aws_sdk_ssm::Client,
        events: aws_sdk_eventbridge::Client,
    ) -> Self {
        Self {
            s3,
            lambda,
            ssm: OnFirstUse::ready(ssm),
            events: OnFirstUse::ready(events),
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
        self.ssm.get()
    }

    pub(crate) fn events(&self) -> &aws_sdk_eventbridge::Client {
        self.events.get()
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
            ssm: {
                let (home, region) = (self.ssm.clone(), region.clone());
                OnFirstUse::new(move || {
                    let config = home.get().config().to_builder().region(region.clone());
                    aws_sdk_ssm::Client::from_conf(config.build())
                })
            },
            events: {
                let home = self.events.clone();
                OnFirstUse::new(move || {
                    let config = home.get().config().to_builder().region(region.clone());
                    aws_sdk_eventbridge::Client::from_conf(config.build())
                })
            },
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
        retry_after_s: error.raw_response().and_then(retry_after_s),
        waited_out: None,
    }
}

/// How many seconds a throttled answer asks the caller to wait: Lambda's
/// `Retry-After` header, else the `retryAfterSeconds` of its body (whole
/// seconds, sent as a string; a fraction is rounded up).
fn retry_after_s(answer: &HttpResponse) -> Option<u16> {
    let from_body = || {
        let body: serde_json::Value = serde_json::from_slice(answer.body().bytes()?).ok()?;
        match body.get("retryAfterSeconds")? {
            serde_json::Value::String(seconds) => Some(seconds.clone()),
            serde_json::Value::Number(seconds) => Some(seconds.to_string()),
            _ => None,
        }
    };
    let said = answer
        .headers()
        .get("retry-after")
        .map(str::to_owned)
        .or_else(from_body)?;
    let seconds: f64 = said.trim().parse().ok()?;
    // Up to 18 hours: a pause is bounded by the deadline anyway.
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.min(f64::from(u16::MAX)).ceil() as u16)
}

/// Maps a failed S3 call on `bucket`/`key` to an [`AwsError`].
pub fn s3_failure<E>(
    operation: &'static str, bucket: &str, key: &str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let target = crate::domain::layout::s3_uri(bucket, key);
    move |error| failure(AwsService::S3, operation, &target, error)
}

#[cfg(test)]
mod lazy_tests {
    use super::*;
    use aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry;

    fn sdk() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    fn leaves_throttles(mut classifiers: impl Iterator<Item = SharedRetryClassifier>) -> bool {
        classifiers.any(|c| c.name() == "ThrottlesToTheCaller")
    }

    /// Each client of the function leaves throttles to the publisher, in
    /// every region it publishes to; `layerctl`'s keep the SDK's retries.
    #[test]
    fn the_functions_clients_leave_throttles_to_the_publisher_in_every_region() {
        let home = Aws::for_function(&sdk());
        let there = crate::ports::Regions::in_region(&home, "eu-west-1");
        for aws in [&home, &there] {
            assert!(leaves_throttles(aws.s3().config().retry_classifiers()));
            assert!(leaves_throttles(aws.lambda().config().retry_classifiers()));
            assert!(leaves_throttles(aws.ssm().config().retry_classifiers()));
            assert!(leaves_throttles(aws.events().config().retry_classifiers()));
        }
        let layerctl = Aws::new(&sdk());
        assert!(!leaves_throttles(
            layerctl.lambda().config().retry_classifiers()
        ));
    }

    /// A deployment without the latest pointer or the event builds neither
    /// client (each costs memory on the first event); the first call that
    /// needs one builds it, once for every clone.
    #[test]
    fn the_ssm_and_eventbridge_clients_are_built_on_first_use() {
        let aws = Aws::new(&sdk());
        let twin = aws.clone();
        assert_eq!(format!("{:?}", aws.ssm), "not built yet");
        assert_eq!(format!("{:?}", aws.events), "not built yet");

        let _ = aws.ssm();

        assert_eq!(format!("{:?}", twin.ssm), "built", "shared by the clones");
        assert_eq!(format!("{:?}", twin.events), "not built yet");
        let there = crate::ports::Regions::in_region(&aws, "eu-west-1");
        assert_eq!(format!("{:?}", there.events), "not built yet");
        let region = there.ssm().config().region().map(ToString::to_string);
        assert_eq!(region.as_deref(), Some("eu-west-1"));
    }
}
