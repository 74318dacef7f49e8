//! Objects changed while a record is processed: zips overwritten, lock files
//! replaced, versions published meanwhile; and the bytes Lambda takes.

use super::scene::*;

#[tokio::test(start_paused = true)]
async fn the_staged_lock_file_replaced_while_recording_is_not_copied() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // The next build stages its lock file while this one is being published.
    scene.aws.meanwhile(Op::PublishLayerVersion, "", |aws| {
        let staged = key("requirements.txt");
        aws.put_object(BUCKET, &staged, LOCK_V2.as_bytes(), &[], None);
    });

    let error = scene.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "InconsistentManifest");
    let found = format!("requirements.txt has MD5 {}", md5(LOCK_V2));
    assert!(
        error.error_message.contains(&found),
        "{}",
        error.error_message
    );
    assert!(
        !error.error_message.contains("unknown"),
        "{}",
        error.error_message
    );
    let calls = scene.aws.take_record_calls();
    // Both copies are sent at once (issue 13), and S3 refuses both.
    assert_eq!(
        Scene::count(&calls, Op::CopyObject, "requirements.txt"),
        2,
        "refused by S3: {calls:?}"
    );
    assert!(
        scene.text("000001/requirements.txt").is_none(),
        "nothing copied"
    );
    assert!(scene.text("last-requirements.txt").is_none());
    assert!(
        scene.lease_handed_over(),
        "a version exists without its records"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_event_for_an_older_version_neither_publishes_nor_rolls_back() {
    let scene = Scene::new();
    scene.aws.enable_versioning(BUCKET);
    let older = scene.upload(LOCK_V1, "build 1");
    let newer = scene.upload(LOCK_V2, "build 2");

    let response = scene.invoke(newer).await.expect("published");
    assert_eq!(response.results[0].layer_version, Some(1));
    let response = scene.invoke(older).await.expect("superseded");

    assert_eq!(outcome(&response), OutcomeKind::Superseded);
    let versions = scene.versions();
    assert_eq!(versions.len(), 1, "the old content is not published");
    assert!(versions[0].1.ends_with(&md5(LOCK_V2)));
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_zip_overwritten_after_its_event_was_checked_is_superseded_before_any_write() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // Overwritten after the first HEAD, before the zip's first bytes are
    // read (beside the folder's listing).
    scene.aws.meanwhile(Op::GetObject, "layer.zip", |aws| {
        let newer = md5(LOCK_V2);
        let metadata = [("manifest-md5", newer.as_str())];
        aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
    });

    let response = scene.invoke(event).await.expect("superseded");

    assert_eq!(outcome(&response), OutcomeKind::Superseded);
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::PutObject, ""),
        0,
        "no lease, no write: {calls:?}"
    );
    assert!(scene.versions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_publish_takes_the_events_object_version_even_if_overwritten_meanwhile() {
    let scene = Scene::new();
    scene.aws.enable_versioning(BUCKET);
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.meanwhile(Op::PublishLayerVersion, "", |aws| {
        aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &[], None);
    });

    let response = scene.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(
        result.code_sha256.as_deref(),
        Some(code_sha256(&zip("build 1")).as_str()),
        "Lambda took the checked version's bytes"
    );
}

/// In an unversioned bucket, without an uploaded SHA-256, nothing pins the
/// key's bytes: Lambda must still take exactly the bytes that were checked.
#[tokio::test(start_paused = true)]
async fn an_unversioned_zip_overwritten_during_the_publish_is_not_what_lambda_takes() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.meanwhile(Op::PublishLayerVersion, "", |aws| {
        let v2 = md5(LOCK_V2);
        let metadata = [("manifest-md5", v2.as_str())];
        aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
    });

    let response = scene.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(
        result.code_sha256.as_deref(),
        Some(code_sha256(&zip("build 1")).as_str()),
        "Lambda took the checked bytes, under the checked lock file's marker"
    );
    assert!(scene.versions()[0].1.ends_with(&md5(LOCK_V1)));
    assert_eq!(
        scene.aws.object(BUCKET, &key("publish-source.zip")),
        Some(zip("build 1"))
    );
}

