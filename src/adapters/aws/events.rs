//! [`Events`] on the EventBridge client: one `PutEvents` entry.

use super::{failure, Aws};
use crate::error::{AwsError, AwsService};
use crate::ports::Events;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

impl Events for Aws {
    async fn put_event(
        &self, bus: &str, source: &str, detail_type: &str, detail: &str,
    ) -> Result<(), AwsError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let out = self
            .events()
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| failure(AwsService::EventBridge, "PutEvents", bus, e))?;
        // PutEvents answers 200 with the entries it refused.
        let refused = out
            .entries()
            .iter()
            .find_map(|entry| Some((entry.error_code()?, entry.error_message())));
        match refused {
            Some((code, message)) => Err(AwsError {
                service: AwsService::EventBridge,
                operation: "PutEvents",
                target: bus.to_owned(),
                code: Some(code.to_owned()),
                message: format!("{code}: {}", message.unwrap_or_default()),
                answered: true,
                retry_after_s: None,
                waited_out: None,
            }),
            None => Ok(()),
        }
    }
}
