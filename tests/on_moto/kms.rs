//! A bucket encrypted by default with a customer-managed KMS key (SSE-KMS):
//! `layerctl upload`, the function's publish and its unchanged answer work
//! there, and every object written there is encrypted with that key. (moto
//! keeps an SSE-KMS object's ETag its MD5, where S3 does not: the function
//! does not rely on it, and reads lock files there to know their MD5s.)

use crate::layerctl::{assert_exit, layerctl_via, upload_args, Scratch};
use crate::support::*;

#[tokio::test]
async fn layerctl_and_the_function_work_in_a_bucket_encrypted_with_a_kms_key() {
    let w = world("kms bucket").await;
    w.enable_versioning().await;
    let key_arn = encrypt_with_a_kms_key(&w).await;
    let local = Scratch::new("kms");
    let s3_dir = format!("s3://{}/{DIR}", w.bucket);
    let upload = |build: &str, lock: &str| {
        let zip = local.file("layer.zip", &zip_bytes(build));
        let lock = local.file("requirements.txt", lock.as_bytes());
        let output = layerctl_via(
            &w,
            crate::common::moto_endpoint(),
            &upload_args(&zip, &lock, &s3_dir, &[]),
        );
        assert_exit(&output, 0);
    };

    upload("build 1", LOCK_V1);
    let published = w
        .invoke(w.event(&key("layer.zip"), None))
        .await
        .expect("published");
    upload("build 2", LOCK_V1);
    let unchanged = w
        .invoke(w.event(&key("layer.zip"), None))
        .await
        .expect("unchanged");

    assert_eq!(published.results[0].outcome, OutcomeKind::Published);
    assert_eq!(unchanged.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1);
    for name in [
        "layer.zip",
        "requirements.txt",
        "000001/requirements.txt",
        "000001/deployment.json",
    ] {
        let head =
            w.s3.head_object()
                .bucket(&w.bucket)
                .key(key(name))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("aws:kms"),
            "{name}"
        );
        assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()), "{name}");
    }
}
