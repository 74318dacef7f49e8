//! Exactly once under at-least-once delivery, against moto server:
//! concurrent duplicates, a crash between publish and record, stale leases,
//! and late events for overwritten zips. The only in-process fault is the
//! crash, injected by an interceptor on the real SDK client talking to moto.

mod common;

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::operation::put_object::PutObjectInput;
use common::{md5_hex, world, World};
use layer_autopublish::aws::Aws;
use layer_autopublish::lease::{held_body, now_secs};
use layer_autopublish::OutcomeKind;
use std::time::Duration;

const DIR: &str = "projects/app/lambda/layer";
const LOCK_V1: &str = "boto3==1.35.0\n";
const LOCK_V2: &str = "boto3==1.35.1\n";

fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// N deliveries of one upload at once, each with its own clients, as N
/// Lambda instances would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_of_one_upload_publish_one_version() {
    let w = world("concurrent").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let deliveries = (0..8).map(|_| {
        let publisher =
            layer_autopublish::Publisher::new(Aws::new(&w.sdk), w.config(), common::REGION);
        let event = event.clone();
        tokio::spawn(async move { common::invoke(&publisher, event).await })
    });
    let mut outcomes = Vec::new();
    for delivery in deliveries.collect::<Vec<_>>() {
        let response = delivery.await.unwrap().expect("every delivery succeeds");
        outcomes.push(response.results[0].outcome);
    }

    let published = outcomes
        .iter()
        .filter(|o| **o == OutcomeKind::Published)
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, OutcomeKind::Published | OutcomeKind::Unchanged)));
    assert_eq!(w.versions().await.len(), 1);
    assert!(w.lease_released(DIR).await, "lease released");
}

/// A lease another invocation holds (or held, when it crashed).
async fn put_held_lease(w: &World, holder: &str) {
    w.put(
        &key("publish.lease"),
        &held_body(holder, now_secs() + 90),
        &[],
    )
    .await;
}

/// Leases that expire three seconds after they are written: S3 lists
/// `LastModified` to the second, so at least two, room enough for a check
/// made just after the write on a loaded machine.
const SHORT_TTL: Duration = Duration::from_secs(3);

#[tokio::test]
async fn an_expired_lease_of_a_crashed_holder_is_taken_over() {
    let w = world("expired-lease").await;
    put_held_lease(&w, "crashed").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    tokio::time::sleep(SHORT_TTL).await;

    let publisher = w.publisher(w.config()).with_lease_ttl(SHORT_TTL);
    let response = common::invoke(&publisher, event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(w.versions().await.len(), 1);
    assert!(w.lease_released(DIR).await);
}

#[tokio::test]
async fn a_live_lease_makes_the_event_fail_for_a_retry_and_changes_nothing() {
    let w = world("held-lease").await;
    put_held_lease(&w, "another-invocation").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let before = w.keys().await;

    let publisher = w
        .publisher(w.config())
        .with_lease_wait(Duration::from_millis(300));
    let error = common::invoke(&publisher, event)
        .await
        .expect_err("lease held");

    assert_eq!(error.error_type, "PublishInProgress");
    assert!(error.error_message.contains("another-invocation"));
    assert!(error.error_message.contains("publish.lease"));
    assert!(w.versions().await.is_empty());
    assert_eq!(
        w.keys().await,
        before,
        "the other holder's lease is untouched"
    );
}

/// Fails every PutObject of a `deployment.json`: the function "crashes"
/// after `PublishLayerVersion` succeeded, before its records are complete.
#[derive(Debug)]
struct CrashBeforeDeploymentRecord;

impl Intercept for CrashBeforeDeploymentRecord {
    fn name(&self) -> &'static str {
        "CrashBeforeDeploymentRecord"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let writes_record = context
            .input()
            .downcast_ref::<PutObjectInput>()
            .and_then(|put| put.key())
            .is_some_and(|k| k.ends_with("deployment.json"));
        if writes_record {
            Err("injected crash before writing deployment.json".into())
        } else {
            Ok(())
        }
    }
}

fn crashing_aws(w: &World) -> Aws {
    let s3 = aws_sdk_s3::config::Builder::from(&w.sdk)
        .force_path_style(true)
        .interceptor(CrashBeforeDeploymentRecord)
        .build();
    Aws::from_clients(
        aws_sdk_s3::Client::from_conf(s3),
        aws_sdk_lambda::Client::new(&w.sdk),
    )
}

