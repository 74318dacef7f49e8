//! Each upload's receipt (issue 34): what became of it, at a key CI knows
//! from its own upload, written after the record; each failed attempt of
//! one event counted on; and a receipt that cannot be written changes
//! nothing of the record's answer.

use super::scene::*;
use layer_autopublish::domain::receipt::{receipt_key, Receipt};

/// Lambda's context of one invocation: its request id (the same for
/// Lambda's retries of one event).
fn by(request_id: &str) -> Context {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context
}

async fn invoke_as(scene: &Scene, event: &Value, request_id: &str) -> Result<Response, Diagnostic> {
    handle(
        &scene.publisher(),
        LambdaEvent::new(event.clone(), by(request_id)),
    )
    .await
    .map_err(Diagnostic::from)
}

/// The receipt of the upload `event` reports.
fn receipt_of(scene: &Scene, event: &Value) -> Option<Receipt> {
    let upload = event::parse(event.clone()).ok().and_then(|d| match d {
        event::Delivery::Direct(uploads) => uploads.into_iter().next(),
        event::Delivery::Queue(_) | event::Delivery::Sweep => None,
    })?;
    let key = receipt_key(&upload)?;
    let body = scene.aws.object(BUCKET, &key)?;
    Some(serde_json::from_slice(&body).expect("a receipt"))
}

#[tokio::test(start_paused = true)]
async fn a_settled_upload_leaves_the_receipt_of_its_outcome() {
    let scene = Scene::new();
    let first = scene.upload(LOCK_V1, "build 1");
    invoke_as(&scene, &first, "req-1").await.expect("published");
    let receipt = receipt_of(&scene, &first).expect("a receipt");
    assert_eq!(receipt.outcome, "published");
    assert_eq!(receipt.layer_version, Some(1));
    assert_eq!(receipt.layer_version_arn.as_deref(), Some(arn(1).as_str()));
    assert_eq!(
        (receipt.attempt, receipt.will_retry),
        (None, None),
        "a settled receipt names no attempt"
    );
    assert_eq!(receipt.request_id, "req-1");
    assert!(receipt.upload.ends_with("/layer.zip"), "{receipt:?}");

    // A rebuild from the same lock file: its own receipt names the version
    // it matches; the first upload's stays as it was.
    let again = scene.upload(LOCK_V1, "build 1 again");
    invoke_as(&scene, &again, "req-2").await.expect("unchanged");
    let unchanged = receipt_of(&scene, &again).expect("a receipt");
    assert_eq!(unchanged.outcome, "unchanged");
    assert_eq!(unchanged.layer_version, Some(1));
    assert_eq!(receipt_of(&scene, &first), Some(receipt));
}

#[tokio::test(start_paused = true)]
async fn each_failed_attempt_of_one_event_counts_on_until_lambda_stops() {
    let scene = Scene::new();
    // No manifest-md5: refused, the same way each time.
    let event = scene.upload_with(LOCK_V1, "build 1", "other-key", None);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let failed = invoke_as(&scene, &event, "req-1")
            .await
            .expect_err("refused");
        assert_eq!(failed.error_type, "MissingManifestMd5");
        let receipt = receipt_of(&scene, &event).expect("a receipt");
        assert_eq!(receipt.outcome, "failed");
        assert_eq!(receipt.error_type.as_deref(), Some("MissingManifestMd5"));
        assert!(
            receipt
                .message
                .as_deref()
                .is_some_and(|m| m.contains("manifest-md5")),
            "what to fix: {receipt:?}"
        );
        seen.push((receipt.attempt, receipt.will_retry));
    }
    assert_eq!(
        seen,
        [
            (Some(1), Some(true)),
            (Some(2), Some(true)),
            (Some(3), Some(false))
        ],
        "Lambda's two retries, then the failed-events queue"
    );
    // A replay is another invocation: its first attempt.
    invoke_as(&scene, &event, "req-replay")
        .await
        .expect_err("refused");
    let replayed = receipt_of(&scene, &event).expect("a receipt");
    assert_eq!(
        (replayed.attempt, replayed.will_retry),
        (Some(1), Some(true))
    );
    // Run here (`layerctl invoke`: no request id), nothing retries it.
    scene.invoke(event.clone()).await.expect_err("refused");
    let local = receipt_of(&scene, &event).expect("a receipt");
    assert_eq!((local.attempt, local.will_retry), (Some(1), Some(false)));
}

#[tokio::test(start_paused = true)]
async fn a_receipt_that_cannot_be_written_leaves_the_record_as_it_was() {
    let scene = Scene::new();
    scene
        .aws
        .inject_always(Op::PutObject, "/.receipts/", Fault::FailBefore);
    let event = scene.upload(LOCK_V1, "build 1");
    let response = invoke_as(&scene, &event, "req-1").await.expect("published");
    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(receipt_of(&scene, &event), None);
    let calls = scene.aws.take_calls();
    let receipt_puts = Scene::count(&calls, Op::PutObject, ".json");
    assert!(receipt_puts >= 1, "it was tried: {calls:?}");
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_writes_no_receipt() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(Config {
        dry_run: true,
        ..Config::default()
    });
    let event = scene.upload(LOCK_V1, "build 1");
    handle(&publisher, LambdaEvent::new(event.clone(), by("req-1")))
        .await
        .expect("would publish");
    assert_eq!(receipt_of(&scene, &event), None);
}

/// Through an SQS queue, a failed message is delivered again by SQS (each
/// delivery its own invocation): its receipt says it will be retried.
#[tokio::test(start_paused = true)]
async fn a_queued_uploads_failure_says_sqs_delivers_it_again() {
    let scene = Scene::new();
    let event = scene.upload_with(LOCK_V1, "build 1", "other-key", None);
    let batch = serde_json::json!({"Records": [{
        "messageId": "m1", "receiptHandle": "r1", "body": event.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads",
        "awsRegion": "us-east-1"
    }]});
    let response = invoke_as(&scene, &batch, "req-sqs")
        .await
        .expect("a batch answer");
    let failures = response.batch_item_failures.expect("the batch's failures");
    assert_eq!(failures.len(), 1, "SQS delivers it again");
    let receipt = receipt_of(&scene, &event).expect("a receipt");
    assert_eq!(receipt.error_type.as_deref(), Some("MissingManifestMd5"));
    assert_eq!(receipt.will_retry, Some(true));
}
