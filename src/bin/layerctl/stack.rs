//! The stack on CloudFormation: what it is now (status, parameters,
//! outputs), its outputs for the commands given `--stack-name`, and its
//! events while a change set runs, shown as they come.

use crate::failure::Failure;
use crate::report::Report;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::StackEvent;
use aws_sdk_cloudformation::Client;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// What the stack is now.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub status: String,
    pub reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

/// A CloudFormation call that failed, as a command's failure: AWS's code
/// and message, or what kept the call from being answered.
pub fn failure(
    operation: &str, stack: &str, error: &(impl ProvideErrorMetadata + std::error::Error),
) -> Failure {
    Failure::Aws(format!(
        "CloudFormation {operation} on stack {stack}: {}",
        said(error)
    ))
}

/// `Code: message`, or the whole chain of causes when AWS did not answer.
pub fn said(error: &(impl ProvideErrorMetadata + std::error::Error)) -> String {
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    }
}

/// The stack named `name`, or `None` when there is none.
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<Stack>, Failure> {
    let answer = cfn.describe_stacks().stack_name(name).send().await;
    let described = match answer {
        Ok(described) => described,
        // CloudFormation says so with a ValidationError.
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => return Ok(None),
        Err(e) => return Err(failure("DescribeStacks", name, &e)),
    };
    let Some(stack) = described.stacks().first() else {
        return Ok(None);
    };
    Ok(Some(Stack {
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        reason: stack.stack_status_reason().map(str::to_owned),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
    }))
}

/// One output of the stack named `name`, for a command given
/// `--stack-name` (the caller needs `cloudformation:DescribeStacks` on it).
pub async fn output(cfn: &Client, name: &str, key: &str) -> Result<String, Failure> {
    let stack = describe(cfn, name).await?.ok_or_else(|| {
        Failure::Rejected(format!(
            "there is no stack {name} in this region: check --stack-name and --region"
        ))
    })?;
    stack.outputs.get(key).cloned().ok_or_else(|| {
        Failure::Rejected(format!(
            "stack {name} ({}) has no output {key}: is it a layer-autopublish stack, deployed?",
            stack.status
        ))
    })
}

/// Whether a stack in `status` is still changing.
pub fn in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

/// The stack's events so far, so that [`watch`] shows only what comes after.
pub async fn seen_events(cfn: &Client, stack_id: &str) -> Result<HashSet<String>, Failure> {
    let events = cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| failure("DescribeStackEvents", stack_id, &e))?;
    Ok(events
        .stack_events()
        .iter()
        .filter_map(|e| e.event_id().map(str::to_owned))
        .collect())
}

/// How a change set's run ended.
#[derive(Debug)]
pub struct Ended {
    pub status: String,
    /// The first failed resources' reasons, as CloudFormation gave them.
    pub failures: Vec<String>,
}

impl Ended {
    pub fn succeeded(&self) -> bool {
        matches!(self.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE")
    }
}

/// Shows the stack's new events as they come, until it stops changing.
pub async fn watch(
    cfn: &Client, stack_id: &str, mut seen: HashSet<String>, report: &Report,
) -> Result<Ended, Failure> {
    let mut failures = Vec::new();
    loop {
        let now = describe(cfn, stack_id).await?.unwrap_or_default();
        // The events up to this status, oldest first.
        let events = cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| failure("DescribeStackEvents", stack_id, &e))?;
        let mut new: Vec<&StackEvent> = events
            .stack_events()
            .iter()
            .filter(|e| e.event_id().is_some_and(|id| !seen.contains(id)))
            .collect();
        new.reverse();
        for event in new {
            seen.extend(event.event_id().map(str::to_owned));
            report.line(event_line(event));
            if let Some(reason) = failed_reason(event) {
                failures.push(reason);
            }
        }
        if !in_progress(&now.status) {
            if failures.is_empty() {
                failures.extend(now.reason.filter(|_| now.status.contains("FAILED")));
            }
            return Ok(Ended {
                status: now.status,
                failures,
            });
        }
        // A few seconds apart, as the AWS CLI's waiters poll.
        tokio::time::sleep(Duration::from_millis(1_500 + fastrand::u64(..1_000))).await;
    }
}

