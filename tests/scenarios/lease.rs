//! One writer per layer: concurrent deliveries, leases held, expired, refused, or
//! written with their answer lost (recognised as the invocation's own).

use super::scene::*;

#[tokio::test(start_paused = true)]
async fn concurrent_deliveries_of_one_upload_publish_one_version() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");

    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let publisher = scene.publisher();
            let event = event.clone();
            tokio::spawn(async move { invoke(&publisher, event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        let response = delivery.await.unwrap().expect("every delivery succeeds");
        outcomes.push(outcome(&response));
    }

    let published = outcomes
        .iter()
        .filter(|o| **o == OutcomeKind::Published)
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, OutcomeKind::Published | OutcomeKind::Unchanged)));
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "lease released");
    let calls = scene.aws.take_record_calls();
    let lease_writes = Scene::count(&calls, Op::PutObject, "deps.lease");
    assert!(
        lease_writes > 2,
        "the deliveries raced for the lease (one take, one release, refusals): {lease_writes}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_of_a_crashed_holder_is_taken_over() {
    let scene = Scene::new();
    scene.put_held_lease("crashed");
    let event = scene.upload(LOCK_V1, "build 1");
    scene.clock().advance(LEASE_TTL);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held());
    // Whatever the crashed holder published is read: the versions are read
    // again after the lease was read (beside its take), before publishing.
    let calls = scene.aws.take_record_calls();
    let at = |op: Op, suffix: &str| {
        calls
            .iter()
            .position(|c| c.op == op && c.target.ends_with(suffix))
    };
    let lease_read = at(Op::ListObjectsV2, "deps.lease").expect("read");
    let publish = at(Op::PublishLayerVersion, "deps").expect("published");
    assert!(
        calls[lease_read..publish]
            .iter()
            .any(|c| c.op == Op::ListLayerVersions),
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_lease_makes_the_event_fail_for_a_retry_and_changes_nothing() {
    let scene = Scene::new();
    scene.put_held_lease("another-invocation");
    let event = scene.upload(LOCK_V1, "build 1");
    let before = scene.aws.record_keys(BUCKET);
    let started = scene.clock().now();

    let error = scene.invoke(event).await.expect_err("lease held");

    assert_eq!(error.error_type, "PublishInProgress");
    assert!(error.error_message.contains("another-invocation"));
    assert!(error
        .error_message
        .contains("s3://artifacts/layer-autopublish/leases/deps.lease"));
    let waited = scene.clock().now().duration_since(started).unwrap();
    assert!(
        waited >= Duration::from_secs(20) && waited < Duration::from_secs(22),
        "waited {waited:?} on the clock, looking again between pauses"
    );
    let calls = scene.aws.take_record_calls();
    assert!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease") > 5,
        "looked at the lease again and again: {calls:?}"
    );
    assert_eq!(
        Scene::count(&calls, Op::PutObject, ""),
        0,
        "no write at all"
    );
    assert!(scene.versions().is_empty());
    assert_eq!(scene.aws.record_keys(BUCKET), before);
}

