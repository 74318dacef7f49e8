//! `layerctl failed`: what the failed-events queue holds, one entry per
//! event that failed every retry: its upload, the layer, the `errorType` and
//! message, how often Lambda tried it, and how long ago it failed. Messages
//! are read as they are written there: by Lambda's on-failure destination
//! (`requestContext`, `requestPayload`, `responsePayload`), or by the
//! EventBridge rule's dead-letter queue (the event itself, the error in
//! message attributes).
//!
//! `--replay` runs each event again, here through the handler as `invoke`
//! does, or with `--function` by invoking the deployed function, and
//! deletes a message only once its replay succeeded; a message whose replay
//! failed is made visible again at once, and the command exits with that
//! failure's code.

use crate::args::FailedArgs;
use crate::failure::Failure;
use crate::report::Report;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::event::{self, Delivery};
use layer_autopublish::domain::metadata;
use layer_autopublish::ports::Folder;
use layer_autopublish::{handle, Publisher};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a message listed stays hidden from other readers while this
/// command reads the rest; each is made visible again right after.
const LISTING_VISIBILITY: Duration = Duration::from_secs(30);

/// How long a message being replayed stays hidden: the function's timeout
/// (120 s) and time to delete it after.
const REPLAY_VISIBILITY: Duration = Duration::from_secs(300);

/// At most this many receives of 10 messages: 1,000 events.
const MAX_RECEIVES: usize = 100;

/// One failed event, as the queue holds it.
#[derive(Clone, Debug, Serialize)]
pub struct FailedEvent {
    pub message_id: String,
    /// The uploads the event was about (`s3://bucket/key`).
    pub uploads: Vec<String>,
    /// The layer its zip names (`layer-name`), else `LAYER_NAME`.
    pub layer: Option<String>,
    pub error_type: String,
    pub error_message: String,
    /// How many times Lambda ran it (or EventBridge tried to deliver it).
    pub attempts: Option<u64>,
    /// Seconds since it was put in the queue.
    pub age_seconds: Option<u64>,
    /// With `--replay`: what the replay came to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replayed>,
    #[serde(skip)]
    payload: Option<Value>,
    #[serde(skip)]
    receipt_handle: String,
}

/// What a replay came to.
#[derive(Clone, Debug, Serialize)]
pub struct Replayed {
    /// `replayed` (the message was deleted) or `failed` (it stays).
    pub result: String,
    /// Each upload's outcome, when it succeeded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Serialize)]
struct Listing<'a> {
    queue_url: &'a str,
    events: &'a [FailedEvent],
}

