//! The handler end to end against a moto server: each test uploads as CI
//! would, invokes the handler with the event S3 would send, and checks the
//! layer versions and S3 objects afterwards, not only the returned outcome.

mod common;

use common::{md5_hex, sample, set_object, world, zip_bytes};
use layer_autopublish::config::Config;
use layer_autopublish::outcome::{Adopted, Deployment};
use layer_autopublish::OutcomeKind;

const DIR: &str = "projects/my-app/lambda/layer";
const LOCK_V1: &str = "requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6\n";
const LOCK_V2: &str = "requests==2.32.4 --hash=sha256:27babd3cda2a6d50b30443204ee89830707d396671944c998b5975b031ac2b2c\n";

fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

#[tokio::test]
async fn first_upload_publishes_version_1_and_records_it() {
    let w = world("first-publish").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = w.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.bucket, w.bucket);
    assert_eq!(result.key, key("layer.zip"));
    assert_eq!(result.layer_name.as_deref(), Some(w.layer.as_str()));
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(
        result.manifest_md5.as_deref(),
        Some(md5_hex(LOCK_V1.as_bytes()).as_str())
    );
    assert_eq!(
        result.manifest_key.as_deref(),
        Some(key("000001/requirements.txt").as_str())
    );
    let arn = result.layer_version_arn.clone().unwrap();
    assert!(arn.ends_with(&format!(":layer:{}:1", w.layer)), "{arn}");

    // Lambda: one version, whose description carries the marker.
    let versions = w.versions().await;
    assert_eq!(
        versions,
        [(1, format!("manifest-md5:{}", md5_hex(LOCK_V1.as_bytes())))]
    );
    // Its content is the zip: Lambda's SHA-256 equals the one we report.
    let content = w
        .lambda
        .get_layer_version()
        .layer_name(&w.layer)
        .version_number(1)
        .send()
        .await
        .unwrap();
    let code_sha256 = content
        .content()
        .and_then(|c| c.code_sha256())
        .map(str::to_owned);
    assert!(code_sha256.is_some());
    assert_eq!(result.code_sha256, code_sha256);
    assert_eq!(
        content.content().map(|c| c.code_size()),
        Some(zip_bytes("build 1").len() as i64)
    );

    // S3: the layer's released lease, the lock file per version and as
    // last-, the deployment record, and (the bucket is unversioned) the copy
    // of the checked zip that Lambda took.
    assert_eq!(
        w.keys().await,
        [
            w.lease_key(),
            key("000001/deployment.json"),
            key("000001/requirements.txt"),
            key("last-requirements.txt"),
            key("layer.zip"),
            key("publish-source.zip"),
            key("requirements.txt"),
        ]
    );
    assert_eq!(
        w.get(&key("publish-source.zip")).await,
        Some(zip_bytes("build 1"))
    );
    assert!(w.lease_released().await);
    w.assert_text(&key("000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&key("last-requirements.txt"), LOCK_V1).await;
    let record: Deployment =
        serde_json::from_slice(&w.get(&key("000001/deployment.json")).await.unwrap()).unwrap();
    assert_eq!(&record.outcome, result);
    assert!(!record.published_at.is_empty());
    assert!(record.source_etag.is_some());
}

#[tokio::test]
async fn the_same_lock_file_again_publishes_nothing() {
    let w = world("unchanged").await;
    let first = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    w.invoke(first).await.expect("published");

    // A rebuild from the same lock file: other zip bytes, same MD5.
    let again = w.upload(DIR, "requirements.txt", LOCK_V1, "build 2").await;
    let response = w.invoke(again).await.expect("unchanged");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(
        result.manifest_key.as_deref(),
        Some(key("000001/requirements.txt").as_str())
    );
    assert_eq!(w.versions().await.len(), 1);
    assert!(!w.keys().await.iter().any(|k| k.contains("000002")));
}

#[tokio::test]
async fn a_changed_lock_file_publishes_the_next_version() {
    let w = world("changed").await;
    let first = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    w.invoke(first).await.expect("v1");

    let second = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;
    let response = w.invoke(second).await.expect("v2");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version, Some(2));
    let versions = w.versions().await;
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[1].1,
        format!("manifest-md5:{}", md5_hex(LOCK_V2.as_bytes()))
    );
    w.assert_text(&key("000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&key("000002/requirements.txt"), LOCK_V2)
        .await;
    w.assert_text(&key("last-requirements.txt"), LOCK_V2).await;
    let record: Deployment =
        serde_json::from_slice(&w.get(&key("000002/deployment.json")).await.unwrap()).unwrap();
    assert_eq!(record.outcome.layer_version, Some(2));
}

#[tokio::test]
async fn a_duplicate_delivery_publishes_once() {
    let w = world("duplicate").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let first = w.invoke(event.clone()).await.expect("first delivery");
    let second = w.invoke(event).await.expect("second delivery");

    assert_eq!(first.results[0].outcome, OutcomeKind::Published);
    assert_eq!(second.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(second.results[0].layer_version, Some(1));
    assert_eq!(w.versions().await.len(), 1);
}

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
    let before = w.keys().await;

    let response = w.invoke(event).await.expect("ignored");

    assert_eq!(response.results[0].outcome, OutcomeKind::Ignored);
    assert_eq!(response.results[0].layer_version, None);
    assert!(w.versions().await.is_empty());
    assert_eq!(w.keys().await, before, "nothing written");
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
async fn a_zip_without_manifest_md5_is_refused_and_nothing_changes() {
    let w = world("missing-md5").await;
    w.put(&key("requirements.txt"), LOCK_V1.as_bytes(), &[])
        .await;
    let event = w.upload_zip(DIR, "build 1", &[]).await;
    let before = w.keys().await;

    let error = w.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "MissingManifestMd5");
    let zip_uri = format!("s3://{}/{}", w.bucket, key("layer.zip"));
    assert!(
        error.error_message.starts_with(&zip_uri),
        "{}",
        error.error_message
    );
    assert!(
        error.error_message.contains("--metadata manifest-md5="),
        "says how to fix it"
    );
    assert!(w.versions().await.is_empty());
    assert_eq!(w.keys().await, before);
}

#[tokio::test]
async fn a_malformed_manifest_md5_is_refused() {
    let w = world("bad-md5").await;
    let event = w
        .upload_zip(DIR, "build 1", &[("manifest-md5", "not-an-md5")])
        .await;

    let error = w.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "MissingManifestMd5");
    assert!(error.error_message.contains("\"not-an-md5\" is not an MD5"));
    assert!(w.versions().await.is_empty());
}

