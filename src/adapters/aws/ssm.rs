//! [`Parameters`] on the SSM client: the latest version's pointer.

use super::{failure, Aws};
use crate::error::{AwsError, AwsService};
use crate::ports::Parameters;
use aws_sdk_ssm::types::ParameterType;

impl Parameters for Aws {
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.ssm().get_parameter().name(name).send().await {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(failure(AwsService::Ssm, "GetParameter", name, e)),
        }
    }

    async fn put_parameter(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.ssm()
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| failure(AwsService::Ssm, "PutParameter", name, e))?;
        Ok(())
    }
}
