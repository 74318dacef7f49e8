//! Uploads refused with a typed error, and nothing changed.

use super::support::*;

#[tokio::test]
async fn a_zip_without_manifest_md5_is_refused_and_nothing_changes() {
    let w = world("missing-md5").await;
    w.put(&key("requirements.txt"), LOCK_V1.as_bytes(), &[])
        .await;
    let event = w.upload_zip(DIR, "build 1", &[]).await;
    let before = w.record_keys().await;

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
    assert_eq!(w.record_keys().await, before);
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
    let before = w.record_keys().await;

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
    assert_eq!(w.record_keys().await, before);
}

#[tokio::test]
async fn no_layer_name_anywhere_is_refused() {
    let w = world("no-layer").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let before = w.record_keys().await;

    let error = crate::common::invoke(&w.publisher(Config::default()), event)
        .await
        .expect_err("refused");

    assert_eq!(error.error_type, "MissingLayerName");
    assert!(error.error_message.contains("LAYER_NAME"));
    assert!(error.error_message.contains("layer-name="));
    assert_eq!(w.record_keys().await, before);
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
    assert_eq!(w.record_keys().await, [key("layer.zip")]);
    assert!(w.versions().await.is_empty());
}
