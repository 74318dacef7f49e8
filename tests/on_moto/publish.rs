//! The main job: publish, skip an unchanged lock file, publish the next, once
//! per delivery; the layer's settings; a dry run.

use super::support::*;

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
        w.record_keys().await,
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
    assert!(!w.record_keys().await.iter().any(|k| k.contains("000002")));
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
    let response = crate::common::invoke(&w.publisher(config), event)
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

    let response = crate::common::invoke(&w.publisher(config), event)
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
async fn a_dry_run_reports_what_would_happen_and_changes_nothing() {
    let w = world("dry run").await;
    let dry = w.publisher(Config {
        dry_run: true,
        ..w.config()
    });
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let keys_before = w.record_keys().await;

    let response = crate::common::invoke(&dry, event.clone())
        .await
        .expect("dry run");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::WouldPublish);
    assert_eq!(result.manifest_md5, Some(md5_hex(LOCK_V1.as_bytes())));
    assert!(result
        .reason
        .as_deref()
        .unwrap_or_default()
        .starts_with("dry run: "));
    assert!(w.versions().await.is_empty());
    assert_eq!(w.record_keys().await, keys_before);

    // Published, then a record lost: the dry run says it would repair it.
    w.invoke(event.clone()).await.expect("published");
    w.s3.delete_object()
        .bucket(&w.bucket)
        .key(key("000001/deployment.json"))
        .send()
        .await
        .unwrap();
    let keys_before = w.record_keys().await;

    let response = crate::common::invoke(&dry, event).await.expect("dry run");

    assert_eq!(response.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(
        response.results[0].reason.as_deref(),
        Some("dry run: would repair the version's records")
    );
    assert_eq!(w.record_keys().await, keys_before);
    assert_eq!(w.versions().await.len(), 1);
}

/// The upload's receipt on S3 itself (issue 34): at the key its ETag (or,
/// versioned, its version id) gives, tagged for the lifecycle rule.
#[tokio::test]
async fn the_receipt_is_at_the_uploads_own_key_and_tagged_to_expire() {
    use layer_autopublish::domain::receipt::{Receipt, RECEIPT_TAG};
    for versioned in [false, true] {
        let w = world(&format!("receipt-{versioned}")).await;
        if versioned {
            w.enable_versioning().await;
        }
        let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
        let object = &event["Records"][0]["s3"]["object"];
        let id = match object["versionId"].as_str() {
            Some(version) if versioned => format!("v-{version}"),
            _ => format!("e-{}", object["eTag"].as_str().unwrap_or_default()),
        };
        w.invoke(event).await.expect("published");

        let receipt_key = key(&format!(".receipts/{id}.json"));
        let body =
            w.s3.get_object()
                .bucket(&w.bucket)
                .key(&receipt_key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{receipt_key}: {e:?}"));
        let body = body.body.collect().await.expect("its body").into_bytes();
        let receipt: Receipt = serde_json::from_slice(&body).expect("a receipt");
        assert_eq!(receipt.outcome, "published");
        assert_eq!(receipt.layer_version, Some(1));
        let tags =
            w.s3.get_object_tagging()
                .bucket(&w.bucket)
                .key(&receipt_key)
                .send()
                .await
                .expect("its tags");
        let tags: Vec<(&str, &str)> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        assert_eq!(tags, [RECEIPT_TAG], "versioned: {versioned}");
    }
}
