//! Issue 21: a failure after a known publish hands the lease over, and the
//! next delivery of the upload finishes at once; others wait for it.

use super::scene::*;

/// Issue 21: every part on; a fault in any part after the publish (each
/// write failing before it applies, or applying and losing its answer; a
/// follower busy throughout; a region's publish refused) fails the record
/// and hands the lease over. The first retry, at once, takes it and
/// finishes: the pointer, the grant, the follower and the deletions end as
/// if nothing had failed, one version, and only the event may come twice
/// (at least once), with the same version.
#[tokio::test(start_paused = true)]
async fn a_fault_after_any_part_of_the_publish_is_finished_by_an_immediate_redelivery() {
    let parts = [
        (Op::PutParameter, ""),
        (Op::AddLayerVersionPermission, ""),
        (Op::UpdateFunctionConfiguration, ""),
        (Op::DeleteLayerVersion, ""),
        (Op::PutEvents, ""),
        (Op::CopyObject, "last-requirements.txt"),
        (Op::CopyObject, "000002/requirements.txt"),
        (Op::CopyObject, "artifacts-eu"),
        (Op::PublishLayerVersion, "eu-west-1:"),
        (Op::PutParameter, "eu-west-1:"),
        (Op::PutObject, "deployment.json"),
    ];
    let mut cases: Vec<(Op, &str, Fault, usize)> = Vec::new();
    for (op, target) in parts {
        // A region's publish is tried 3 times before the record fails.
        let times = if op == Op::PublishLayerVersion { 3 } else { 1 };
        cases.push((op, target, Fault::FailBefore, times));
        // A lost answer to the publish is found by its marker: no failure.
        if op != Op::PublishLayerVersion {
            cases.push((op, target, Fault::LoseAnswer, 1));
        }
    }
    cases.push((Op::UpdateFunctionConfiguration, "", Fault::Conflict, 4));
    for (op, target, fault, times) in cases {
        let case = format!("{op:?} {target} {fault:?}");
        let scene = replica_scene();
        let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
        scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
        scene.aws.create_function("api", &[arn(1)]);
        let config = Config {
            latest_parameter: with_pointer().latest_parameter,
            share_with: sharing("123456789012").share_with,
            followers: following("api").followers,
            keep_versions: Some(1),
            event_bus: Some("layers".into()),
            replicate_to: layer_autopublish::lifecycle::replicas::parse_list(
                "eu-west-1=artifacts-eu",
            )
            .expect("a region"),
            ..Config::default()
        };
        let publisher = scene.publisher_with(config);
        scene.clock().advance(Duration::from_secs(60));
        let event = scene.upload(LOCK_V1, "build 1");
        scene.aws.inject(op, target, fault, times);

        let failed = invoke(&publisher, event.clone()).await.expect_err(&case);
        assert!(scene.lease_handed_over(), "{case}: {failed:?}");
        let retry = invoke(&publisher, event).await;

        let retry = retry.unwrap_or_else(|e| panic!("{case}: the first retry failed: {e:?}"));
        // A lost answer to the last record's write (the deployment record,
        // a lock file copy) left nothing to finish: the retry ends unchanged.
        let last_record = op == Op::PutObject || target.ends_with("requirements.txt");
        let finished = fault == Fault::LoseAnswer && last_record;
        let expected = match finished {
            true => OutcomeKind::Unchanged,
            false => OutcomeKind::Published,
        };
        assert_eq!(outcome(&retry), expected, "{case}");
        assert_eq!(retry.results[0].layer_version, Some(2), "{case}");
        assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)), "{case}");
        assert_eq!(scene.aws.grants(LAYER, 2).len(), 1, "{case}");
        assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(2)]), "{case}");
        let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [2], "{case}");
        let eu = scene.aws.region("eu-west-1").versions(LAYER);
        assert_eq!(eu.len(), 1, "{case}: one version in the region");
        let events = scene.aws.events();
        assert!(matches!(events.len(), 1 | 2), "{case}: {events:?}");
        assert!(events.iter().all(|e| e.detail.contains(&arn(2))), "{case}");
        assert!(scene.text("000002/deployment.json").is_some(), "{case}");
        assert_eq!(
            scene.text("last-requirements.txt").as_deref(),
            Some(LOCK_V1),
            "{case}"
        );
        assert!(!scene.lease_held(), "{case}");
        assert_eq!(scene.lease_handed_over(), finished, "{case}");
    }
}