#[tokio::test]
async fn a_retry_after_a_crash_between_publish_and_record_publishes_nothing_and_repairs() {
    let w = world("crash").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let crashing = layer_autopublish::Publisher::new(crashing_aws(&w), w.config(), common::REGION)
        .with_lease_ttl(SHORT_TTL);
    let publisher = w
        .publisher(w.config())
        .with_lease_ttl(SHORT_TTL)
        .with_lease_wait(Duration::from_millis(200));

    let error = common::invoke(&crashing, event.clone())
        .await
        .expect_err("crashed");
    assert_eq!(error.error_type, "S3Error");
    assert_eq!(w.versions().await.len(), 1, "the publish itself succeeded");
    assert!(w.get(&key("000001/deployment.json")).await.is_none());
    // The crashed publisher kept the lease: until it expires, nobody who
    // might have read the versions before that publish can act on them.
    assert!(!w.lease_released(DIR).await);
    let early = common::invoke(&publisher, event.clone()).await;
    assert_eq!(early.expect_err("held").error_type, "PublishInProgress");

    tokio::time::sleep(SHORT_TTL).await;
    let retry = common::invoke(&publisher, event).await.expect("retried");

    assert_eq!(retry.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1, "no second version");
    assert!(
        w.get(&key("000001/deployment.json")).await.is_some(),
        "repaired"
    );
    w.assert_text(&key("000001/requirements.txt"), LOCK_V1)
        .await;
    w.assert_text(&key("last-requirements.txt"), LOCK_V1).await;
    assert!(w.lease_released(DIR).await);
}

#[tokio::test]
async fn a_late_event_for_an_older_version_neither_publishes_nor_rolls_back() {
    let w = world("reordered").await;
    w.enable_versioning().await;
    let older = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let newer = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;
    assert!(older["Records"][0]["s3"]["object"]["versionId"].is_string());

    let response = w.invoke(newer).await.expect("published");
    assert_eq!(response.results[0].layer_version, Some(1));
    // The older upload's event arrives last: its zip version says LOCK_V1,
    // which differs from the latest version's lock file.
    let response = w.invoke(older).await.expect("superseded");

    assert_eq!(response.results[0].outcome, OutcomeKind::Superseded);
    let versions = w.versions().await;
    assert_eq!(versions.len(), 1, "the old content is not published");
    assert!(versions[0].1.ends_with(&md5_hex(LOCK_V2.as_bytes())));
    w.assert_text(&key("last-requirements.txt"), LOCK_V2).await;
}

#[tokio::test]
async fn a_zip_uploaded_with_its_sha256_is_published_when_lambda_took_those_bytes() {
    let w = world("sha256 match").await;
    let event = w.upload_with_sha256(DIR, LOCK_V1, "build 1", None).await;
    let uploaded = w.stored_sha256(&key("layer.zip")).await;
    assert!(uploaded.is_some(), "the SDK sent x-amz-checksum-sha256");

    let response = w.invoke(event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(response.results[0].code_sha256, uploaded);
    assert!(w.get(&key("000001/deployment.json")).await.is_some());
}

/// moto stores a claimed SHA-256 without checking it, which stands in for
/// Lambda taking other bytes than the uploaded ones (an overwrite racing the
/// publish in an unversioned bucket).
#[tokio::test]
async fn a_version_whose_bytes_differ_from_the_uploaded_sha256_is_never_recorded() {
    let w = world("sha256 mismatch").await;
    let claimed = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
    let event = w
        .upload_with_sha256(DIR, LOCK_V1, "build 1", Some(claimed))
        .await;
    let mut keys_before = w.keys().await;
    keys_before.push(key("publish.lease"));
    keys_before.sort();
    let publisher = w.publisher(w.config()).with_lease_ttl(SHORT_TTL);

    for delivery in ["first", "retry"] {
        let error = common::invoke(&publisher, event.clone())
            .await
            .expect_err(delivery);

        assert_eq!(error.error_type, "ChecksumMismatch", "{delivery}");
        assert!(
            error
                .error_message
                .contains(&format!("the uploaded object's SHA-256 is {claimed}")),
            "{}",
            error.error_message
        );
        assert_eq!(w.versions().await.len(), 1, "{delivery}: nothing further");
        assert_eq!(w.keys().await, keys_before, "{delivery}: nothing recorded");
        // The first delivery keeps the lease (a version exists that is not
        // recorded); the retry comes once it has expired.
        tokio::time::sleep(SHORT_TTL).await;
    }
}
