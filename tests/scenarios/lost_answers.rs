//! `PublishLayerVersion` (and the calls around it) failing before applying,
//! applying with its answer lost, or never answering: never sent again blind.

use super::scene::*;

/// Issue 10, fault 1: Lambda applied the publish and the answer was lost.
#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_the_publish_finds_the_version_by_its_marker_and_records_it() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::LoseAnswer, 1);

    let response = scene.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(result.code_sha256, Some(code_sha256(&zip("build 1"))));
    assert_eq!(scene.versions().len(), 1, "not published twice");
    assert!(scene.text("000001/deployment.json").is_some());
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
}

/// A 503 before Lambda applied the publish: nothing carries the marker, so
/// it is published again, once.
#[tokio::test(start_paused = true)]
async fn a_publish_that_failed_before_applying_is_published_again_after_a_look() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::FailBefore, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::PublishLayerVersion, ""),
        2,
        "{calls:?}"
    );
}

/// A throttled publish was refused before applying: it is sent again after
/// a pause no shorter than the second Lambda asks for, with no look for a
/// version in between.
#[tokio::test(start_paused = true)]
async fn a_throttled_publish_is_sent_again_after_a_pause_without_a_look() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.take_record_calls();
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::Throttle, 2);
    let clock = scene.clock();
    let before = clock.now();

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(response.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    let lambda: Vec<Op> = calls
        .iter()
        .map(|c| c.op)
        .filter(|op| matches!(op, Op::PublishLayerVersion | Op::ListLayerVersions))
        .collect();
    let first = lambda.iter().position(|op| *op == Op::PublishLayerVersion);
    assert_eq!(
        &lambda[first.unwrap_or_default()..],
        [Op::PublishLayerVersion; 3],
        "{calls:?}"
    );
    let paused = clock.now().duration_since(before).unwrap_or_default();
    assert!(
        paused >= Duration::from_secs(2) && paused <= Duration::from_secs(2 + 1 + 2),
        "two pauses of 1 s asked, plus jitter: {paused:?}"
    );
    assert!(!scene.lease_held());
}

/// Throttled until the record's time runs short (the deadline less its
/// margin): the record fails `Throttled`, saying which call and how long it
/// waited; nothing published, the lease released for Lambda's retry.
#[tokio::test(start_paused = true)]
async fn a_publish_throttled_until_the_time_runs_short_fails_throttled_releasing_the_lease() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject_always(Op::PublishLayerVersion, "", Fault::Throttle);
    let clock = scene.clock();
    let before = clock.now();

    let error = scene.invoke(event).await.unwrap_err();

    assert_eq!(error.error_type, "Throttled", "{error:?}");
    let message = &error.error_message;
    assert!(
        message.contains("PublishLayerVersion on deps failed: TooManyRequestsException"),
        "{message}"
    );
    assert!(message.contains("attempts over"), "{message}");
    // The function's timeout is assumed (120 s) less the 20 s margin.
    let took = clock.now().duration_since(before).unwrap_or_default();
    assert!(
        took > Duration::from_secs(90) && took <= Duration::from_secs(100),
        "{took:?}"
    );
    let calls = scene.aws.take_record_calls();
    assert!(Scene::count(&calls, Op::PublishLayerVersion, "") > 20);
    assert!(scene.versions().is_empty());
    assert!(!scene.lease_held());
}

/// `PublishLayerVersion` got no answer (the SDK's timeout abandoned it) and
/// Lambda applies it late, after the function has looked and found no
/// version: sending it again would give two versions. The record fails
/// keeping the lease; the retry after the lease expires finds the version.
#[tokio::test(start_paused = true)]
async fn a_publish_without_an_answer_that_applies_late_is_never_sent_again() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::NoAnswer, 1);

    let error = scene.invoke(event.clone()).await.expect_err("no answer");

    assert_eq!(error.error_type, "PublishUnconfirmed");
    assert!(
        error.error_message.contains("may still apply"),
        "{}",
        error.error_message
    );
    let calls = scene.aws.take_record_calls();
    assert_eq!(Scene::count(&calls, Op::PublishLayerVersion, ""), 1);
    assert!(scene.lease_held(), "kept until it expires");
    // Lambda applies the abandoned call now.
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene.aws.publish_by_hand(LAYER, &marker, &zip("build 1"));
    scene.clock().advance(LEASE_TTL);

    let retry = scene.invoke(event).await.expect("the retry records it");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "{:?}", scene.versions());
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held());
}

