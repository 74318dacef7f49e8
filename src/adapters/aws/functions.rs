//! [`Functions`] on the Lambda client: a function's layers (with its runtime
//! and architectures), read and set.

use super::{failure, Aws};
use crate::error::{AwsError, AwsService};
use crate::ports::{FunctionSetup, Functions};
use aws_sdk_lambda::error::ProvideErrorMetadata;

impl Functions for Aws {
    async fn function_setup(&self, function: &str) -> Result<Option<FunctionSetup>, AwsError> {
        let result = self
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(FunctionSetup {
                layers: out
                    .layers()
                    .iter()
                    .filter_map(|layer| layer.arn().map(str::to_owned))
                    .collect(),
                runtime: out.runtime().map(|r| r.as_str().to_owned()),
                architectures: out
                    .architectures()
                    .iter()
                    .map(|a| a.as_str().to_owned())
                    .collect(),
            })),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failure(
                AwsService::Lambda,
                "GetFunctionConfiguration",
                function,
                e,
            )),
        }
    }

    async fn set_function_layers(&self, function: &str, layers: &[String]) -> Result<(), AwsError> {
        self.lambda
            .update_function_configuration()
            .function_name(function)
            .set_layers(Some(layers.to_vec()))
            .send()
            .await
            .map_err(|e| {
                failure(
                    AwsService::Lambda,
                    "UpdateFunctionConfiguration",
                    function,
                    e,
                )
            })?;
        Ok(())
    }
}
