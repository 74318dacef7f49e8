//! The in-memory EventBridge: the events put, in order.

use super::{lock, FakeAws, Op};
use crate::error::AwsError;
use crate::ports::Events;

/// One event as it was put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutEvent {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    pub detail: String,
}

impl Events for FakeAws {
    async fn put_event(
        &self, bus: &str, source: &str, detail_type: &str, detail: &str,
    ) -> Result<(), AwsError> {
        self.call(Op::PutEvents, bus, |state, _| {
            state.events.push(PutEvent {
                bus: bus.to_owned(),
                source: source.to_owned(),
                detail_type: detail_type.to_owned(),
                detail: detail.to_owned(),
            });
            Ok(())
        })
        .await
    }
}

impl FakeAws {
    /// Every event put, in order.
    pub fn events(&self) -> Vec<PutEvent> {
        lock(&self.state).events.clone()
    }
}