pub async fn run(
    aws: &Aws, sqs: &aws_sdk_sqs::Client, region: &str, report: &Report, args: FailedArgs,
) -> Result<(), Failure> {
    let visibility = match args.replay {
        true => REPLAY_VISIBILITY,
        false => LISTING_VISIBILITY,
    };
    let queue_url = args
        .queue_url
        .as_deref()
        .ok_or_else(|| Failure::Rejected("give --queue-url, or --stack-name".into()))?;
    let mut events = receive_all(sqs, queue_url, visibility).await?;
    for failed in &mut events {
        failed.layer = layer_of(aws, &failed.uploads).await;
    }
    let mut worst: Option<Failure> = None;
    if args.replay {
        let publisher = match &args.function {
            Some(_) => None,
            None => Some(local_publisher(aws, region, args.layer_name.as_deref())?),
        };
        for failed in &mut events {
            let replayed = match (&failed.payload, &args.function, &publisher) {
                (None, ..) => Err(Failure::Rejected(
                    "the message holds no event to replay".into(),
                )),
                (Some(payload), Some(function), _) => invoke_function(aws, function, payload).await,
                (Some(payload), None, Some(publisher)) => replay_here(publisher, payload).await,
                (Some(_), None, None) => Err(Failure::Rejected("nothing to replay with".into())),
            };
            failed.replay = Some(match replayed {
                Ok(outcomes) => {
                    delete(sqs, queue_url, &failed.receipt_handle).await?;
                    Replayed {
                        result: "replayed".into(),
                        outcomes,
                        error_type: None,
                        error_message: None,
                    }
                }
                Err(failure) => {
                    show_again(sqs, queue_url, &failed.receipt_handle).await?;
                    let said = Replayed {
                        result: "failed".into(),
                        outcomes: Vec::new(),
                        error_type: Some(kind_of(&failure).into()),
                        error_message: Some(failure.to_string()),
                    };
                    if worst
                        .as_ref()
                        .is_none_or(|w| failure.exit_code() > w.exit_code())
                    {
                        worst = Some(failure);
                    }
                    said
                }
            });
        }
    } else {
        for failed in &events {
            show_again(sqs, queue_url, &failed.receipt_handle).await?;
        }
    }
    print(report, queue_url, &events);
    report.result(&Listing {
        queue_url,
        events: &events,
    });
    match worst {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Every message the queue holds now, each hidden for `visibility`.
async fn receive_all(
    sqs: &aws_sdk_sqs::Client, queue_url: &str, visibility: Duration,
) -> Result<Vec<FailedEvent>, Failure> {
    let now = SystemTime::now();
    let mut events = Vec::new();
    for _ in 0..MAX_RECEIVES {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            // Long polling asks every SQS server: an empty answer means empty.
            .wait_time_seconds(1)
            .visibility_timeout(visibility.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs_failure("ReceiveMessage", queue_url, e))?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let sent = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|ms| ms.parse::<u64>().ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
            let empty = HashMap::new();
            let attributes = message.message_attributes().unwrap_or(&empty);
            let mut failed = read(message.body().unwrap_or_default(), attributes, sent, now);
            failed.message_id = message.message_id().unwrap_or_default().to_owned();
            failed.receipt_handle = message.receipt_handle().unwrap_or_default().to_owned();
            events.push(failed);
        }
    }
    Ok(events)
}

/// One message's event: written by Lambda's on-failure destination, else by
/// the EventBridge rule's dead-letter queue; anything else is listed as
/// `Unreadable`, with nothing to replay.
pub fn read(
    body: &str, attributes: &HashMap<String, MessageAttributeValue>, sent: Option<SystemTime>,
    now: SystemTime,
) -> FailedEvent {
    let attribute = |name: &str| {
        attributes
            .get(name)
            .and_then(|value| value.string_value())
            .map(str::to_owned)
    };
    let age_seconds = sent.and_then(|sent| now.duration_since(sent).ok().map(|d| d.as_secs()));
    let mut failed = FailedEvent {
        message_id: String::new(),
        uploads: Vec::new(),
        layer: None,
        error_type: "Unreadable".into(),
        error_message: "the message is neither Lambda's on-failure record nor an event".into(),
        attempts: None,
        age_seconds,
        replay: None,
        payload: None,
        receipt_handle: String::new(),
    };
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return failed;
    };
    let payload = if let Some(context) = body.get("requestContext") {
        // Lambda's on-failure destination.
        let response = &body["responsePayload"];
        let condition = context["condition"].as_str().unwrap_or("Failed");
        failed.error_type = response["errorType"].as_str().unwrap_or(condition).into();
        failed.error_message = match response["errorMessage"].as_str() {
            Some(message) => message.into(),
            None => format!("Lambda gave up on the event: {condition}"),
        };
        failed.attempts = context["approximateInvokeCount"].as_u64();
        body.get("requestPayload").cloned()
    } else if body.get("detail-type").is_some() {
        // The EventBridge rule could not invoke the function.
        failed.error_type = attribute("ERROR_CODE").unwrap_or_else(|| "Undelivered".into());
        failed.error_message = attribute("ERROR_MESSAGE")
            .unwrap_or_else(|| "EventBridge could not deliver the event to the function".into());
        failed.attempts = attribute("RETRY_ATTEMPTS")
            .and_then(|n| n.parse::<u64>().ok())
            .map(|retries| retries + 1);
        Some(body)
    } else {
        None
    };
    if let Some(payload) = &payload {
        if let Ok(Delivery::Direct(uploads)) = event::parse(payload.clone()) {
            failed.uploads = uploads.iter().map(event::Upload::s3_uri).collect();
        }
    }
    failed.payload = payload;
    failed
}

