//! The Lambda entry point: wiring only.

use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use layer_autopublish::{aws, config::Config, handle, Publisher};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = aws::config_loader().load().await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let publisher = Publisher::new(aws::Aws::new(&sdk), config, region);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handle(&publisher, event)
    }))
    .await
}
