//! Where uploads come from: the seed's metadata and versions, several folders
//! for one layer, allowed layers, a missing bucket.

use super::scene::*;

#[tokio::test(start_paused = true)]
async fn the_seeds_metadata_key_is_read() {
    let scene = Scene::new();
    let event = scene.upload_with(LOCK_V1, "build 1", "manifest_md5", None);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(response.results[0].manifest_md5, Some(md5(LOCK_V1)));
    assert!(scene.versions()[0].1.ends_with(&md5(LOCK_V1)));
}

#[tokio::test(start_paused = true)]
async fn an_event_for_a_bucket_that_does_not_exist_says_so() {
    let scene = Scene::new();
    let mut event = scene.upload(LOCK_V1, "build 1");
    event["Records"][0]["s3"]["bucket"]["name"] = "no-such-bucket".into();

    let error = scene.invoke(event).await.expect_err("no bucket");

    assert_eq!(error.error_type, "BucketNotFound");
    assert!(
        error.error_message.starts_with(
            "s3://no-such-bucket/projects/app/lambda/layer/layer.zip: the bucket no-such-bucket \
             does not exist"
        ),
        "{}",
        error.error_message
    );
}

/// The seed published version 1 of a poetry project (no marker; it keeps
/// `000001/poetry.lock`), and its upload names no lock file: with the
/// default `MANIFEST_NAME` the version is still recognised, and its missing
/// deployment record says what is known of it, not that this upload's
/// object was published.
#[tokio::test(start_paused = true)]
async fn a_seed_version_kept_under_its_build_tools_name_is_recognised_and_adopted() {
    let scene = Scene::new();
    let lock = "[[package]]\nname = \"boto3\"\nversion = \"1.35.0\"\n";
    let published = scene.aws.publish_by_hand(LAYER, "", &zip("seed build"));
    let kept = key("000001/poetry.lock");
    scene
        .aws
        .put_object(BUCKET, &kept, lock.as_bytes(), &[], None);
    let md5 = md5(lock);
    let bytes = zip("seed build again");
    let metadata = [("manifest_md5", md5.as_str())];
    let id = scene
        .aws
        .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, None);
    scene.clock().advance(Duration::from_secs(60));

    let response = scene
        .invoke(scene.event_for(&id, bytes.len()))
        .await
        .expect("unchanged");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "no duplicate");
    assert_eq!(result.manifest_key.as_deref(), Some(kept.as_str()));
    let record: Value =
        serde_json::from_str(&scene.text("000001/deployment.json").expect("recorded"))
            .expect("JSON");
    let expected = serde_json::json!({
        "outcome": "adopted",
        "layer_name": LAYER,
        "layer_version": 1,
        "layer_version_arn": published.version.arn,
        "description": "",
        "manifest_md5": md5,
        "manifest_key": kept,
        "code_sha256": code_sha256(&zip("seed build")),
        "published_at": "2026-11-23T12:00:00.000+0000",
        "adopted_at": "2026-11-23T12:01:00.000+0000",
    });
    assert_eq!(record, expected, "what is known, and nothing else");
}

/// Fault 5: after folder B publishes another lock file, a late duplicate of
/// folder A's event (its zip unchanged since) does not publish A's lock
/// file again; a new upload of it in A (a deliberate return to it) does.
#[tokio::test(start_paused = true)]
async fn a_late_duplicate_after_another_folder_published_does_not_publish_again() {
    let scene = Scene::new();
    let other = "projects/other/lambda/layer";
    let a = scene.upload(LOCK_V1, "build 1");
    assert_eq!(
        outcome(&scene.invoke(a.clone()).await.expect("v1")),
        OutcomeKind::Published
    );
    scene.clock().advance(Duration::from_secs(60));
    let b = scene.upload_to(other, LOCK_V2, "build 2");
    assert_eq!(
        outcome(&scene.invoke(b).await.expect("v2")),
        OutcomeKind::Published
    );
    scene.clock().advance(Duration::from_secs(60));

    let late = scene.invoke(a).await.expect("the late duplicate");

    let result = &late.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    assert_eq!(
        result.layer_version,
        Some(1),
        "the version it was published as"
    );
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("version 2"), "{reason}");
    assert_eq!(scene.versions().len(), 2, "{:?}", scene.versions());

    // The same lock file uploaded again in A, later: the user returns to it.
    scene.clock().advance(Duration::from_secs(60));
    let again = scene.upload(LOCK_V1, "build 1, rebuilt");
    let response = scene.invoke(again).await.expect("published");
    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 3);
}

/// Issue 12, many layers: an upload naming a layer outside ALLOWED_LAYERS is
/// refused once its HEAD tells the name, before any call on that layer and
/// any write; one inside the set (a prefix entry) publishes to the layer it
/// names.
#[tokio::test]
async fn a_layer_outside_the_allowed_set_is_refused_before_any_call_on_it() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(many_layers());
    let lock = "requests==2.32.3\n";
    let upload = |layer: &str| {
        let metadata = [
            ("manifest-md5", md5(lock)),
            ("layer-name", layer.to_owned()),
        ];
        let metadata: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
        scene
            .aws
            .put_object(BUCKET, &key("requirements.txt"), lock.as_bytes(), &[], None);
        let bytes = zip("build");
        let id = scene
            .aws
            .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, None);
        scene.event_for(&id, bytes.len())
    };

    let outside = upload("other-deps");
    scene.aws.take_record_calls();
    let refused = invoke(&publisher, outside).await.expect_err("refused");
    assert_eq!(refused.error_type, "LayerNotAllowed");
    assert!(refused.error_message.contains("other-deps"), "{refused:?}");
    assert!(refused.error_message.contains("deps,team-*"), "{refused:?}");
    // The zip's HEAD alone: a deployment serving several layers reads no
    // layer's versions before the HEAD names one (issue 31), and none of
    // a layer outside the set; nothing written.
    let calls = scene.aws.take_record_calls();
    let ops: Vec<Op> = calls.iter().map(|c| c.op).collect();
    assert_eq!(ops, [Op::HeadObject], "{calls:?}");
    assert!(scene.aws.versions("other-deps").is_empty());

    let inside = upload("team-data");
    let response = invoke(&publisher, inside).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.aws.versions("team-data").len(), 1);
}