/// `12:00:03  CREATE_FAILED  AWS::S3::Bucket  ArtifactsBucket  reason`.
fn event_line(event: &StackEvent) -> String {
    let time = event
        .timestamp()
        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .and_then(|t| t.get(11..19).map(str::to_owned))
        .unwrap_or_default();
    let mut line = format!(
        "{time}  {:<20}  {:<28}  {}",
        event
            .resource_status()
            .map(|s| s.as_str())
            .unwrap_or_default(),
        event.resource_type().unwrap_or_default(),
        event.logical_resource_id().unwrap_or_default(),
    );
    if let Some(reason) = event.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str("  ");
        line.push_str(reason);
    }
    line
}

/// The reason a resource failed, when this event says one did (not the ones
/// only cancelled because another failed).
fn failed_reason(event: &StackEvent) -> Option<String> {
    let status = event.resource_status()?.as_str();
    let reason = event.resource_status_reason()?;
    let is_stack = event.resource_type() == Some("AWS::CloudFormation::Stack");
    let cancelled = reason.contains("cancelled");
    (status.ends_with("_FAILED") && !is_stack && !cancelled).then(|| {
        format!(
            "{} ({}): {reason}",
            event.logical_resource_id().unwrap_or_default(),
            event.resource_type().unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(logical: &str, kind: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent::builder()
            .event_id(format!("{logical}-{status}"))
            .stack_id("s")
            .stack_name("s")
            .timestamp(aws_smithy_types::DateTime::from_secs(1_765_000_803))
            .logical_resource_id(logical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .resource_status_reason(reason)
            .build()
    }

    #[test]
    fn a_failed_resource_gives_its_reason_and_the_cancelled_ones_do_not() {
        let bucket = event(
            "ArtifactsBucket",
            "AWS::S3::Bucket",
            "CREATE_FAILED",
            "my-artifacts already exists",
        );
        assert_eq!(
            failed_reason(&bucket).as_deref(),
            Some("ArtifactsBucket (AWS::S3::Bucket): my-artifacts already exists")
        );
        assert_eq!(
            event_line(&bucket),
            "06:00:03  CREATE_FAILED         AWS::S3::Bucket               ArtifactsBucket  my-artifacts already exists"
        );
        let cancelled = event(
            "PublisherRole",
            "AWS::IAM::Role",
            "CREATE_FAILED",
            "Resource creation cancelled",
        );
        assert_eq!(failed_reason(&cancelled), None);
        let stack = event(
            "s",
            "AWS::CloudFormation::Stack",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [ArtifactsBucket].",
        );
        assert_eq!(failed_reason(&stack), None);
        let done = event("PublisherRole", "AWS::IAM::Role", "CREATE_COMPLETE", "");
        assert_eq!(failed_reason(&done), None);
    }

    #[test]
    fn only_a_changing_stack_is_in_progress() {
        assert!(in_progress("UPDATE_IN_PROGRESS"));
        assert!(in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(in_progress("ROLLBACK_IN_PROGRESS"));
        assert!(!in_progress("REVIEW_IN_PROGRESS"));
        assert!(!in_progress("ROLLBACK_COMPLETE"));
        let ended = |status: &str| Ended {
            status: status.into(),
            failures: vec![],
        };
        assert!(ended("CREATE_COMPLETE").succeeded());
        assert!(ended("UPDATE_COMPLETE").succeeded());
        assert!(!ended("ROLLBACK_COMPLETE").succeeded());
        assert!(!ended("UPDATE_ROLLBACK_COMPLETE").succeeded());
    }
}
