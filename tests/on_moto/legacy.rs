//! Versions other tools published (the seed's): recognised by their kept lock
//! file, adopted, repaired.

use super::support::*;

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
        w.record_keys().await,
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
