//! `REPLICATE_TO`: one version per lock file in every region, whatever fails.

use super::scene::*;

/// Issue 12, other regions: after the home publish, each region gets its
/// version of the same zip (copied to its bucket, carrying the same marker,
/// its own pointer), and the record names them all; the next upload of the
/// same lock file costs nothing in any region.
#[tokio::test]
async fn each_region_gets_the_version_and_the_record_names_them_all() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");

    let response = invoke(&publisher, event)
        .await
        .expect("published everywhere");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    for (region, bucket) in [
        ("eu-west-1", "artifacts-eu"),
        ("ap-south-1", "artifacts-ap"),
    ] {
        let there = scene.aws.region(region);
        assert_eq!(there.versions(LAYER), [(1, marker.clone())], "{region}");
        assert_eq!(
            scene.aws.object(bucket, &key("publish-source.zip")),
            Some(zip("build 1")),
            "{region} published from a copy in its own bucket"
        );
        let replica = result
            .replicas
            .iter()
            .find(|r| r.region == region)
            .expect("a replica per region");
        assert_eq!(replica.outcome, "published");
        assert_eq!(
            there.parameter(POINTER).as_deref(),
            Some(replica.layer_version_arn.as_str())
        );
    }
    let record: serde_json::Value =
        serde_json::from_str(&scene.text("000001/deployment.json").expect("recorded")).unwrap();
    assert_eq!(record["replicas"].as_array().map(Vec::len), Some(2));
    assert_eq!(scene.versions().len(), 1, "one version at home");

    scene.aws.take_record_calls();
    let again = scene.upload(LOCK_V1, "build 2");
    let response = invoke(&publisher, again).await.expect("unchanged");
    assert_eq!(response.results[0].outcome, OutcomeKind::Unchanged);
    let calls = scene.aws.take_record_calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.target.contains("eu-west-1:") || c.target.contains("ap-south-1:")),
        "no call in another region once recorded: {calls:?}"
    );
}

/// Issue 12, a region that fails: the others are done, the record fails
/// keeping the lease, and the redelivery publishes only where the lock file
/// is missing: one version per region in the end.
#[tokio::test]
async fn a_failed_region_is_published_by_the_first_retry_and_only_there() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "ap-south-1:", Fault::FailBefore, 3);

    let failed = invoke(&publisher, event.clone())
        .await
        .expect_err("ap failed");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed.error_message.contains("ap-south-1: LambdaError"),
        "{failed:?}"
    );
    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert!(scene.aws.region("ap-south-1").versions(LAYER).is_empty());
    assert!(scene.text("000001/deployment.json").is_none());
    assert!(scene.lease_handed_over(), "no publish pending: handed over");

    let response = invoke(&publisher, event).await.expect("finished");

    let result = &response.results[0];
    let outcome_in = |region: &str| {
        result
            .replicas
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.outcome.clone())
    };
    assert_eq!(outcome_in("eu-west-1").as_deref(), Some("unchanged"));
    assert_eq!(outcome_in("ap-south-1").as_deref(), Some("published"));
    for region in ["eu-west-1", "ap-south-1"] {
        assert_eq!(
            scene.aws.region(region).versions(LAYER).len(),
            1,
            "{region}"
        );
    }
    assert_eq!(scene.versions().len(), 1);
    let record = scene.text("000001/deployment.json").expect("recorded");
    assert!(record.contains("ap-south-1"), "{record}");
}

/// Issue 12, a replica's publish that applies and loses its answer is found
/// by its marker in that region, not published twice.
#[tokio::test]
async fn a_replica_publish_that_lost_its_answer_is_not_sent_again() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "eu-west-1:", Fault::LoseAnswer, 1);

    let response = invoke(&publisher, event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert_eq!(scene.aws.region("ap-south-1").versions(LAYER).len(), 1);
}

/// Issue 12: in an unversioned bucket, a zip overwritten after the home
/// publish cannot be copied to a region (its copy is pinned to the checked
/// ETag): that region fails as a zip overwritten after its event, not as a
/// bug of the function's.
#[tokio::test]
async fn a_zip_overwritten_before_its_copy_to_a_region_fails_that_region_plainly() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.meanwhile(Op::PublishLayerVersion, "deps", |aws| {
        let v2 = md5(LOCK_V2);
        let metadata = [("manifest-md5", v2.as_str())];
        aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
    });

    let failed = invoke(&publisher, event).await.expect_err("no copy");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed.error_message.contains("eu-west-1: LayerZipNotFound"),
        "{}",
        failed.error_message
    );
    assert!(
        !failed.error_message.contains("bug"),
        "{}",
        failed.error_message
    );
    assert!(scene.aws.region("eu-west-1").versions(LAYER).is_empty());
    assert_eq!(
        scene.versions().len(),
        1,
        "home published from its own copy"
    );
}

/// Issue 21: a region's `PublishLayerVersion` gets no answer and no version
/// shows there while the record looks: that publish may still apply, so the
/// lease is kept until it expires, not handed over (a retry at once could
/// publish the region twice). The first delivery after it finds the
/// region's version, late, and publishes nothing more anywhere.
#[tokio::test(start_paused = true)]
async fn a_regions_unanswered_publish_keeps_the_lease_instead_of_handing_it_over() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "eu-west-1:", Fault::NoAnswer, 1);

    let failed = invoke(&publisher, event.clone())
        .await
        .expect_err("pending");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed
            .error_message
            .contains("eu-west-1: PublishUnconfirmed"),
        "{failed:?}"
    );
    assert!(
        scene.lease_held() && !scene.lease_handed_over(),
        "kept, not handed over"
    );
    let early = invoke(&publisher, event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");
    // Lambda applies the abandoned call in the region.
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene
        .aws
        .region("eu-west-1")
        .publish_by_hand(LAYER, &marker, &zip("build 1"));
    scene.clock().advance(LEASE_TTL);

    invoke(&publisher, event).await.expect("finished");

    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert_eq!(scene.aws.region("ap-south-1").versions(LAYER).len(), 1);
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.text("000001/deployment.json").is_some());
}
