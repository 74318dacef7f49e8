//! The event each new version is announced with (`EVENT_BUS`): on which
//! bus, and what it says.

use crate::domain::outcome::Outcome;
use crate::error::Problem;
use crate::ports::Events;
use tracing::info;

/// The event's `source`.
pub const SOURCE: &str = "layer-autopublish";
/// The event's `detail-type`.
pub const DETAIL_TYPE: &str = "Layer Version Published";

/// EventBridge's limit on a bus name.
const MAX_BUS_NAME_CHARS: usize = 256;

/// Whether `bus` names an event bus: `default`, a bus's name, or its ARN.
pub fn validate_bus(bus: &str) -> Result<(), String> {
    let name =
        match bus.strip_prefix("arn:") {
            Some(rest) => {
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                match parts.as_slice() {
                    [partition, "events", region, account, resource]
                        if partition.starts_with("aws")
                            && !region.is_empty()
                            && account.len() == 12
                            && account.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        resource
                            .strip_prefix("event-bus/")
                            .ok_or_else(|| "an event bus ARN ends in event-bus/<name>".to_owned())?
                    }
                    _ => return Err(
                        "not an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)"
                            .into(),
                    ),
                }
            }
            None => bus,
        };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"/._-".contains(&b);
    if name.is_empty() || name.len() > MAX_BUS_NAME_CHARS || !name.bytes().all(allowed) {
        return Err(format!(
            "an event bus name is 1 to {MAX_BUS_NAME_CHARS} letters, digits and / . _ -"
        ));
    }
    Ok(())
}

/// The event's detail: the publish's outcome, as the function answers it.
pub fn detail(outcome: &Outcome) -> Result<String, serde_json::Error> {
    serde_json::to_string(outcome)
}

/// The act, run after each publish (`publish/write.rs`). `EVENT_BUS`
/// (`bus`): one `Layer Version Published` event, the outcome its detail. At
/// least once: a redelivery that finishes a version's records may announce
/// it again (its ARN tells them apart).
pub(crate) async fn announce(
    aws: &impl Events, bus: Option<&str>, outcome: &Outcome,
) -> Result<(), Problem> {
    let Some(bus) = bus else {
        return Ok(());
    };
    let detail = detail(outcome)
        .map_err(|e| Problem::Internal(format!("writing the event's detail: {e}")))?;
    aws.put_event(bus, SOURCE, DETAIL_TYPE, &detail).await?;
    info!(bus = %bus, version = outcome.layer_version.unwrap_or_default(), "new version announced");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bus_by_name_or_arn() {
        for good in [
            "default",
            "layers",
            "team/layers.v2",
            "arn:aws:events:eu-west-1:123456789012:event-bus/layers",
        ] {
            assert_eq!(validate_bus(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "with space",
            "arn:aws:sqs:eu-west-1:123456789012:queue",
            "arn:aws:events:eu-west-1:123456789012:rule/x",
        ] {
            assert!(validate_bus(bad).is_err(), "{bad}");
        }
        assert!(validate_bus(&"b".repeat(257)).is_err());
    }
}
