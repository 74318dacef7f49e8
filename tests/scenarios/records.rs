//! A crash or a failed write between the publish and its records: what the
//! retry finds and finishes.

use super::scene::*;

/// The process dies while writing `deployment.json` after the publish: the
/// call never answers and the invocation is dropped, as Lambda's timeout does.
#[tokio::test(start_paused = true)]
async fn a_crash_after_the_publish_keeps_the_lease_and_a_later_retry_repairs() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::Hang, 1);

    let run = scene.invoke(event.clone());
    let crashed = tokio::time::timeout(Duration::from_secs(60), run).await;

    assert!(crashed.is_err(), "the invocation never ended by itself");
    assert_eq!(scene.versions().len(), 1, "the publish itself happened");
    assert!(scene.text("000001/deployment.json").is_none());
    assert!(scene.lease_held(), "nobody released it");
    let early = scene.invoke(event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");

    scene.clock().advance(LEASE_TTL);
    let retry = scene.invoke(event).await.expect("retried");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "no second version");
    assert!(scene.text("000001/deployment.json").is_some(), "repaired");
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_write_after_the_publish_hands_the_lease_to_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::FailBefore, 1);

    let error = scene.invoke(event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "S3Error");
    assert!(
        error.error_message.contains("deployment.json"),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.lease_handed_over(), "handed to the next delivery");

    // Lambda's first retry, before the lease would have expired.
    let retry = scene.invoke(event).await.expect("finished at once");

    assert_eq!(
        outcome(&retry),
        OutcomeKind::Published,
        "it finishes the publish"
    );
    assert_eq!(retry.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    let record: Value =
        serde_json::from_str(&scene.text("000001/deployment.json").expect("written"))
            .expect("JSON");
    assert_eq!(record["outcome"], "published", "its publish's, not adopted");
    assert!(record["source_etag"].is_string(), "{record}");
    assert!(
        !scene.lease_held() && !scene.lease_handed_over(),
        "released"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_a_record_write_is_found_complete_by_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::LoseAnswer, 1);

    let error = scene.invoke(event.clone()).await.expect_err("answer lost");

    assert_eq!(error.error_type, "S3Error");
    assert!(
        scene.text("000001/deployment.json").is_some(),
        "the write stood"
    );
    assert!(
        scene.lease_handed_over(),
        "the function could not know: it handed the lease over"
    );

    let retry = scene.invoke(event).await.expect("retried at once");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deployment.json"),
        1,
        "nothing left to repair: {calls:?}"
    );
    // Nothing to finish: the retry ends before the lease, which is left to
    // expire (another upload meanwhile waits for it, as for a held one).
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        2,
        "the first delivery's take and hand-over, nothing by the retry: {calls:?}"
    );
}

/// Issue 13: the lock file's copies and `deployment.json` are written at
/// once. A copy that fails does not hold the record back; the record fails
/// keeping the lease, and the retry, finding the version's record, writes
/// only the missing copy.
#[tokio::test(start_paused = true)]
async fn a_failed_lock_file_copy_beside_the_record_is_made_by_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.inject(
        Op::CopyObject,
        "last-requirements.txt",
        Fault::FailBefore,
        1,
    );

    let error = scene.invoke(event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "S3Error");
    assert!(scene.text("000001/deployment.json").is_some());
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(scene.text("last-requirements.txt").is_none());
    assert!(
        scene.lease_handed_over(),
        "a version exists without all its records"
    );

    scene.aws.take_record_calls();
    let response = scene.invoke(event).await.expect("repaired");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::CopyObject, ""),
        1,
        "only the missing copy: {calls:?}"
    );
    assert!(!scene.lease_held() && !scene.lease_handed_over());
}
