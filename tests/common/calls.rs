//! Counts the AWS calls a client makes, by operation, with an SDK
//! interceptor: what the call-floor test and `make bench` report.

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use layer_autopublish::aws::Aws;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The calls seen, by operation name (`HeadObject`, `PublishLayerVersion`…).
#[derive(Clone, Debug, Default)]
pub struct Calls(Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    /// Every call since the last `take`, and starts again from none.
    pub fn take(&self) -> BTreeMap<String, usize> {
        self.0
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    pub fn total(calls: &BTreeMap<String, usize>) -> usize {
        calls.values().sum()
    }
}

#[derive(Debug)]
struct CountCalls(Calls);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    /// Once per call, whatever its retries.
    fn read_before_serialization(
        &self, _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents, cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "?".into());
        if let Ok(mut calls) = (self.0).0.lock() {
            *calls.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// Clients from `sdk` whose every call is counted in the returned `Calls`.
pub fn counted(sdk: &aws_config::SdkConfig) -> (Aws, Calls) {
    let calls = Calls::default();
    let s3 = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let lambda = aws_sdk_lambda::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let ssm = aws_sdk_ssm::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let events = aws_sdk_eventbridge::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    (
        Aws::from_clients(
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_lambda::Client::from_conf(lambda),
            aws_sdk_ssm::Client::from_conf(ssm),
            aws_sdk_eventbridge::Client::from_conf(events),
        ),
        calls,
    )
}