#[tokio::test(start_paused = true)]
async fn a_lease_released_during_the_wait_is_taken_and_the_upload_published() {
    let scene = Scene::new();
    scene.put_held_lease("another-invocation");
    let event = scene.upload(LOCK_V1, "build 1");
    // The other holder releases its lease while this invocation waits:
    // after its first look at the lease, before its second.
    scene.aws.meanwhile(Op::ListObjectsV2, "deps.lease", |aws| {
        aws.meanwhile(Op::ListObjectsV2, "deps.lease", |aws| {
            let released = br#"{"released_by":"another-invocation"}"#;
            aws.put_object(BUCKET, LEASE, released, &[], None);
        });
    });

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease"),
        2,
        "looked again after the pause: {calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_ahead_of_the_lease_is_read_again_when_needed() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // The lease is read ahead, beside the folder (a publish is likely):
    // that read fails, and is made again once the plan says to write.
    scene
        .aws
        .inject(Op::ListObjectsV2, "deps.lease", Fault::FailBefore, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease"),
        2,
        "{calls:?}"
    );
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn a_refused_lease_write_is_retried_and_the_upload_published() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::Conflict, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    let calls = scene.aws.take_record_calls();
    // Refused, taken, released.
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        3,
        "{calls:?}"
    );
    assert_eq!(scene.versions().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_cannot_be_taken_ends_within_the_wait() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject_always(Op::PutObject, "deps.lease", Fault::Conflict);

    let error = scene.invoke(event).await.expect_err("no lease");

    assert_eq!(error.error_type, "PublishInProgress");
    let calls = scene.aws.take_record_calls();
    assert!(
        Scene::count(&calls, Op::PutObject, "deps.lease") > 5,
        "{calls:?}"
    );
    assert!(scene.versions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_delivery_during_a_slow_publish_waits_for_it_and_finds_the_lock_file_published() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    let slow = Fault::Slow(Duration::from_secs(15));
    scene.aws.inject(Op::PublishLayerVersion, "", slow, 1);

    let first = tokio::spawn({
        let publisher = scene.publisher();
        let event = event.clone();
        async move { invoke(&publisher, event).await }
    });
    let second = invoke(&scene.publisher(), event).await.expect("waited");
    let first = first.await.unwrap().expect("published");

    let mut outcomes = [outcome(&first), outcome(&second)];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [OutcomeKind::Published, OutcomeKind::Unchanged]);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_record_calls();
    assert!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease") > 3,
        "the other delivery looked again while the publish was in flight: {calls:?}"
    );
}

/// Issue 10, fault 2: S3 applied the lease write and the answer was lost.
#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_the_lease_write_is_recognised_as_its_own_lease() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::LoseAnswer, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "released");
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        2,
        "the lost take, then the release; no second take: {calls:?}"
    );
}

/// Issue 10, fault 2: the lease write applied, its answer was lost, and
/// the SDK's retry of it got 412 against the function's own lease.
#[tokio::test(start_paused = true)]
async fn a_lease_write_refused_on_retry_after_applying_is_recognised_as_its_own() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    let started = scene.clock().now();
    let fault = Fault::AppliedThenRefused;
    scene.aws.inject(Op::PutObject, "deps.lease", fault, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "released");
    let waited = scene.clock().now().duration_since(started).unwrap();
    assert!(
        waited < Duration::from_secs(1),
        "no wait on its own lease: {waited:?}"
    );
}

/// In a KMS-encrypted bucket no ETag is an MD5: lock files are read, and a
/// lease whose write lost its answer is recognised by the holder it names.
#[tokio::test(start_paused = true)]
async fn in_a_kms_bucket_a_lost_lease_answer_is_recognised_by_its_holder() {
    let scene = Scene::new();
    scene.aws.encrypt_with_kms(BUCKET);
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::LoseAnswer, 1);

    let response = scene.invoke(event.clone()).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::GetObject, "deps.lease"),
        1,
        "the holder read once: {calls:?}"
    );
    assert!(
        Scene::count(&calls, Op::GetObject, "requirements.txt") >= 1,
        "lock file read, not its ETag"
    );

    let again = scene.invoke(event).await.expect("unchanged");
    assert_eq!(outcome(&again), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1);
}

/// Fault 5: the guarantee is per layer. Two folders whose uploads name the
/// same layer and carry the same lock file, delivered at once (each twice):
/// one version.
#[tokio::test(start_paused = true)]
async fn two_folders_with_one_lock_file_for_one_layer_at_once_publish_one_version() {
    let scene = Scene::new();
    let other = "projects/other/lambda/layer";
    let events = [
        scene.upload(LOCK_V1, "build 1"),
        scene.upload_to(other, LOCK_V1, "build 1 elsewhere"),
    ];

    let deliveries: Vec<_> = events
        .iter()
        .flat_map(|event| [event.clone(), event.clone()])
        .map(|event| {
            let publisher = scene.publisher();
            tokio::spawn(async move { invoke(&publisher, event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        let response = delivery.await.unwrap().expect("every delivery succeeds");
        outcomes.push(outcome(&response));
    }

    assert_eq!(scene.versions().len(), 1, "{outcomes:?}");
    let published = outcomes
        .iter()
        .filter(|o| **o == OutcomeKind::Published)
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(!scene.lease_held());
}