#[tokio::test]
async fn a_zip_from_another_lock_file_is_refused_and_nothing_changes() {
    let w = world("inconsistent").await;
    w.put(&key("requirements.txt"), LOCK_V2.as_bytes(), &[])
        .await;
    let event = w
        .upload_zip(
            DIR,
            "build 1",
            &[("manifest-md5", &md5_hex(LOCK_V1.as_bytes()))],
        )
        .await;
    let before = w.keys().await;

    let error = w.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "InconsistentManifest");
    assert!(error.error_message.contains(&md5_hex(LOCK_V1.as_bytes())));
    assert!(error.error_message.contains(&md5_hex(LOCK_V2.as_bytes())));
    assert!(error.error_message.contains(&format!(
        "s3://{}/{}",
        w.bucket,
        key("requirements.txt")
    )));
    assert!(w.versions().await.is_empty());
    assert_eq!(w.keys().await, before);
}

#[tokio::test]
async fn seed_uploads_without_a_staged_lock_file_still_publish_and_record() {
    let w = world("no-staged").await;
    let md5 = md5_hex(LOCK_V1.as_bytes());
    let event = w
        .upload_zip(DIR, "build 1", &[("manifest-md5", &md5)])
        .await;

    let response = w.invoke(event.clone()).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(result.manifest_key, None, "no lock file to keep");
    assert_eq!(w.versions().await, [(1, format!("manifest-md5:{md5}"))]);
    assert_eq!(
        w.keys().await,
        [
            w.lease_key(),
            key("000001/deployment.json"),
            key("layer.zip"),
            key("publish-source.zip"),
        ]
    );
    // The marker alone makes the next delivery idempotent.
    let again = w.invoke(event).await.expect("unchanged");
    assert_eq!(again.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1);
}