/// Issue 21: the pointer's write fails after the publish, leaving the lease
/// handed over; two deliveries of the same upload then race for it. One
/// takes it and finishes; the other, refused, waits and finds the version
/// complete. Neither answers `PublishInProgress`; one version.
#[tokio::test(start_paused = true)]
async fn two_deliveries_racing_for_a_handed_over_lease_finish_once() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;

    let first = tokio::spawn({
        let publisher = publisher.clone();
        let event = event.clone();
        async move { invoke(&publisher, event).await }
    });
    let second = invoke(&publisher, event).await.expect("the second");
    let first = first.await.expect("joined").expect("the first");

    let mut outcomes = [outcome(&first), outcome(&second)];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [OutcomeKind::Published, OutcomeKind::Unchanged]);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held() && !scene.lease_handed_over());
}

/// Issue 21: the delivery that took a handed-over lease is killed while
/// finishing (its write never answers). Nobody can tell dead from slow: the
/// lease it holds is waited out, and the first delivery after it expires
/// finishes; one version.
#[tokio::test(start_paused = true)]
async fn a_delivery_killed_after_taking_the_hand_over_is_waited_out_then_finished() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;
    scene.aws.inject(Op::PutParameter, POINTER, Fault::Hang, 1);

    let killed = tokio::time::timeout(Duration::from_secs(60), invoke(&publisher, event.clone()));
    assert!(
        killed.await.is_err(),
        "the invocation never ended by itself"
    );
    assert!(scene.lease_held(), "the killed delivery held it");

    waited_out_then_finished(&scene, &publisher, event).await;

    assert!(!scene.lease_held() && !scene.lease_handed_over());
}

/// Issue 21: a lease handed over to one upload's deliveries is not another
/// upload's to take: a different lock file from another folder waits for it
/// as for a held lease (`PublishInProgress` once its wait is over), and
/// publishes once the first upload's retry finished and released it.
#[tokio::test(start_paused = true)]
async fn another_upload_waits_for_a_lease_handed_over_to_the_first() {
    let scene = Scene::new();
    let (publisher, first) = handed_over_after_a_failed_pointer_write(&scene).await;
    let other = scene.upload_to("projects/other/layer", LOCK_V2, "build 2");

    let waited = invoke(&publisher, other.clone()).await.expect_err("waits");

    assert_eq!(waited.error_type, "PublishInProgress");
    assert!(
        waited.error_message.contains("handed over"),
        "{}",
        waited.error_message
    );
    assert_eq!(scene.versions().len(), 1, "nothing published meanwhile");

    let finished = invoke(&publisher, first).await.expect("finished");
    assert_eq!(outcome(&finished), OutcomeKind::Published);
    let next = invoke(&publisher, other).await.expect("published");
    assert_eq!(outcome(&next), OutcomeKind::Published);
    assert_eq!(next.results[0].layer_version, Some(2));
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)));
}

/// Issue 21: the read of a handed-over lease's body fails once (a 503): the
/// delivery does not take that for "handed to another upload" and wait out
/// its 20 s; it reads again at its next look, takes the lease and finishes.
#[tokio::test(start_paused = true)]
async fn a_failed_read_of_the_hand_over_is_read_again_at_the_next_look() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;
    scene
        .aws
        .inject(Op::GetObject, "deps.lease", Fault::FailBefore, 1);
    let started = scene.clock().now();

    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    let waited = scene
        .clock()
        .now()
        .duration_since(started)
        .unwrap_or_default();
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
}

/// Issue 21: the hand-over's own write fails (a 503 on the lease's PUT
/// after the pointer's write failed). The lease stays held, as a crashed
/// holder's: the first retry waits and answers `PublishInProgress`, and the
/// first delivery after it expires finishes; one version.
#[tokio::test(start_paused = true)]
async fn a_hand_over_that_cannot_be_written_leaves_the_lease_to_expire() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutParameter, POINTER, Fault::FailBefore, 1);
    // While the pointer's write fails, the next write of the lease (the
    // hand-over) is set to fail too.
    scene.aws.meanwhile(Op::PutParameter, POINTER, |aws| {
        aws.inject(Op::PutObject, "deps.lease", Fault::FailBefore, 1);
    });

    let failed = invoke(&publisher, event.clone())
        .await
        .expect_err("SSM failed");

    assert_eq!(failed.error_type, "SsmError");
    assert!(
        scene.lease_held() && !scene.lease_handed_over(),
        "still held"
    );

    waited_out_then_finished(&scene, &publisher, event).await;
}

/// A lease left held (not handed over) after version 1's pointer write
/// failed: a delivery at once waits it out and answers `PublishInProgress`;
/// the first after it expires finishes version 1, pointer and record.
async fn waited_out_then_finished(
    scene: &Scene, publisher: &Publisher<FakeAws, ManualClock>, event: Value,
) {
    let early = invoke(publisher, event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");

    scene.clock().advance(LEASE_TTL);
    let retry = invoke(publisher, event).await.expect("finished");

    assert_eq!(retry.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
}