/// The zip overwritten between the check and the copy it is published
/// from: S3 refuses the copy (`x-amz-copy-source-if-match`), nothing is
/// published, and the newer upload's own event publishes it.
#[tokio::test(start_paused = true)]
async fn an_unversioned_zip_overwritten_before_its_copy_is_superseded() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .meanwhile(Op::CopyObject, "publish-source.zip", |aws| {
            aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &[], None);
        });

    let response = scene.invoke(event).await.expect("superseded");

    assert_eq!(outcome(&response), OutcomeKind::Superseded);
    assert!(scene.versions().is_empty());
    assert!(!scene.lease_held(), "released: nothing was published");
}

#[tokio::test(start_paused = true)]
async fn a_version_published_after_the_versions_were_read_is_found_by_reading_again() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // Another invocation publishes this lock file and records it between
    // this one's read of the versions and its listing of the folder.
    scene.aws.meanwhile(Op::ListObjectsV2, "", |aws| {
        let description = format!("manifest-md5:{}", md5(LOCK_V1));
        aws.publish_by_hand(LAYER, &description, &zip("build 1"));
        for name in ["000001/requirements.txt", "last-requirements.txt"] {
            aws.put_object(BUCKET, &key(name), LOCK_V1.as_bytes(), &[], None);
        }
        aws.put_object(BUCKET, &key("000001/deployment.json"), b"{}", &[], None);
    });

    let response = scene.invoke(event).await.expect("unchanged");

    assert_eq!(outcome(&response), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "no duplicate");
    let calls = scene.aws.take_record_calls();
    assert_eq!(
        Scene::count(&calls, Op::ListLayerVersions, LAYER),
        2,
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_version_published_before_the_lease_was_read_is_found_after_the_take() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // Another invocation publishes this lock file and releases its lease
    // after this one read the versions, before it reads the lease: the
    // lease it takes is free, and only the versions read after the take
    // show the new version.
    scene.aws.meanwhile(Op::ListObjectsV2, "deps.lease", |aws| {
        let description = format!("manifest-md5:{}", md5(LOCK_V1));
        aws.publish_by_hand(LAYER, &description, &zip("build 1"));
        let released = br#"{"released_by":"another-invocation"}"#;
        aws.put_object(BUCKET, LEASE, released, &[], None);
    });

    let response = scene.invoke(event).await.expect("unchanged");

    assert_eq!(outcome(&response), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "no duplicate");
    // Its records, missing, were written under the lease.
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn a_zip_uploaded_with_its_sha256_is_published_when_lambda_took_those_bytes() {
    let scene = Scene::new();
    let sha256 = code_sha256(&zip("build 1"));
    let event = scene.upload_with(LOCK_V1, "build 1", "manifest-md5", Some(&sha256));

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(
        response.results[0].code_sha256.as_deref(),
        Some(sha256.as_str())
    );
    assert!(scene.text("000001/deployment.json").is_some());
}

/// The uploaded SHA-256 stands for bytes other than those Lambda took (an
/// upload whose checksum header lied, a corrupted read).
#[tokio::test(start_paused = true)]
async fn a_version_whose_bytes_differ_from_the_uploaded_sha256_is_never_recorded() {
    let scene = Scene::new();
    let claimed = code_sha256(b"other bytes");
    let event = scene.upload_with(LOCK_V1, "build 1", "manifest-md5", Some(&claimed));
    let mut keys_before = scene.aws.record_keys(BUCKET);
    keys_before.push(LEASE.to_owned());
    keys_before.push(key("publish-source.zip"));
    keys_before.sort();

    for delivery in ["first", "retry"] {
        let error = scene.invoke(event.clone()).await.expect_err(delivery);

        assert_eq!(error.error_type, "ChecksumMismatch", "{delivery}");
        let expected = format!("the uploaded object's SHA-256 is {claimed}");
        assert!(
            error.error_message.contains(&expected),
            "{}",
            error.error_message
        );
        assert_eq!(scene.versions().len(), 1, "{delivery}: nothing further");
        assert_eq!(
            scene.aws.record_keys(BUCKET),
            keys_before,
            "{delivery}: nothing recorded"
        );
        // The first delivery keeps the lease (a version exists that is not
        // recorded); the retry comes once it has expired.
        scene.clock().advance(LEASE_TTL);
    }
}

/// Issue 21: a newer upload (zip and lock file) arrives while this one's
/// version is being recorded. Not an error: the version stands, published
/// from exactly the checked bytes; the answer names it and says why its lock
/// file was not kept; the newer upload's own event publishes next.
#[tokio::test(start_paused = true)]
async fn a_newer_upload_during_the_recording_is_no_error_and_publishes_next() {
    let scene = Scene::new();
    scene.aws.enable_versioning(BUCKET);
    let event = scene.upload(LOCK_V1, "build 1");
    let newer_id = std::sync::Arc::new(std::sync::Mutex::new(None));
    let newer_id_kept = newer_id.clone();
    scene
        .aws
        .meanwhile(Op::PublishLayerVersion, "", move |aws| {
            let v2 = md5(LOCK_V2);
            aws.put_object(
                BUCKET,
                &key("requirements.txt"),
                LOCK_V2.as_bytes(),
                &[],
                None,
            );
            let metadata = [("manifest-md5", v2.as_str())];
            let id = aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
            *newer_id_kept.lock().expect("unpoisoned") = Some(id);
        });

    let response = scene.invoke(event).await.expect("no error");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(result.code_sha256, Some(code_sha256(&zip("build 1"))));
    assert_eq!(result.manifest_key, None, "its lock file was not kept");
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("a newer upload replaced the zip and the lock file"),
        "{reason}"
    );
    assert!(!reason.contains("unknown"), "{reason}");
    assert!(scene.text("000001/requirements.txt").is_none());
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(
        !scene.lease_held() && !scene.lease_handed_over(),
        "released"
    );

    // The newer upload's own event.
    let id = newer_id
        .lock()
        .expect("unpoisoned")
        .clone()
        .expect("uploaded");
    let newer = scene.event_for(&id, zip("build 2").len());
    let next = scene.invoke(newer).await.expect("published");
    assert_eq!(outcome(&next), OutcomeKind::Published);
    assert_eq!(next.results[0].layer_version, Some(2));
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V2)
    );
}