/// Versions published by aws_lambda_artifact_builder carry no marker: their
/// lock file MD5 is known only from `{NNNNNN}/{manifest}`.
async fn publish_legacy_version(w: &common::World, lock: Option<&str>) -> i64 {
    w.put(&key("legacy.zip"), &zip_bytes("legacy"), &[]).await;
    let out = w
        .lambda
        .publish_layer_version()
        .layer_name(&w.layer)
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .s3_bucket(&w.bucket)
                .s3_key(key("legacy.zip"))
                .build(),
        )
        .send()
        .await
        .expect("legacy publish");
    let version = out.version();
    if let Some(lock) = lock {
        w.put(
            &key(&format!("{version:06}/requirements.txt")),
            lock.as_bytes(),
            &[],
        )
        .await;
        w.put(&key("last-requirements.txt"), lock.as_bytes(), &[])
            .await;
    }
    version
}

#[tokio::test]
async fn legacy_versions_are_matched_by_their_stored_lock_file() {
    let w = world("legacy-same").await;
    publish_legacy_version(&w, Some(LOCK_V2)).await;
    let latest = publish_legacy_version(&w, Some(LOCK_V1)).await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = w.invoke(event).await.expect("unchanged");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    assert_eq!(result.layer_version, Some(latest));
    assert_eq!(w.versions().await.len(), 2, "nothing published");
    // The missing deployment record of the latest version is written as an
    // adopted version's: what is known, no source object.
    let record: Adopted = serde_json::from_slice(
        &w.get(&key(&format!("{latest:06}/deployment.json")))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record.outcome, "adopted");
    assert_eq!(record.layer_version, latest);
    assert!(record.code_sha256.is_some());
    assert_eq!(
        record.manifest_key,
        Some(key(&format!("{latest:06}/requirements.txt")))
    );
}

#[tokio::test]
async fn unchanged_reports_the_stored_lock_file_even_when_none_is_staged() {
    let w = world("legacy-unstaged").await;
    let latest = publish_legacy_version(&w, Some(LOCK_V1)).await;
    let md5 = md5_hex(LOCK_V1.as_bytes());
    let event = w
        .upload_zip(DIR, "build 1", &[("manifest-md5", &md5)])
        .await;

    let response = w.invoke(event).await.expect("unchanged");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    let stored = key(&format!("{latest:06}/requirements.txt"));
    assert_eq!(result.manifest_key.as_deref(), Some(stored.as_str()));
    assert_eq!(w.versions().await.len(), 1);
}

#[tokio::test]
async fn legacy_versions_with_another_or_no_lock_file_are_superseded() {
    let w = world("legacy-changed").await;
    publish_legacy_version(&w, Some(LOCK_V2)).await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let response = w.invoke(event).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(response.results[0].layer_version, Some(2));
    w.assert_text(&key("last-requirements.txt"), LOCK_V1).await;

    let w = world("legacy-unrecorded").await;
    publish_legacy_version(&w, None).await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let response = w.invoke(event).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(response.results[0].layer_version, Some(2));
}