/// The layer of the first upload: its zip's `layer-name`, else `LAYER_NAME`.
async fn layer_of(aws: &Aws, uploads: &[String]) -> Option<String> {
    let default = crate::defaults::layer_name();
    let (bucket, key) = uploads.first()?.strip_prefix("s3://")?.split_once('/')?;
    match aws.head(bucket, key).await {
        Ok(Some(head)) => metadata::layer_name(&head.metadata, default.as_deref())
            .ok()
            .flatten(),
        _ => default,
    }
}

/// The function's handler here, configured as `invoke` is.
fn local_publisher(
    aws: &Aws, region: &str, layer_name: Option<&str>,
) -> Result<Publisher<Aws>, Failure> {
    let config = crate::invoke::config(layer_name, false)?;
    Ok(Publisher::new(aws.clone(), config, region))
}

async fn replay_here(publisher: &Publisher<Aws>, payload: &Value) -> Result<Vec<Value>, Failure> {
    let event = LambdaEvent::new(payload.clone(), Context::default());
    let response = handle(publisher, event)
        .await
        .map_err(|e| Failure::of_function(&e))?;
    Ok(response
        .results
        .iter()
        .filter_map(|outcome| serde_json::to_value(outcome).ok())
        .collect())
}

/// Invokes the deployed `function` with `payload` and waits for its answer.
async fn invoke_function(
    aws: &Aws, function: &str, payload: &Value,
) -> Result<Vec<Value>, Failure> {
    let bytes = serde_json::to_vec(payload)
        .map_err(|e| Failure::Rejected(format!("the event could not be written: {e}")))?;
    let out = aws
        .lambda()
        .invoke()
        .function_name(function)
        .payload(aws_smithy_types::Blob::new(bytes))
        .send()
        .await
        .map_err(|e| {
            let error = layer_autopublish::adapters::aws::failure(
                layer_autopublish::error::AwsService::Lambda,
                "Invoke",
                function,
                e,
            );
            Failure::Aws(error.to_string())
        })?;
    let answer: Value = out
        .payload()
        .and_then(|blob| serde_json::from_slice(blob.as_ref()).ok())
        .unwrap_or(Value::Null);
    if out.function_error().is_some() {
        let error_type = answer["errorType"].as_str().unwrap_or("Unhandled");
        let message = answer["errorMessage"].as_str().unwrap_or_default();
        return Err(Failure::of_error_type(error_type, message));
    }
    Ok(answer["results"].as_array().cloned().unwrap_or_default())
}

async fn delete(sqs: &aws_sdk_sqs::Client, queue_url: &str, receipt: &str) -> Result<(), Failure> {
    sqs.delete_message()
        .queue_url(queue_url)
        .receipt_handle(receipt)
        .send()
        .await
        .map_err(|e| sqs_failure("DeleteMessage", queue_url, e))?;
    Ok(())
}

/// Makes a message visible again at once: listing it, or failing to replay
/// it, leaves it where it was.
async fn show_again(
    sqs: &aws_sdk_sqs::Client, queue_url: &str, receipt: &str,
) -> Result<(), Failure> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await
        .map_err(|e| sqs_failure("ChangeMessageVisibility", queue_url, e))?;
    Ok(())
}

fn sqs_failure<E: std::error::Error + Send + Sync + 'static>(
    operation: &str, queue_url: &str, error: aws_sdk_sqs::error::SdkError<E>,
) -> Failure {
    let said = aws_sdk_sqs::error::DisplayErrorContext(&error);
    Failure::Aws(format!("{operation} on {queue_url} failed: {said}"))
}

