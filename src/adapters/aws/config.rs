//! The SDK configuration: one TLS stack (rustls with ring), the retry policy,
//! and where credentials and the region come from, for the function (Lambda's
//! variables alone) and for `layerctl` and the tests (every usual source).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_types::retry::ErrorKind;
use std::time::Duration;

/// The SDK configuration loader with the one TLS stack this crate ships
/// (rustls with ring) and the retry policy below, and every credential and
/// region source (profiles, SSO, web identity for CI, instance roles):
/// `layerctl` and the tests. Callers add overrides and `.load()` it.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
}

/// The function's SDK configuration, from Lambda's environment alone: the
/// credentials and region Lambda sets in variables, `AWS_ENDPOINT_URL` when
/// set (a local emulator), the same TLS stack and retries, and the small
/// calls' timeouts (`timeouts.rs`; copies and the publish set their own). The other sources
/// of `config_loader` (profile files, SSO, STS web identity, IMDS) never
/// apply in Lambda; leaving them out keeps them out of the binary, which is
/// smaller and starts sooner.
pub fn lambda_config() -> Result<SdkConfig, String> {
    lambda_config_from(|name| std::env::var(name).ok())
}

/// [`lambda_config`], reading variables through `get`.
pub fn lambda_config_from(get: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(
            "AWS_REGION is not set: Lambda sets it; set it when running the function elsewhere",
        )?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .retry_config(retry_config())
        .timeout_config(super::timeouts::small_calls())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::default());
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Transient failures (throttling, 5xx, timeouts, dropped connections) are
/// retried with exponential backoff and jitter, up to 5 attempts in all;
/// permanent ones (AccessDenied, a missing bucket, Lambda's code storage
/// limit) are not retried and fail the record at once. The function's
/// clients leave throttles out ([`ThrottlesToTheCaller`]).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
}

/// The function's clients do not retry a throttled call: the SDK would send
/// it again within about 3 s, ignoring how long the answer asks to wait, and
/// then give up, far sooner than the invocation must. The publisher waits
/// throttles out itself (`throttles.rs`), for as long as its deadline
/// allows. Runs after the SDK's own classifiers and forbids the retry they
/// chose for a throttle; every other retry stands.
#[derive(Clone, Copy, Debug)]
pub struct ThrottlesToTheCaller;

impl ClassifyRetry for ThrottlesToTheCaller {
    fn classify_retry(&self, _: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, _: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError {
                kind: ErrorKind::ThrottlingError,
                ..
            }) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "ThrottlesToTheCaller"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lookup_in;

    fn lambda_env(pairs: &[(&str, &str)]) -> Result<SdkConfig, String> {
        lambda_config_from(lookup_in(pairs))
    }

    #[test]
    fn the_function_takes_credentials_region_and_endpoint_from_lambdas_variables() {
        let config = lambda_env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(5));
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(super::super::timeouts::SMALL_ATTEMPT)
        );
        assert!(config.http_client().is_some());
        // Credentials come from the variables Lambda sets, and from nowhere else.
        let provider = format!("{:?}", config.credentials_provider().unwrap());
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider"),
            "{provider}"
        );

        let error = lambda_env(&[]).unwrap_err();
        assert!(error.starts_with("AWS_REGION is not set"), "{error}");
        let fallback = lambda_env(&[("AWS_DEFAULT_REGION", "us-west-2")]).unwrap();
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-west-2"));
    }
}
