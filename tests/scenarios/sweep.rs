//! The sweep (issue 34): an upload whose event never came is settled by
//! the next scheduled run, once, even when the late event comes at the same
//! time; what is settled, refused, or still within its event's time is left
//! alone without a call to Lambda; the deadline leaves the rest to the next
//! run.

use super::scene::*;
use layer_autopublish::domain::receipt::{receipt_key, Receipt};
use serde_json::json;

/// EventBridge's scheduled event, as `SweepSchedule`'s rule sends it.
fn scheduled() -> Value {
    json!({
        "version": "0", "id": "s1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-07T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": {}
    })
}

fn sweeping() -> Config {
    Config {
        artifacts_bucket: Some(BUCKET.into()),
        artifacts_prefix: Some("projects/".into()),
        ..Config::default()
    }
}

async fn sweep(scene: &Scene) -> Response {
    invoke(&scene.publisher_with(sweeping()), scheduled())
        .await
        .expect("swept")
}

fn lambda_calls(calls: &[Call]) -> Vec<&Call> {
    calls
        .iter()
        .filter(|c| {
            matches!(
                c.op,
                Op::ListLayerVersions | Op::PublishLayerVersion | Op::GetLayerVersion
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_upload_no_event_delivered_is_published_by_the_next_sweep() {
    let scene = Scene::new();
    scene.upload(LOCK_V1, "build 1");
    // Within its event's time, the sweep leaves it to the event.
    let early = sweep(&scene).await;
    assert!(early.results.is_empty());
    assert!(scene.versions().is_empty());

    scene.clock().advance(Duration::from_secs(11 * 60));
    let swept = sweep(&scene).await;
    assert_eq!(outcome(&swept), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );

    // Settled now: the next run makes no Lambda call.
    scene.aws.take_calls();
    let again = sweep(&scene).await;
    assert!(again.results.is_empty());
    let calls = scene.aws.take_calls();
    assert!(lambda_calls(&calls).is_empty(), "{calls:?}");
}

#[tokio::test(start_paused = true)]
async fn a_sweep_and_the_late_event_race_and_publish_once() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.clock().advance(Duration::from_secs(11 * 60));
    let sweeper = scene.publisher_with(sweeping());
    let publisher = scene.publisher();
    let (swept, late) = tokio::join!(invoke(&sweeper, scheduled()), invoke(&publisher, event));
    let outcomes: Vec<OutcomeKind> = [swept, late]
        .into_iter()
        .filter_map(|r| r.ok())
        .flat_map(|r| r.results.into_iter().map(|o| o.outcome))
        .collect();
    assert_eq!(scene.versions().len(), 1, "one version: {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OutcomeKind::Published)
            .count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_sweep_over_500_folders_with_nothing_pending_makes_no_lambda_call() {
    let scene = Scene::new();
    for n in 0..500 {
        let dir = format!("projects/app-{n:03}");
        let event = scene.upload_to(&dir, LOCK_V1, &format!("build {n}"));
        let upload = match event::parse(event).expect("an event") {
            event::Delivery::Direct(uploads) => uploads.into_iter().next().expect("an upload"),
            _ => unreachable!("an S3 notification"),
        };
        // Settled earlier: published, unchanged or refused.
        let (outcome, error_type) = match n % 3 {
            0 => ("published", None),
            1 => ("unchanged", None),
            _ => ("failed", Some("MissingManifestMd5")),
        };
        let receipt = Receipt {
            outcome: outcome.into(),
            upload: upload.s3_uri(),
            error_type: error_type.map(str::to_owned),
            attempt: Some(1),
            will_retry: Some(false),
            at: "2026-12-07T12:00:00.000+0000".into(),
            ..Receipt::default()
        };
        let key = receipt_key(&upload).expect("a receipt key");
        let body = serde_json::to_vec(&receipt).expect("JSON");
        scene.aws.put_object(BUCKET, &key, &body, &[], None);
    }
    scene.clock().advance(Duration::from_secs(60 * 60));
    scene.aws.take_calls();
    let swept = sweep(&scene).await;
    assert!(swept.results.is_empty());
    let calls = scene.aws.take_calls();
    assert!(lambda_calls(&calls).is_empty(), "no Lambda call");
    // One listing, and each receipt read once.
    assert_eq!(Scene::count(&calls, Op::GetObject, ".json"), 500);
    assert_eq!(Scene::count(&calls, Op::PublishLayerVersion, ""), 0);
    assert!(scene.versions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_leaves_the_rest_to_the_next_run() {
    let scene = Scene::new();
    scene.upload_to("projects/a", LOCK_V1, "build a");
    scene.clock().advance(Duration::from_secs(11 * 60));
    let publisher = scene.publisher_with(sweeping());
    let mut context = Context::default();
    // Less than a settle's time left.
    let deadline = scene.clock().now() + Duration::from_secs(10);
    context.deadline = deadline
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let swept = handle(&publisher, LambdaEvent::new(scheduled(), context))
        .await
        .expect("swept");
    assert!(swept.results.is_empty());
    assert!(scene.versions().is_empty(), "left for the next run");
    let next = sweep(&scene).await;
    assert_eq!(outcome(&next), OutcomeKind::Published);
}

#[tokio::test(start_paused = true)]
async fn a_sweep_without_a_bucket_says_which_variable_to_set() {
    let scene = Scene::new();
    let error = invoke(&scene.publisher(), scheduled())
        .await
        .expect_err("no bucket");
    assert_eq!(error.error_type, "InvalidEvent");
    assert!(
        error.error_message.contains("ARTIFACTS_BUCKET"),
        "{error:?}"
    );
}

/// An upload published before receipts existed (or whose receipt expired)
/// has none: its lock file is the folder's latest recorded one, so the
/// sweep leaves it without a call to Lambda.
#[tokio::test(start_paused = true)]
async fn an_upload_recorded_before_receipts_is_left_without_a_lambda_call() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.invoke(event.clone()).await.expect("published");
    let upload = match event::parse(event).expect("an event") {
        event::Delivery::Direct(uploads) => uploads.into_iter().next().expect("an upload"),
        _ => unreachable!("an S3 notification"),
    };
    let receipt = receipt_key(&upload).expect("a receipt key");
    scene.aws.delete_object(BUCKET, &receipt);
    scene.clock().advance(Duration::from_secs(60 * 60));
    scene.aws.take_calls();
    let swept = sweep(&scene).await;
    assert!(swept.results.is_empty());
    let calls = scene.aws.take_calls();
    assert!(lambda_calls(&calls).is_empty(), "{calls:?}");
    assert_eq!(scene.versions().len(), 1);
}