/// The kind of a replay's failure, for `--json`.
fn kind_of(failure: &Failure) -> &'static str {
    match failure {
        Failure::Rejected(_) => "Rejected",
        Failure::Aws(_) => "AwsError",
        Failure::Busy(_) => "PublishInProgress",
        Failure::NotPublished(_) => "NotPublished",
        Failure::TimedOut(_) => "TimedOut",
    }
}

/// The lines for people.
fn print(report: &Report, queue_url: &str, events: &[FailedEvent]) {
    if events.is_empty() {
        report.line(format!("no failed events in {queue_url}"));
        return;
    }
    report.line(format!("{} failed event(s) in {queue_url}:", events.len()));
    for failed in events {
        let uploads = match failed.uploads.as_slice() {
            [] => "(no upload)".to_owned(),
            uploads => uploads.join(", "),
        };
        let layer = failed.layer.as_deref().unwrap_or("?");
        let attempts = failed
            .attempts
            .map(|n| format!(" after {n} attempt(s)"))
            .unwrap_or_default();
        let age = failed
            .age_seconds
            .map(|s| format!(", {} ago", age(s)))
            .unwrap_or_default();
        report.line(format!(
            "- {uploads} (layer {layer}): {}{attempts}{age}",
            failed.error_type
        ));
        report.line(format!("  {}", failed.error_message));
        if let Some(replay) = &failed.replay {
            match replay.result.as_str() {
                "replayed" => report.line("  replayed: done, message deleted"),
                _ => report.line(format!(
                    "  replay failed, message kept: {}",
                    replay.error_message.as_deref().unwrap_or_default()
                )),
            }
        }
    }
}

/// `3d 4h`, `2h 13m`, `5m 2s`, `40s`.
fn age(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, ..) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn lambdas_on_failure_record_is_read() {
        let body = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-12-03T04:00:00.000Z",
            "requestContext": {
                "requestId": "r",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": event::object_created("us-east-1", "b", "app/layer.zip", Some("e"), None, 1),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "MissingManifestMd5", "errorMessage": "s3://b/app/layer.zip: it has no manifest-md5"}
        });
        let failed = read(&body.to_string(), &HashMap::new(), Some(at(100)), at(190));
        assert_eq!(failed.uploads, ["s3://b/app/layer.zip"]);
        assert_eq!(failed.error_type, "MissingManifestMd5");
        assert_eq!(failed.attempts, Some(3));
        assert_eq!(failed.age_seconds, Some(90));
        assert!(failed.payload.is_some());

        let too_old = serde_json::json!({
            "requestContext": {"condition": "EventAgeExceeded", "approximateInvokeCount": 1},
            "requestPayload": {"Records": []}
        });
        let failed = read(&too_old.to_string(), &HashMap::new(), None, at(0));
        assert_eq!(failed.error_type, "EventAgeExceeded");
        assert!(failed.error_message.contains("EventAgeExceeded"));
    }

    #[test]
    fn the_rules_dead_letter_and_unreadable_messages_are_read() {
        let event = serde_json::json!({
            "detail-type": "Object Created", "source": "aws.s3", "region": "us-east-1",
            "detail": {"bucket": {"name": "b"}, "object": {"key": "app/layer.zip", "etag": "e"}, "reason": "PutObject"}
        });
        let code = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("SDK_CLIENT_ERROR")
            .build()
            .expect("an attribute");
        let attributes = HashMap::from([("ERROR_CODE".to_owned(), code)]);
        let failed = read(&event.to_string(), &attributes, None, at(0));
        assert_eq!(failed.error_type, "SDK_CLIENT_ERROR");
        assert_eq!(failed.uploads, ["s3://b/app/layer.zip"]);

        let unreadable = read("not json", &HashMap::new(), None, at(0));
        assert_eq!(unreadable.error_type, "Unreadable");
        assert!(unreadable.payload.is_none());
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(40), "40s");
        assert_eq!(age(302), "5m 2s");
        assert_eq!(age(2 * 3600 + 13 * 60), "2h 13m");
        assert_eq!(age(3 * 86_400 + 4 * 3600), "3d 4h");
    }
}
