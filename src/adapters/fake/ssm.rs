//! The in-memory SSM: String parameters by name.

use super::{FakeAws, Op};
use crate::error::AwsError;
use crate::ports::Parameters;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct Store(BTreeMap<String, String>);

impl Parameters for FakeAws {
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.call(Op::GetParameter, &self.regional_target(name), |state, _| {
            Ok(state.ssm().0.get(name).cloned())
        })
        .await
    }

    async fn put_parameter(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.call(Op::PutParameter, &self.regional_target(name), |state, _| {
            state.ssm().0.insert(name.to_owned(), value.to_owned());
            Ok(())
        })
        .await
    }
}

/// Reading and setting parameters as a test does, neither logged nor faulted.
impl FakeAws {
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.here().ssm().0.get(name).cloned()
    }

    pub fn put_parameter_by_hand(&self, name: &str, value: &str) {
        self.here()
            .ssm()
            .0
            .insert(name.to_owned(), value.to_owned());
    }
}
