//! What a 403 means. S3 answers a HEAD of a missing key with 403 instead of
//! 404 when the caller may not list the bucket there, and whether the role's
//! `s3:ListBucket` (held under an `s3:prefix` condition) counts for that is not
//! documented: the function never takes a 403 for "missing" or "refused"
//! without a listing of the key to tell.

use super::scene::*;

fn zip_uri() -> String {
    format!("{BUCKET}/{}", key("layer.zip"))
}

#[tokio::test(start_paused = true)]
async fn a_refused_head_of_a_missing_zip_is_not_found() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.delete_object(BUCKET, &key("layer.zip"));
    scene
        .aws
        .inject_always(Op::HeadObject, "layer.zip", Fault::AccessDenied);

    let error = scene.invoke(event).await.expect_err("missing");

    assert_eq!(error.error_type, "LayerZipNotFound", "{error:?}");
    assert!(scene.versions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_refused_head_of_a_zip_that_is_there_names_the_rights_to_check() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject_always(Op::HeadObject, "layer.zip", Fault::AccessDenied);
    scene.aws.take_record_calls();

    let error = scene.invoke(event).await.expect_err("unreadable");

    assert_eq!(error.error_type, "LayerZipUnreadable", "{error:?}");
    for said in [
        "shows it exists",
        &format!("s3:GetObject on the object {}", zip_uri()),
        "kms:Decrypt",
        "KmsKeyArn",
    ] {
        assert!(error.error_message.contains(said), "{said}: {error:?}");
    }
    assert!(scene.versions().is_empty());
    let writes = scene
        .aws
        .take_record_calls()
        .into_iter()
        .filter(|c| {
            !matches!(
                c.op,
                Op::HeadObject | Op::ListObjectsV2 | Op::ListLayerVersions
            )
        })
        .count();
    assert_eq!(
        writes, 0,
        "nothing but the HEAD, the listing and the first look"
    );
}

#[tokio::test(start_paused = true)]
async fn a_zip_neither_readable_nor_listable_says_both_are_possible() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject_always(Op::HeadObject, "layer.zip", Fault::AccessDenied);
    scene
        .aws
        .inject_always(Op::ListObjectsV2, "layer.zip", Fault::AccessDenied);

    let error = scene.invoke(event).await.expect_err("unreadable");

    assert_eq!(error.error_type, "LayerZipUnreadable", "{error:?}");
    assert!(
        error
            .error_message
            .contains("its HEAD and the listing of its key")
            && error.error_message.contains("may be missing"),
        "{error:?}"
    );
}

/// A lock file whose name sorts before the version folders is outside the
/// folder's listing and looked up on its own: by a listing of its key, never
/// a HEAD, whose 403 could mean missing or refused.
#[tokio::test(start_paused = true)]
async fn a_lock_file_outside_the_folder_listing_is_listed_not_headed() {
    let scene = Scene::new();
    let upload = |lock: &str, build: &str| {
        let md5 = md5(lock);
        let metadata = [("manifest-md5", md5.as_str()), ("manifest-name", "0.lock")];
        scene
            .aws
            .put_object(BUCKET, &key("0.lock"), lock.as_bytes(), &[], None);
        let bytes = zip(build);
        let id = scene
            .aws
            .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, None);
        scene.event_for(&id, bytes.len())
    };
    let first = upload(LOCK_V1, "build 1");
    scene.invoke(first).await.expect("published");
    scene
        .aws
        .inject_always(Op::HeadObject, "0.lock", Fault::AccessDenied);

    let second = upload(LOCK_V2, "build 2");
    let response = scene.invoke(second).await.expect("published");

    assert_eq!(response.results[0].layer_version, Some(2));
    assert_eq!(scene.text("000002/0.lock").as_deref(), Some(LOCK_V2));
}