/// The copy Lambda is to take from fails (before applying, or applied with
/// its answer lost): nothing is published, the lease is released, and the
/// retry copies again and publishes once.
#[tokio::test(start_paused = true)]
async fn a_failed_copy_of_the_publish_source_publishes_nothing_until_the_retry() {
    for fault in [Fault::FailBefore, Fault::LoseAnswer] {
        let scene = Scene::new();
        let event = scene.upload(LOCK_V1, "build 1");
        scene
            .aws
            .inject(Op::CopyObject, "publish-source.zip", fault, 1);

        let error = scene.invoke(event.clone()).await.expect_err("copy failed");

        assert_eq!(error.error_type, "S3Error", "{fault:?}");
        assert!(scene.versions().is_empty(), "{fault:?}");
        assert!(
            !scene.lease_held(),
            "{fault:?}: nothing published, released"
        );

        let retry = scene.invoke(event).await.expect("retried");

        assert_eq!(outcome(&retry), OutcomeKind::Published, "{fault:?}");
        assert_eq!(scene.versions().len(), 1, "{fault:?}");
    }
}

/// Issue 13: the versions read at the same time as the HEAD are a guess; a
/// guess that failed (or one that hung until its timeout and failed) is
/// read again by the first look, and the record goes on.
#[tokio::test]
async fn a_failed_read_of_the_versions_beside_the_head_is_read_again() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::ListLayerVersions, "", Fault::FailBefore, 1);
    scene.aws.take_record_calls();

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    let first_three: Vec<Op> = calls.iter().take(3).map(|c| c.op).collect();
    assert_eq!(
        first_three,
        [Op::ListLayerVersions, Op::HeadObject, Op::ListLayerVersions],
        "the guess, the HEAD, the versions read again: {calls:?}"
    );
}

/// Issue 31: in a deployment serving several layers, the versions are read
/// once the HEAD names the layer, with no guess to fall back on. That read
/// failing (a throttle, before applying) fails the record before anything
/// is written or held; Lambda's retry publishes once.
#[tokio::test]
async fn a_failed_read_of_the_versions_after_the_head_fails_holding_nothing() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(many_layers());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::ListLayerVersions, "", Fault::FailBefore, 1);
    scene.aws.take_record_calls();

    let error = invoke(&publisher, event.clone())
        .await
        .expect_err("the read failed");

    assert_eq!(error.error_type, "LambdaError", "{error:?}");
    let ops: Vec<Op> = scene.aws.take_record_calls().iter().map(|c| c.op).collect();
    assert_eq!(ops, [Op::HeadObject, Op::ListLayerVersions]);
    assert!(!scene.lease_held());
    assert!(scene.versions().is_empty());

    let retry = invoke(&publisher, event).await.expect("published");
    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
}

/// Issue 21: `PublishLayerVersion` got no answer, and Lambda applies it a
/// few seconds later. The invocation never sends it again: it looks for the
/// marker again, with backoff, finds the version and records it, all in the
/// same invocation.
#[tokio::test(start_paused = true)]
async fn a_publish_without_an_answer_that_applies_soon_is_found_in_the_same_invocation() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::NoAnswer, 1);
    let run = tokio::spawn({
        let publisher = scene.publisher();
        async move { invoke(&publisher, event).await }
    });
    // Lambda applies the abandoned call 5 s later.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene.aws.publish_by_hand(LAYER, &marker, &zip("build 1"));

    let response = run.await.expect("joined").expect("found");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(response.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    assert_eq!(Scene::count(&calls, Op::PublishLayerVersion, ""), 1);
    assert!(
        Scene::count(&calls, Op::ListLayerVersions, "") >= 4,
        "looked again: {calls:?}"
    );
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held());
}