#[tokio::test]
async fn missing_records_of_the_latest_version_are_repaired() {
    let w = world("repair").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    w.invoke(event.clone()).await.expect("published");
    // As if the function had crashed after publishing, before recording.
    for name in ["000001/requirements.txt", "000001/deployment.json"] {
        w.s3.delete_object()
            .bucket(&w.bucket)
            .key(key(name))
            .send()
            .await
            .unwrap();
    }
    w.put(&key("last-requirements.txt"), LOCK_V2.as_bytes(), &[])
        .await;

    let response = w.invoke(event).await.expect("unchanged");

    assert_eq!(response.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1);
    w.assert_text(&key("000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&key("last-requirements.txt"), LOCK_V1).await;
    // A crash lost which object the version was made from: the record says
    // what is known.
    let record: Adopted =
        serde_json::from_slice(&w.get(&key("000001/deployment.json")).await.unwrap()).unwrap();
    assert_eq!(record.layer_version, 1);
    assert_eq!(record.manifest_md5, md5_hex(LOCK_V1.as_bytes()));
    assert!(record.description.starts_with("manifest-md5:"));
}

#[tokio::test]
async fn lock_file_names_come_from_metadata_or_configuration() {
    // uv.lock named by the upload's metadata.
    let w = world("uv-lock").await;
    w.put(&key("uv.lock"), LOCK_V1.as_bytes(), &[]).await;
    let md5 = md5_hex(LOCK_V1.as_bytes());
    let event = w
        .upload_zip(
            DIR,
            "build 1",
            &[("manifest-md5", &md5), ("manifest-name", "uv.lock")],
        )
        .await;
    let response = w.invoke(event).await.expect("published");
    assert_eq!(
        response.results[0].manifest_key.as_deref(),
        Some(key("000001/uv.lock").as_str())
    );
    w.assert_text(&key("000001/uv.lock"), LOCK_V1).await;
    w.assert_text(&key("last-uv.lock"), LOCK_V1).await;

    // poetry.lock named by MANIFEST_NAME.
    let w = world("poetry-lock").await;
    let event = w.upload(DIR, "poetry.lock", LOCK_V2, "build 1").await;
    let config = Config {
        manifest_name: "poetry.lock".into(),
        ..w.config()
    };
    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("published");
    assert_eq!(response.results[0].layer_version, Some(1));
    w.assert_text(&key("000001/poetry.lock"), LOCK_V2).await;
    w.assert_text(&key("last-poetry.lock"), LOCK_V2).await;
}

#[tokio::test]
async fn the_layer_name_and_version_settings_are_applied() {
    let w = world("settings").await;
    let other = format!("{}-named", w.layer);
    w.put(&key("requirements.txt"), LOCK_V1.as_bytes(), &[])
        .await;
    let md5 = md5_hex(LOCK_V1.as_bytes());
    let event = w
        .upload_zip(
            DIR,
            "build 1",
            &[("manifest-md5", &md5), ("layer-name", &other)],
        )
        .await;
    let config = Config {
        compatible_runtimes: vec!["python3.12".into(), "python3.13".into()],
        compatible_architectures: vec!["arm64".into()],
        license_info: Some("MIT".into()),
        layer_description: "Shared dependencies of my-app".into(),
        ..w.config()
    };

    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("published");

    assert_eq!(
        response.results[0].layer_name.as_deref(),
        Some(other.as_str())
    );
    assert!(
        w.versions().await.is_empty(),
        "the configured layer is untouched"
    );
    let version = w
        .lambda
        .get_layer_version()
        .layer_name(&other)
        .version_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        version.description(),
        Some(format!("Shared dependencies of my-app manifest-md5:{md5}").as_str())
    );
    let runtimes: Vec<&str> = version
        .compatible_runtimes()
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(runtimes, ["python3.12", "python3.13"]);
    let architectures: Vec<&str> = version
        .compatible_architectures()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(architectures, ["arm64"]);
    assert_eq!(version.license_info(), Some("MIT"));
}

#[tokio::test]
async fn no_layer_name_anywhere_is_refused() {
    let w = world("no-layer").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let before = w.keys().await;

    let error = common::invoke(&w.publisher(Config::default()), event)
        .await
        .expect_err("refused");

    assert_eq!(error.error_type, "MissingLayerName");
    assert!(error.error_message.contains("LAYER_NAME"));
    assert!(error.error_message.contains("layer-name="));
    assert_eq!(w.keys().await, before);
}

#[tokio::test]
async fn unsafe_metadata_names_are_refused() {
    let w = world("bad-names").await;
    let md5 = md5_hex(LOCK_V1.as_bytes());
    for (metadata_key, value) in [
        ("manifest-name", "../../etc/passwd"),
        ("manifest-name", "layer.zip"),
        ("layer-name", "my layer"),
    ] {
        let event = w
            .upload_zip(
                DIR,
                "build 1",
                &[("manifest-md5", &md5), (metadata_key, value)],
            )
            .await;
        let error = w.invoke(event).await.expect_err("refused");
        assert_eq!(error.error_type, "InvalidMetadata");
        assert!(
            error.error_message.contains(metadata_key),
            "{}",
            error.error_message
        );
    }
    assert_eq!(w.keys().await, [key("layer.zip")]);
    assert!(w.versions().await.is_empty());
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

#[tokio::test]
async fn a_dry_run_reports_what_would_happen_and_changes_nothing() {
    let w = world("dry run").await;
    let dry = w.publisher(Config {
        dry_run: true,
        ..w.config()
    });
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let keys_before = w.keys().await;

    let response = common::invoke(&dry, event.clone()).await.expect("dry run");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::WouldPublish);
    assert_eq!(result.manifest_md5, Some(md5_hex(LOCK_V1.as_bytes())));
    assert!(result
        .reason
        .as_deref()
        .unwrap_or_default()
        .starts_with("dry run: "));
    assert!(w.versions().await.is_empty());
    assert_eq!(w.keys().await, keys_before);

    // Published, then a record lost: the dry run says it would repair it.
    w.invoke(event.clone()).await.expect("published");
    w.s3.delete_object()
        .bucket(&w.bucket)
        .key(key("000001/deployment.json"))
        .send()
        .await
        .unwrap();
    let keys_before = w.keys().await;

    let response = common::invoke(&dry, event).await.expect("dry run");

    assert_eq!(response.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(
        response.results[0].reason.as_deref(),
        Some("dry run: would repair the version's records")
    );
    assert_eq!(w.keys().await, keys_before);
    assert_eq!(w.versions().await.len(), 1);
}

/// Issue 11, the latest pointer, on moto's SSM: the parameter names v1,
/// then v2.
#[tokio::test]
async fn the_latest_pointer_names_each_new_version() {
    let w = world("pointer").await;
    let config = Config {
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..w.config()
    };
    let publisher = w.publisher(config);
    let name = format!("/layer-autopublish/{}/latest", w.layer);
    let pointer = || async {
        let out = w.aws.ssm().get_parameter().name(&name).send().await;
        out.expect("the parameter exists")
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
    };

    for (lock, build, version) in [(LOCK_V1, "build 1", 1), (LOCK_V2, "build 2", 2)] {
        let event = w.upload(DIR, "requirements.txt", lock, build).await;
        let response = common::invoke(&publisher, event).await.expect("published");
        let arn = response.results[0].layer_version_arn.clone();
        assert_eq!(response.results[0].layer_version, Some(version));
        assert_eq!(pointer().await, arn, "v{version}");
    }
}

/// Issue 11, sharing, on moto: the new version's policy grants the account.
#[tokio::test]
async fn a_new_version_is_shared_with_the_accounts_named() {
    let w = world("sharing").await;
    let config = Config {
        share_with: layer_autopublish::sharing::Grantee::parse_list("123456789012")
            .expect("an account"),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    let policy = w
        .lambda
        .get_layer_version_policy()
        .layer_name(&w.layer)
        .version_number(1)
        .send()
        .await
        .expect("a policy");
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).expect("JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(statements[0]["Sid"], "layer-autopublish-123456789012");
    assert_eq!(statements[0]["Action"], "lambda:GetLayerVersion");
}

/// Issue 11, the event, on moto: a rule on the bus (docs/deploying.md's sample
/// pattern) sends `Layer Version Published` to a queue; its detail is the
/// outcome.
#[tokio::test]
async fn a_new_version_is_announced_on_the_bus() {
    let w = world("events").await;
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let bus = format!("layers-{}", w.layer);
    events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus");
    let queue = w.queue("announced").await;
    let pattern = r#"{"source":["layer-autopublish"],"detail-type":["Layer Version Published"]}"#;
    events
        .put_rule()
        .name("new-layer-versions")
        .event_bus_name(&bus)
        .event_pattern(pattern)
        .send()
        .await
        .expect("a rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(&queue.arn)
        .build()
        .expect("a target");
    events
        .put_targets()
        .rule("new-layer-versions")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .expect("the queue is the rule's target");
    let config = Config {
        event_bus: Some(bus.clone()),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("published");

    let bodies = queue.bodies().await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["source"], "layer-autopublish");
    assert_eq!(body["detail-type"], "Layer Version Published");
    assert_eq!(body["detail"]["outcome"], "published");
    assert_eq!(
        body["detail"]["layer_version_arn"].as_str(),
        response.results[0].layer_version_arn.as_deref()
    );
}

/// Issue 11, retention, on moto: with one version kept and records pruned,
/// publishing v2 deletes v1 (every page of ListLayerVersions followed) and
/// its records.
#[tokio::test]
async fn retention_deletes_versions_beyond_the_newest_and_their_records() {
    let w = world("retention").await;
    let config = Config {
        keep_versions: Some(1),
        prune_records: true,
        ..w.config()
    };
    let publisher = w.publisher(config);
    for (lock, build) in [(LOCK_V1, "build 1"), (LOCK_V2, "build 2")] {
        let event = w.upload(DIR, "requirements.txt", lock, build).await;
        common::invoke(&publisher, event).await.expect("published");
    }

    let versions: Vec<i64> = w.versions().await.iter().map(|(n, _)| *n).collect();
    assert_eq!(versions, [2]);
    let keys = w.keys().await;
    assert!(!keys.iter().any(|k| k.contains("/000001/")), "{keys:?}");
    assert!(keys.contains(&key("000002/deployment.json")), "{keys:?}");
}

/// Creates a function on moto that uses `layers`, with boto3 from the
/// project's `.venv` (moto wants an IAM role Lambda can assume; the Rust
/// side has no IAM client).
fn create_function_on_moto(name: &str, layers: &[String]) {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = r##"
import io, json, sys, zipfile, boto3
name, layers = sys.argv[1], json.loads(sys.argv[2])
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam = boto3.client("iam")
try:
    role = iam.create_role(RoleName="follower", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
except iam.exceptions.EntityAlreadyExistsException:
    role = iam.get_role(RoleName="follower")["Role"]["Arn"]
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\n")
boto3.client("lambda").create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
    Handler="bootstrap", Code={"ZipFile": code.getvalue()}, Layers=layers)
"##;
    let layers = serde_json::to_string(layers).expect("JSON");
    let output = std::process::Command::new(python)
        .args(["-c", script, name, &layers])
        .env("AWS_ENDPOINT_URL", common::moto_endpoint())
        .env("AWS_DEFAULT_REGION", common::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Issue 11, moving consumers, on moto: a function on v1 is moved to v2,
/// keeping its other layer; one without the layer is left alone.
#[tokio::test]
async fn a_follower_on_the_previous_version_is_moved_to_the_new_one() {
    let w = world("followers").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let first = common::invoke(&w.publisher(w.config()), event)
        .await
        .expect("v1");
    let v1 = first.results[0].layer_version_arn.clone().expect("an ARN");
    let other = w
        .lambda
        .publish_layer_version()
        .layer_name(format!("{}-other", w.layer))
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .s3_bucket(&w.bucket)
                .s3_key(key("layer.zip"))
                .build(),
        )
        .send()
        .await
        .expect("another layer")
        .layer_version_arn()
        .unwrap_or_default()
        .to_owned();
    let api = format!("api-{}", w.layer);
    let worker = format!("worker-{}", w.layer);
    create_function_on_moto(&api, &[v1.clone(), other.clone()]);
    create_function_on_moto(&worker, std::slice::from_ref(&other));
    let config = Config {
        followers: vec![api.clone(), worker.clone()],
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;

    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("v2");

    let result = &response.results[0];
    let v2 = result.layer_version_arn.clone().expect("an ARN");
    let said: Vec<&str> = result.followers.iter().map(|f| f.result.as_str()).collect();
    assert_eq!(said, ["moved", "not_using"]);
    assert_eq!(layers_of(&w, &api).await, [v2, other.clone()]);
    assert_eq!(layers_of(&w, &worker).await, [other]);
}

/// A function's layer version ARNs on moto, in order.
async fn layers_of(w: &common::World, function: &str) -> Vec<String> {
    let out = w
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .expect("the function");
    out.layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_owned))
        .collect()
}

/// Issue 12, other regions, on moto: a bucket in eu-west-1, the version
/// published there from its copy of the zip (Lambda takes a layer's content
/// only from its own region), and the record naming both ARNs.
#[tokio::test]
async fn a_version_is_published_in_each_region_of_replicate_to() {
    let w = world("replicas").await;
    let region = "eu-west-1";
    let eu = aws_sdk_lambda::config::Region::new(region);
    let eu_bucket = format!("{}-eu", w.bucket);
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    w.s3.create_bucket()
        .bucket(&eu_bucket)
        .create_bucket_configuration(location)
        .send()
        .await
        .expect("a bucket in eu-west-1");
    let config = Config {
        replicate_to: layer_autopublish::replicas::parse_list(&format!("{region}={eu_bucket}"))
            .expect("a target"),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = common::invoke(&w.publisher(config), event)
        .await
        .expect("published in both regions");

    let result = &response.results[0];
    let replica = &result.replicas[0];
    assert_eq!(
        (replica.region.as_str(), replica.outcome.as_str()),
        (region, "published")
    );
    assert!(
        replica.layer_version_arn.contains(":eu-west-1:"),
        "{replica:?}"
    );
    let eu_lambda =
        aws_sdk_lambda::Client::from_conf(w.lambda.config().to_builder().region(eu).build());
    let there = eu_lambda
        .list_layer_versions()
        .layer_name(&w.layer)
        .send()
        .await
        .expect("eu-west-1's versions");
    let descriptions: Vec<&str> = there
        .layer_versions()
        .iter()
        .filter_map(|v| v.description())
        .collect();
    assert_eq!(
        descriptions,
        [format!("manifest-md5:{}", md5_hex(LOCK_V1.as_bytes()))]
    );
    assert_eq!(w.versions().await.len(), 1, "one at home");
    let copied =
        w.s3.get_object()
            .bucket(&eu_bucket)
            .key(key("publish-source.zip"))
            .send()
            .await
            .expect("the copy in eu-west-1")
            .body
            .collect()
            .await
            .expect("its bytes")
            .into_bytes();
    assert_eq!(copied.as_ref(), zip_bytes("build 1").as_slice());
    let record: serde_json::Value =
        serde_json::from_slice(&w.get(&key("000001/deployment.json")).await.unwrap()).unwrap();
    assert_eq!(
        record["replicas"][0]["layer_version_arn"].as_str(),
        Some(replica.layer_version_arn.as_str())
    );
}

/// The layer's lease on moto, as a listing shows it: its size (512 held,
/// 1024 handed over, shorter released).
async fn lease_size(w: &common::World) -> Option<i64> {
    let key = format!("layer-autopublish/leases/{}.lease", w.layer);
    let listed =
        w.s3.list_objects_v2()
            .bucket(&w.bucket)
            .prefix(&key)
            .send()
            .await
            .expect("listed");
    listed.contents().first().and_then(|o| o.size())
}

/// Issue 21, on moto: the version is published, then a part after it fails
/// for real (a function of FOLLOWERS, and then the bus named in EVENT_BUS,
/// do not exist). The lease is handed over (S3's own conditional write);
/// once the user creates what was missing, a redelivery at once, well
/// within the lease's 150 s, takes it and finishes: `published`, one
/// version per lock file, the lease released.
#[tokio::test]
async fn a_failure_after_the_publish_is_finished_by_an_immediate_redelivery() {
    let w = world("handover").await;
    let bus = format!("later-{}", w.layer);
    let api = format!("later-api-{}", w.layer);
    let config = Config {
        event_bus: Some(bus.clone()),
        followers: vec![api.clone()],
        ..w.config()
    };
    let publisher = w.publisher(config);
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let failed = common::invoke(&publisher, event.clone())
        .await
        .expect_err("nothing to move yet");

    assert_eq!(failed.error_type, "FollowersNotMoved", "{failed:?}");
    assert_eq!(lease_size(&w).await, Some(1024), "handed over");
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 1);

    // The user creates what was missing; the event comes again at once.
    aws_sdk_eventbridge::Client::new(&w.sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus");
    let v1 = format!(
        "arn:aws:lambda:{}:123456789012:layer:{}:1",
        common::REGION,
        w.layer
    );
    create_function_on_moto(&api, &[]);
    let retry = common::invoke(&publisher, event)
        .await
        .expect("finished at once");

    let result = &retry.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version_arn.as_deref(), Some(v1.as_str()));
    let said: Vec<&str> = result.followers.iter().map(|f| f.result.as_str()).collect();
    assert_eq!(said, ["not_using"]);
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 1);
    let record = w.get_text(&key("000001/deployment.json")).await;
    let record: Deployment = serde_json::from_str(&record.expect("recorded")).expect("JSON");
    assert_eq!(record.outcome.outcome, OutcomeKind::Published);
    assert!(
        lease_size(&w).await.is_some_and(|size| size < 512),
        "released"
    );

    // The next lock file, while the bus is gone: the version stands, the
    // event cannot be put; the first retry, once the bus is back, puts it.
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let deleted = events.delete_event_bus().name(&bus).send().await;
    deleted.expect("the bus deleted");
    let event = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;
    let failed = common::invoke(&publisher, event.clone())
        .await
        .expect_err("no bus");
    assert_eq!(failed.error_type, "EventBridgeError", "{failed:?}");
    assert_eq!(lease_size(&w).await, Some(1024), "handed over");
    let created = events.create_event_bus().name(&bus).send().await;
    created.expect("the bus again");
    let retry = common::invoke(&publisher, event)
        .await
        .expect("finished at once");
    assert_eq!(retry.results[0].outcome, OutcomeKind::Published);
    assert_eq!(retry.results[0].layer_version, Some(2));
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 2);
    assert!(w.get_text(&key("000002/deployment.json")).await.is_some());
    assert!(
        lease_size(&w).await.is_some_and(|size| size < 512),
        "released"
    );
}
