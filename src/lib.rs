//! # layer-autopublish
//!
//! An AWS Lambda function that publishes a Lambda layer version when CI
//! uploads `{dir}/layer.zip` to S3, and only when the lock file the zip was
//! built from changed since the latest published version. The contract (S3
//! layout, metadata, configuration, outcomes, errors) is in the README and
//! `docs/how-it-works.md`.
//!
//! Where things live (each folder opens with what it is for):
//! - [`handle`] (here): event in, one [`Outcome`] per record out;
//! - [`domain`], pure: the event's shapes, the S3 layout, what an upload
//!   carries, change detection and every other decision
//!   (`domain/decide.rs`), what a record answers;
//! - [`publish`]: one record top to bottom: check the upload, look
//!   (`publish/facts.rs`), plan (`domain::decide::plan`), act under the
//!   layer's [`publish::lease`];
//! - [`lifecycle`]: what follows a publish, each part on only when
//!   configured (pointer, sharing, followers, retention, regions, event);
//! - [`ports`]: what the publisher needs from AWS and time, as traits;
//!   [`adapters`]: the SDK behind them (every AWS call) and an in-memory AWS
//!   with injected faults and a manual clock;
//! - [`config`]: the environment; [`error`]: what the user sees when
//!   something is wrong; [`metrics`]: one metric line per record;
//!   `backoff`: the pauses of every retry; [`throttles`]: throttled calls
//!   waited out; [`logging`]: JSON logs.

pub mod adapters;
pub(crate) mod backoff;
pub mod config;
pub mod domain;
pub mod error;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod ports;
pub mod publish;
pub mod throttles;

pub use domain::outcome::{Outcome, OutcomeKind};
pub use error::{Error, Problem, RecordError};
pub use publish::Publisher;

use domain::event;
use futures_util::FutureExt;
use lambda_runtime::LambdaEvent;
use ports::{Clock, Ports};
use publish::receipts::Invocation;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::error;

/// What the function returns: one result per upload, in the event's order;
/// for an SQS batch, also the messages that failed, for SQS to deliver again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub results: Vec<Outcome>,
    #[serde(
        rename = "batchItemFailures",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
}

/// A message of an SQS batch that failed, named the way Lambda's
/// `ReportBatchItemFailures` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The Lambda handler, on the payload as the runtime received it: JSON
/// text, so that no payload fails before the function can name what is
/// wrong with it (serde_json refuses to build a `Value` nested past 128
/// levels, and the runtime would answer with its own error type).
pub async fn handle_json<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, event: LambdaEvent<Box<RawValue>>,
) -> Result<Response, Error> {
    let deadline = deadline_of(&event.context);
    let request_id = event.context.request_id.clone();
    deliver(
        publisher,
        event::parse_json(event.payload.get()),
        deadline,
        &request_id,
    )
    .await
}

/// [`handle_json`] on a payload already parsed (`layerctl invoke`, tests).
pub async fn handle<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, event: LambdaEvent<Value>,
) -> Result<Response, Error> {
    let deadline = deadline_of(&event.context);
    let request_id = event.context.request_id.clone();
    deliver(
        publisher,
        event::parse(event.payload),
        deadline,
        &request_id,
    )
    .await
}

/// When Lambda ends the invocation; `None` when the context names no
/// deadline (`layerctl invoke`, tests).
fn deadline_of(context: &lambda_runtime::Context) -> Option<SystemTime> {
    (context.deadline > 0).then(|| UNIX_EPOCH + Duration::from_millis(context.deadline))
}

async fn deliver<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, delivery: Result<event::Delivery, event::EventProblem>,
    deadline: Option<SystemTime>, request_id: &str,
) -> Result<Response, Error> {
    let delivery = delivery.map_err(|problem| {
        let error = Error::from(problem);
        error!(error_type = error.error_type(), error = %error, "invalid event");
        error
    })?;
    match delivery {
        event::Delivery::Direct(uploads) => {
            // Lambda runs a failed event again; a local run (no request id) does not.
            let by = Invocation {
                request_id,
                retried: !request_id.is_empty(),
            };
            let (results, failed) = process_all(publisher, &uploads, deadline, by).await;
            if failed.is_empty() {
                Ok(Response {
                    results,
                    batch_item_failures: None,
                })
            } else {
                Err(Error::RecordsFailed {
                    failed,
                    total: uploads.len(),
                })
            }
        }
        event::Delivery::Queue(messages) => {
            // SQS delivers a failed message again, until its queue's
            // maxReceiveCount (each delivery a new request id: attempt 1).
            let by = Invocation {
                request_id,
                retried: true,
            };
            Ok(process_queued(publisher, messages, deadline, by).await)
        }
        event::Delivery::Sweep => sweep(publisher, deadline, request_id).await,
    }
}

