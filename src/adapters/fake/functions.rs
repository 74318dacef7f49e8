//! The in-memory Lambda functions: each one's layers, in order, runtime and
//! architectures.

use super::{aws_error, lock, FakeAws, Op};
use crate::error::AwsError;
use crate::ports::{FunctionSetup, Functions};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct Registry(BTreeMap<String, FunctionSetup>);

/// A function named by its name or its ARN.
fn name_of(function: &str) -> &str {
    function.rsplit(':').next().unwrap_or(function)
}

impl Functions for FakeAws {
    async fn function_setup(&self, function: &str) -> Result<Option<FunctionSetup>, AwsError> {
        self.call(Op::GetFunctionConfiguration, function, |state, _| {
            Ok(state.functions.0.get(name_of(function)).cloned())
        })
        .await
    }

    async fn set_function_layers(&self, function: &str, layers: &[String]) -> Result<(), AwsError> {
        let op = Op::UpdateFunctionConfiguration;
        self.call(op, function, |state, _| {
            let Some(current) = state.functions.0.get_mut(name_of(function)) else {
                let message = "Function not found";
                return Err(aws_error(
                    op,
                    function,
                    "ResourceNotFoundException",
                    message,
                ));
            };
            current.layers = layers.to_vec();
            Ok(())
        })
        .await
    }
}

/// Functions as a test creates and reads them, neither logged nor faulted.
impl FakeAws {
    /// A function of no runtime said (a container image) on x86_64.
    pub fn create_function(&self, name: &str, layers: &[String]) {
        let setup = FunctionSetup {
            layers: layers.to_vec(),
            runtime: None,
            architectures: vec!["x86_64".into()],
        };
        lock(&self.state).functions.0.insert(name.to_owned(), setup);
    }

    /// A function on `runtime` and `architecture`.
    pub fn create_function_on(
        &self, name: &str, layers: &[String], runtime: &str, architecture: &str,
    ) {
        let setup = FunctionSetup {
            layers: layers.to_vec(),
            runtime: Some(runtime.to_owned()),
            architectures: vec![architecture.to_owned()],
        };
        lock(&self.state).functions.0.insert(name.to_owned(), setup);
    }

    pub fn layers_of(&self, function: &str) -> Option<Vec<String>> {
        lock(&self.state)
            .functions
            .0
            .get(name_of(function))
            .map(|setup| setup.layers.clone())
    }
}
