//! What reaches the function: keys that are not a layer zip, removals, encoded
//! keys, several records in one event, payloads that are no S3 event.

use super::support::*;

#[tokio::test]
async fn keys_other_than_layer_zip_are_ignored() {
    let w = world("ignored").await;
    w.put(&key("requirements.txt"), LOCK_V1.as_bytes(), &[])
        .await;
    let mut event = sample("put-not-a-zip.json");
    set_object(
        &mut event["Records"][0],
        &w.bucket,
        &key("requirements.txt"),
        None,
    );
    let before = w.record_keys().await;

    let response = w.invoke(event).await.expect("ignored");

    assert_eq!(response.results[0].outcome, OutcomeKind::Ignored);
    assert_eq!(response.results[0].layer_version, None);
    assert!(w.versions().await.is_empty());
    assert_eq!(w.record_keys().await, before, "nothing written");
}

#[tokio::test]
async fn object_removed_events_are_ignored() {
    let w = world("removed").await;
    let mut event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();

    let response = w.invoke(event).await.expect("ignored");

    assert_eq!(response.results[0].outcome, OutcomeKind::Ignored);
    assert!(w.versions().await.is_empty());
}

#[tokio::test]
async fn a_key_with_spaces_is_decoded() {
    let w = world("spaces").await;
    // The sample's key is URL-encoded as S3 sends it: "projects/my+app/…".
    let mut event = sample("put-layer-zip-key-with-spaces.json");
    let dir = "projects/my app/lambda/layer";
    let uploaded = w.upload(dir, "requirements.txt", LOCK_V1, "build 1").await;
    let record = &mut event["Records"][0];
    record["s3"]["bucket"]["name"] = w.bucket.clone().into();
    record["s3"]["object"]["eTag"] = uploaded["Records"][0]["s3"]["object"]["eTag"].clone();
    assert_eq!(
        record["s3"]["object"]["key"],
        "projects/my+app/lambda/layer/layer.zip"
    );

    let response = w.invoke(event).await.expect("published");

    assert_eq!(response.results[0].key, format!("{dir}/layer.zip"));
    assert_eq!(response.results[0].layer_version, Some(1));
    w.assert_text(&format!("{dir}/000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&format!("{dir}/last-requirements.txt"), LOCK_V1)
        .await;
}

#[tokio::test]
async fn a_zip_that_is_gone_is_reported() {
    let w = world("gone").await;
    let event = w.event(&key("layer.zip"), Some("0123456789abcdef0123456789abcdef"));

    let error = w.invoke(event).await.expect_err("not found");

    assert_eq!(error.error_type, "LayerZipNotFound");
    assert!(error
        .error_message
        .contains(&format!("s3://{}/{}", w.bucket, key("layer.zip"))));
}

#[tokio::test]
async fn an_event_for_an_overwritten_zip_is_superseded() {
    let w = world("superseded").await;
    let stale = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let fresh = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;

    let response = w.invoke(stale).await.expect("superseded");
    assert_eq!(response.results[0].outcome, OutcomeKind::Superseded);
    assert!(
        w.versions().await.is_empty(),
        "the stale event publishes nothing"
    );

    let response = w.invoke(fresh).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(w.versions().await.len(), 1);
}

#[tokio::test]
async fn every_record_of_a_multi_record_event_is_processed() {
    let w = world("multi").await;
    let a = "projects/app-a/lambda/layer";
    let b = "projects/app-b/lambda/layer";
    let event_a = w.upload(a, "requirements.txt", LOCK_V1, "a").await;
    let event_b = w.upload(b, "requirements.txt", LOCK_V2, "b").await;
    let mut event = sample("put-multi-record.json");
    for (i, (dir, single)) in [(a, &event_a), (b, &event_b)].into_iter().enumerate() {
        let etag = single["Records"][0]["s3"]["object"]["eTag"]
            .as_str()
            .map(str::to_owned);
        set_object(
            &mut event["Records"][i],
            &w.bucket,
            &format!("{dir}/layer.zip"),
            etag.as_deref(),
        );
    }
    set_object(
        &mut event["Records"][2],
        &w.bucket,
        &format!("{a}/000001/deployment.json"),
        None,
    );
    // Both folders publish to one layer here: the second is a change.
    let response = w.invoke(event).await.expect("all processed");

    let outcomes: Vec<_> = response
        .results
        .iter()
        .map(|r| (r.outcome, r.layer_version))
        .collect();
    assert_eq!(
        outcomes,
        [
            (OutcomeKind::Published, Some(1)),
            (OutcomeKind::Published, Some(2)),
            (OutcomeKind::Ignored, None)
        ]
    );
    w.assert_text(&format!("{a}/000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&format!("{b}/000002/requirements.txt"), LOCK_V2)
        .await;
}

#[tokio::test]
async fn a_failed_record_fails_the_invocation_after_the_others_are_done() {
    let w = world("multi-fail").await;
    let good_dir = "projects/good/lambda/layer";
    let bad_dir = "projects/bad/lambda/layer";
    let good = w
        .upload(good_dir, "requirements.txt", LOCK_V1, "good")
        .await;
    let bad = w.upload_zip(bad_dir, "bad", &[]).await;
    let mut event = sample("put-multi-record.json");
    event["Records"][0] = bad["Records"][0].clone();
    event["Records"][1] = good["Records"][0].clone();
    event["Records"].as_array_mut().unwrap().truncate(2);

    let error = w.invoke(event).await.expect_err("one record failed");

    assert_eq!(error.error_type, "MissingManifestMd5");
    assert!(
        error.error_message.starts_with("1 of 2 records failed"),
        "{}",
        error.error_message
    );
    assert!(error
        .error_message
        .contains(&format!("{bad_dir}/layer.zip")));
    assert_eq!(w.versions().await.len(), 1, "the good record was published");
    w.assert_text(&format!("{good_dir}/000001/requirements.txt"), LOCK_V1)
        .await;
}

#[tokio::test]
async fn a_payload_that_is_not_an_s3_event_is_refused() {
    let w = world("invalid-event").await;
    for payload in [
        serde_json::json!({}),
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
        serde_json::json!({"detail-type": "Scheduled Event"}),
    ] {
        let error = w.invoke(payload).await.expect_err("refused");
        assert_eq!(error.error_type, "InvalidEvent");
        assert!(error.error_message.contains("not an S3 event notification"));
    }
}