/// The scheduled sweep of `ARTIFACTS_BUCKET` (`publish/sweep.rs`): the
/// outcomes of what it settled. A record it fails to settle has its
/// receipt and its log line, and the next run tries again: the invocation
/// fails only when the sweep could not look at all.
async fn sweep<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, deadline: Option<SystemTime>, request_id: &str,
) -> Result<Response, Error> {
    let Some(bucket) = publisher.config.artifacts_bucket.clone() else {
        let error = Error::from(event::EventProblem(
            "it is a scheduled sweep, and ARTIFACTS_BUCKET names no bucket to sweep: the \
             template sets it with SweepSchedule"
                .into(),
        ));
        error!(error_type = error.error_type(), error = %error, "invalid event");
        return Err(error);
    };
    // Run here (`layerctl invoke`), a sweep takes at most five minutes.
    let deadline = deadline.unwrap_or_else(|| publisher.clock.now() + Duration::from_secs(300));
    let by = Invocation {
        request_id,
        retried: false,
    };
    match Box::pin(publisher.sweep(&bucket, deadline, by)).await {
        Ok(swept) => Ok(Response {
            results: swept.outcomes,
            batch_item_failures: None,
        }),
        Err(problem) => {
            let prefix = publisher
                .config
                .artifacts_prefix
                .clone()
                .unwrap_or_default();
            let e = RecordError {
                zip: format!("s3://{bucket}/{prefix}"),
                problem,
            };
            error!(error_type = e.error_type(), error = %e, "sweep failed");
            Err(Error::RecordsFailed {
                failed: vec![(0, e)],
                total: 1,
            })
        }
    }
}

/// Every message on its own: one that cannot be read, or with an upload
/// that failed, is reported to SQS, which delivers it again (and, after the
/// queue's `maxReceiveCount`, to its dead-letter queue: nothing is lost).
async fn process_queued<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, messages: Vec<event::QueuedMessage>, deadline: Option<SystemTime>,
    by: Invocation<'_>,
) -> Response {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for message in messages {
        let failed = match message.uploads {
            Err(problem) => {
                let error = Error::from(problem);
                error!(
                    error_type = error.error_type(),
                    error = %error,
                    message_id = %message.message_id,
                    "invalid message"
                );
                true
            }
            Ok(uploads) => {
                let (outcomes, failed) = process_all(publisher, &uploads, deadline, by).await;
                results.extend(outcomes);
                !failed.is_empty()
            }
        };
        if failed {
            failures.push(BatchItemFailure {
                item_identifier: message.message_id,
            });
        }
    }
    Response {
        results,
        batch_item_failures: Some(failures),
    }
}

/// Every upload is processed, each logging its own failure and leaving its
/// receipt: the outcomes of those that succeeded, and the failures with
/// their index.
async fn process_all<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, uploads: &[event::Upload], deadline: Option<SystemTime>,
    by: Invocation<'_>,
) -> (Vec<Outcome>, Vec<(usize, RecordError)>) {
    let mut results = Vec::with_capacity(uploads.len());
    let mut failed = Vec::new();
    for (index, upload) in uploads.iter().enumerate() {
        // Boxed (and its receipt's too): one record's future is deep, and
        // both deliveries hold it. A
        // panic (a bug) fails this record with the error contract's
        // `InternalError`; what it held (a lease) is left to expire, as a
        // crashed invocation's would be, and the next records go on.
        let processed = AssertUnwindSafe(publisher.process(upload, deadline)).catch_unwind();
        match Box::pin(processed)
            .await
            .unwrap_or_else(|panic| Err(panicked(&*panic)))
        {
            Ok(outcome) => {
                Box::pin(publisher.write_receipt(upload, Ok(&outcome), by)).await;
                results.push(outcome);
            }
            Err(problem) => {
                let e = RecordError {
                    zip: upload.s3_uri(),
                    problem,
                };
                error!(error_type = e.error_type(), error = %e, record = index, "record failed");
                Box::pin(publisher.write_receipt(upload, Err(&e), by)).await;
                failed.push((index, e));
            }
        }
    }
    (results, failed)
}

/// A record's panic, as the bug it is.
fn panicked(panic: &(dyn std::any::Any + Send)) -> Problem {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Problem::Internal(format!("processing the record panicked: {said}"))
}