/// Found by the rights test on moto: another build of the same lock file
/// (here another folder's zip, uploaded with its SHA-256 after the version
/// was published) has other bytes than the version, which is no fault: it
/// is `unchanged`, its folder's records written, not `ChecksumMismatch`.
/// Only a version created since the upload must hold the upload's bytes.
#[tokio::test(start_paused = true)]
async fn another_build_of_the_lock_file_is_unchanged_whatever_its_bytes() {
    let scene = Scene::new();
    let sha256 = code_sha256(&zip("build 1"));
    let first = scene.upload_with(LOCK_V1, "build 1", "manifest-md5", Some(&sha256));
    scene.invoke(first).await.expect("published");
    scene.clock().advance(Duration::from_secs(60));

    let md5 = md5(LOCK_V1);
    let other = "projects/app/lambda/other";
    scene.aws.put_object(
        BUCKET,
        &format!("{other}/requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let bytes = zip("build 2");
    let zip_key = format!("{other}/layer.zip");
    let id = scene.aws.put_object(
        BUCKET,
        &zip_key,
        &bytes,
        &[("manifest-md5", md5.as_str())],
        Some(&code_sha256(&bytes)),
    );
    let response = scene
        .invoke(scene.event_for_key(&zip_key, &id, bytes.len()))
        .await
        .expect("unchanged");

    assert_eq!(outcome(&response), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1);
    let kept = scene
        .aws
        .object(BUCKET, &format!("{other}/last-requirements.txt"));
    assert_eq!(kept.as_deref(), Some(LOCK_V1.as_bytes()));
}
