//! The Lambda entry point: wiring only.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use layer_autopublish::adapters::aws;
use layer_autopublish::metrics::MetricsLog;
use layer_autopublish::{config::Config, handle_json, logging, Publisher};
use serde_json::value::RawValue;
use std::sync::OnceLock;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk =
        aws::lambda_config().inspect_err(|e| tracing::error!(error = %e, "bad environment"))?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    config
        .check_home_region(&region)
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    // Building the SDK clients loads the system's root certificates: done on
    // the first event, so that the runtime asks for work as soon as it can.
    let publisher = OnceLock::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let publisher = publisher.get_or_init(|| {
            Publisher::new(aws::Aws::for_function(&sdk), config.clone(), region.clone())
                .with_metrics(MetricsLog::Stdout)
        });
        handle_json(publisher, event)
    }))
    .await
}
