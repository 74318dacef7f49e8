//! The three ways an upload reaches the function, end to end on moto: S3
//! itself sends the event (a rule on EventBridge, a notification to an SQS
//! queue), the test takes it from the queue as Lambda would, and hands it
//! to the handler. The S3 notification invoking the function directly is
//! `tests/on_moto/`.

use crate::common::{md5_hex, world, Queue, World, REGION};
use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use layer_autopublish::OutcomeKind;
use serde_json::{json, Value};

const LOCK: &str = "requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6\n";

/// Uploads the lock file, then `{dir}/layer.zip` made from it.
async fn upload(w: &World, dir: &str, zip: &str, manifest_md5: Option<&str>) {
    w.put(&format!("{dir}/requirements.txt"), LOCK.as_bytes(), &[])
        .await;
    let metadata: Vec<(&str, &str)> = manifest_md5
        .map(|md5| ("manifest-md5", md5))
        .into_iter()
        .collect();
    w.upload_zip(dir, zip, &metadata).await;
}

/// The template's `LayerZipCreatedRule` pattern for this world's bucket
/// under `prefix`: S3's "Object Created" events for `…layer.zip` keys.
fn rule_pattern(bucket: &str, prefix: &str) -> String {
    json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket]},
            "object": {"key": [{"wildcard": format!("{prefix}*layer.zip")}]}
        }
    })
    .to_string()
}

/// The batch Lambda's SQS event source mapping hands the function for
/// `messages`.
fn lambda_batch(queue: &Queue, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Issue 12, existing buckets: the bucket's EventBridge notifications on
/// (the command in docs/deploying.md), the template's rule on the default bus (here
/// with a queue as its target, to catch what it matched): only the zip's
/// event matches, and it publishes, with the key as S3 sent it.
#[tokio::test]
async fn an_eventbridge_object_created_event_publishes() {
    let w = world("eventbridge").await;
    w.s3.put_bucket_notification_configuration()
        .bucket(&w.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .event_bridge_configuration(EventBridgeConfiguration::builder().build())
                .build(),
        )
        .send()
        .await
        .expect("EventBridge notifications on");
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let queue = w.queue("bridged").await;
    let rule = format!("zip-created-{}", w.layer);
    events
        .put_rule()
        .name(&rule)
        .event_pattern(rule_pattern(&w.bucket, "projects/"))
        .send()
        .await
        .expect("a rule on the default bus");
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue.arn)
                .build()
                .expect("a target"),
        )
        .send()
        .await
        .expect("the queue is the rule's target");

    // A key with a space and a plus: EventBridge carries it as is.
    let dir = "projects/my app+c/layer";
    upload(&w, dir, "build 1", Some(&md5_hex(LOCK.as_bytes()))).await;
    upload(&w, "elsewhere/layer", "build 1", None).await;

    let bodies = queue.bodies().await;
    assert_eq!(bodies.len(), 1, "only the zip under the prefix: {bodies:?}");
    assert_eq!(bodies[0]["detail-type"], "Object Created");
    assert_eq!(
        bodies[0]["detail"]["object"]["key"],
        format!("{dir}/layer.zip")
    );
    let response = w.invoke(bodies[0].clone()).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(response.results[0].key, format!("{dir}/layer.zip"));
    assert_eq!(response.batch_item_failures, None);
    assert_eq!(w.versions().await.len(), 1);
}

/// Issue 12, S3 notifications through SQS: the queue gets S3's test message
/// and one notification per zip; one message's upload is refused (no
/// `manifest-md5`), so only that message is reported failed, and the others
/// are done.
#[tokio::test]
async fn an_sqs_batch_reports_only_its_failed_messages() {
    let w = world("sqs-batch").await;
    let queue = w.queue("uploads").await;
    let suffix = FilterRule::builder()
        .name(FilterRuleName::Suffix)
        .value("layer.zip")
        .build();
    w.s3.put_bucket_notification_configuration()
        .bucket(&w.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(&queue.arn)
                        .events(Event::S3ObjectCreated)
                        .filter(
                            NotificationConfigurationFilter::builder()
                                .key(S3KeyFilter::builder().filter_rules(suffix).build())
                                .build(),
                        )
                        .build()
                        .expect("a queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("notifications to the queue");
    upload(
        &w,
        "projects/good/layer",
        "build 1",
        Some(&md5_hex(LOCK.as_bytes())),
    )
    .await;
    upload(&w, "projects/bad/layer", "build 1", None).await;

    let messages = queue.receive().await;
    assert_eq!(messages.len(), 3, "S3's test message and two notifications");
    let bad = messages
        .iter()
        .find(|m| m.body().unwrap_or_default().contains("projects%2Fbad%2F"))
        .and_then(|m| m.message_id())
        .expect("the bad upload's message")
        .to_owned();

    let response = w
        .invoke(lambda_batch(&queue, &messages))
        .await
        .expect("a batch answers with its failures, not an error");

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .flatten()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [bad.as_str()]);
    assert_eq!(response.results.len(), 1);
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(response.results[0].key, "projects/good/layer/layer.zip");
    assert_eq!(w.versions().await.len(), 1);
    // What Lambda reads: `batchItemFailures[].itemIdentifier`.
    let wire = serde_json::to_value(&response).expect("JSON");
    assert_eq!(
        wire["batchItemFailures"],
        json!([{ "itemIdentifier": bad }])
    );
}
