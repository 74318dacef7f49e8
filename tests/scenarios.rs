//! Exactly once under at-least-once delivery, on the in-memory AWS
//! (`layer_autopublish::fake`) with its manual clock: concurrent deliveries,
//! leases held, expired, refused; a crash or a failed write between the
//! publish and its records; objects changed while a record is processed.
//! No test here waits on the wall clock: tokio's runs paused, and moves on
//! when every task is waiting.

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use layer_autopublish::fake::{code_sha256, Call, FakeAws, Fault, ManualClock, Op};
use layer_autopublish::lease::{held_body, LEASE_TTL};
use layer_autopublish::manifest::ManifestMd5;
use layer_autopublish::ports::{Clock, ObjectId};
use layer_autopublish::{config::Config, event, handle, OutcomeKind, Publisher, Response};
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

const BUCKET: &str = "artifacts";
const DIR: &str = "projects/app/lambda/layer";
const LAYER: &str = "deps";
/// The layer's lease, whatever folder publishes to it.
const LEASE: &str = "layer-autopublish/leases/deps.lease";
const LOCK_V1: &str = "boto3==1.35.0\n";
const LOCK_V2: &str = "boto3==1.35.1\n";

fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// Bytes that start as a zip archive does, different per `content`.
fn zip(content: &str) -> Vec<u8> {
    format!("PK\x03\x04 a layer zip built from {content}").into_bytes()
}

fn md5(text: &str) -> String {
    ManifestMd5::of(text.as_bytes()).to_string()
}

/// One bucket, one layer, and what is done to them.
struct Scene {
    aws: FakeAws,
}

impl Scene {
    fn new() -> Self {
        let aws = FakeAws::new();
        aws.create_bucket(BUCKET);
        Self { aws }
    }

    fn clock(&self) -> ManualClock {
        self.aws.clock()
    }

    /// Stages `lock`, uploads the zip built from it, and returns S3's event.
    fn upload(&self, lock: &str, build: &str) -> Value {
        self.upload_with(lock, build, "manifest-md5", None)
    }

    /// [`Scene::upload`] with the lock file's MD5 under `md5_key` and the
    /// SHA-256 the uploader sent, if any.
    fn upload_with(&self, lock: &str, build: &str, md5_key: &str, sha256: Option<&str>) -> Value {
        let md5 = md5(lock);
        let metadata = [(md5_key, md5.as_str())];
        self.aws
            .put_object(BUCKET, &key("requirements.txt"), lock.as_bytes(), &[], None);
        let bytes = zip(build);
        let id = self
            .aws
            .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, sha256);
        self.event_for(&id, bytes.len())
    }

    /// [`Scene::upload`] into another folder `dir` that publishes to the
    /// same layer.
    fn upload_to(&self, dir: &str, lock: &str, build: &str) -> Value {
        let md5 = md5(lock);
        let metadata = [("manifest-md5", md5.as_str())];
        let staged = format!("{dir}/requirements.txt");
        self.aws
            .put_object(BUCKET, &staged, lock.as_bytes(), &[], None);
        let bytes = zip(build);
        let zip_key = format!("{dir}/layer.zip");
        let id = self
            .aws
            .put_object(BUCKET, &zip_key, &bytes, &metadata, None);
        self.event_for_key(&zip_key, &id, bytes.len())
    }

    fn event_for(&self, id: &ObjectId, size: usize) -> Value {
        self.event_for_key(&key("layer.zip"), id, size)
    }

    fn event_for_key(&self, zip_key: &str, id: &ObjectId, size: usize) -> Value {
        event::object_created(
            "us-east-1",
            BUCKET,
            zip_key,
            id.etag.as_deref(),
            id.version_id.as_deref(),
            size as u64,
        )
    }

    fn publisher(&self) -> Publisher<FakeAws, ManualClock> {
        self.publisher_with(Config::default())
    }

    /// A publisher with `config`, publishing to [`LAYER`].
    fn publisher_with(&self, config: Config) -> Publisher<FakeAws, ManualClock> {
        let config = Config {
            layer_name: Some(LAYER.into()),
            ..config
        };
        Publisher::with_clock(self.aws.clone(), self.clock(), config, "us-east-1")
    }

    async fn invoke(&self, event: Value) -> Result<Response, Diagnostic> {
        invoke(&self.publisher(), event).await
    }

    fn versions(&self) -> Vec<(i64, String)> {
        self.aws.versions(LAYER)
    }

    fn text(&self, name: &str) -> Option<String> {
        let bytes = self.aws.object(BUCKET, &key(name))?;
        Some(String::from_utf8(bytes).expect("utf-8"))
    }

    fn lease_held(&self) -> bool {
        let lease = self.aws.object(BUCKET, LEASE);
        lease.is_some_and(|body| body.len() == 512)
    }

    /// The lease is handed over to the next delivery of an upload (1024
    /// bytes): a delivery published and failed after.
    fn lease_handed_over(&self) -> bool {
        let lease = self.aws.object(BUCKET, LEASE);
        lease.is_some_and(|body| body.len() == 1024)
    }

    /// A lease another invocation holds (or held, when it crashed).
    fn put_held_lease(&self, holder: &str) {
        let expires = self.clock().now() + LEASE_TTL;
        let secs = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let body = held_body(holder, secs);
        self.aws.put_object(BUCKET, LEASE, &body, &[], None);
    }

    /// The calls made since the last look, of `op` on a target ending in `suffix`.
    fn count(calls: &[Call], op: Op, suffix: &str) -> usize {
        calls
            .iter()
            .filter(|c| c.op == op && c.target.ends_with(suffix))
            .count()
    }
}

async fn invoke(
    publisher: &Publisher<FakeAws, ManualClock>, event: Value,
) -> Result<Response, Diagnostic> {
    handle(publisher, LambdaEvent::new(event, Context::default()))
        .await
        .map_err(Diagnostic::from)
}

fn outcome(response: &Response) -> OutcomeKind {
    response.results[0].outcome
}

#[tokio::test(start_paused = true)]
async fn concurrent_deliveries_of_one_upload_publish_one_version() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");

    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let publisher = scene.publisher();
            let event = event.clone();
            tokio::spawn(async move { invoke(&publisher, event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        let response = delivery.await.unwrap().expect("every delivery succeeds");
        outcomes.push(outcome(&response));
    }

    let published = outcomes
        .iter()
        .filter(|o| **o == OutcomeKind::Published)
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, OutcomeKind::Published | OutcomeKind::Unchanged)));
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "lease released");
    let calls = scene.aws.take_calls();
    let lease_writes = Scene::count(&calls, Op::PutObject, "deps.lease");
    assert!(
        lease_writes > 2,
        "the deliveries raced for the lease (one take, one release, refusals): {lease_writes}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_of_a_crashed_holder_is_taken_over() {
    let scene = Scene::new();
    scene.put_held_lease("crashed");
    let event = scene.upload(LOCK_V1, "build 1");
    scene.clock().advance(LEASE_TTL);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held());
    // Whatever the crashed holder published is read: the versions are read
    // again after the lease was read (beside its take), before publishing.
    let calls = scene.aws.take_calls();
    let at = |op: Op, suffix: &str| {
        calls
            .iter()
            .position(|c| c.op == op && c.target.ends_with(suffix))
    };
    let lease_read = at(Op::ListObjectsV2, "deps.lease").expect("read");
    let publish = at(Op::PublishLayerVersion, "deps").expect("published");
    assert!(
        calls[lease_read..publish]
            .iter()
            .any(|c| c.op == Op::ListLayerVersions),
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_lease_makes_the_event_fail_for_a_retry_and_changes_nothing() {
    let scene = Scene::new();
    scene.put_held_lease("another-invocation");
    let event = scene.upload(LOCK_V1, "build 1");
    let before = scene.aws.keys(BUCKET);
    let started = scene.clock().now();

    let error = scene.invoke(event).await.expect_err("lease held");

    assert_eq!(error.error_type, "PublishInProgress");
    assert!(error.error_message.contains("another-invocation"));
    assert!(error
        .error_message
        .contains("s3://artifacts/layer-autopublish/leases/deps.lease"));
    let waited = scene.clock().now().duration_since(started).unwrap();
    assert!(
        waited >= Duration::from_secs(20) && waited < Duration::from_secs(22),
        "waited {waited:?} on the clock, looking again between pauses"
    );
    let calls = scene.aws.take_calls();
    assert!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease") > 5,
        "looked at the lease again and again: {calls:?}"
    );
    assert_eq!(
        Scene::count(&calls, Op::PutObject, ""),
        0,
        "no write at all"
    );
    assert!(scene.versions().is_empty());
    assert_eq!(scene.aws.keys(BUCKET), before);
}

#[tokio::test(start_paused = true)]
async fn a_lease_released_during_the_wait_is_taken_and_the_upload_published() {
    let scene = Scene::new();
    scene.put_held_lease("another-invocation");
    let event = scene.upload(LOCK_V1, "build 1");
    // The other holder releases its lease while this invocation waits:
    // after its first look at the lease, before its second.
    scene.aws.meanwhile(Op::ListObjectsV2, "deps.lease", |aws| {
        aws.meanwhile(Op::ListObjectsV2, "deps.lease", |aws| {
            let released = br#"{"released_by":"another-invocation"}"#;
            aws.put_object(BUCKET, LEASE, released, &[], None);
        });
    });

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease"),
        2,
        "looked again after the pause: {calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_ahead_of_the_lease_is_read_again_when_needed() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // The lease is read ahead, beside the folder (a publish is likely):
    // that read fails, and is made again once the plan says to write.
    scene
        .aws
        .inject(Op::ListObjectsV2, "deps.lease", Fault::FailBefore, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease"),
        2,
        "{calls:?}"
    );
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn a_refused_lease_write_is_retried_and_the_upload_published() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::Conflict, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    let calls = scene.aws.take_calls();
    // Refused, taken, released.
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        3,
        "{calls:?}"
    );
    assert_eq!(scene.versions().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_cannot_be_taken_ends_within_the_wait() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject_always(Op::PutObject, "deps.lease", Fault::Conflict);

    let error = scene.invoke(event).await.expect_err("no lease");

    assert_eq!(error.error_type, "PublishInProgress");
    let calls = scene.aws.take_calls();
    assert!(
        Scene::count(&calls, Op::PutObject, "deps.lease") > 5,
        "{calls:?}"
    );
    assert!(scene.versions().is_empty());
}

/// The process dies while writing `deployment.json` after the publish: the
/// call never answers and the invocation is dropped, as Lambda's timeout does.
#[tokio::test(start_paused = true)]
async fn a_crash_after_the_publish_keeps_the_lease_and_a_later_retry_repairs() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::Hang, 1);

    let run = scene.invoke(event.clone());
    let crashed = tokio::time::timeout(Duration::from_secs(60), run).await;

    assert!(crashed.is_err(), "the invocation never ended by itself");
    assert_eq!(scene.versions().len(), 1, "the publish itself happened");
    assert!(scene.text("000001/deployment.json").is_none());
    assert!(scene.lease_held(), "nobody released it");
    let early = scene.invoke(event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");

    scene.clock().advance(LEASE_TTL);
    let retry = scene.invoke(event).await.expect("retried");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "no second version");
    assert!(scene.text("000001/deployment.json").is_some(), "repaired");
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_write_after_the_publish_hands_the_lease_to_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::FailBefore, 1);

    let error = scene.invoke(event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "S3Error");
    assert!(
        error.error_message.contains("deployment.json"),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.lease_handed_over(), "handed to the next delivery");

    // Lambda's first retry, before the lease would have expired.
    let retry = scene.invoke(event).await.expect("finished at once");

    assert_eq!(
        outcome(&retry),
        OutcomeKind::Published,
        "it finishes the publish"
    );
    assert_eq!(retry.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    let record: Value =
        serde_json::from_str(&scene.text("000001/deployment.json").expect("written"))
            .expect("JSON");
    assert_eq!(record["outcome"], "published", "its publish's, not adopted");
    assert!(record["source_etag"].is_string(), "{record}");
    assert!(
        !scene.lease_held() && !scene.lease_handed_over(),
        "released"
    );
}

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
    let calls = scene.aws.take_calls();
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
    let calls = scene.aws.take_calls();
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
    let calls = scene.aws.take_calls();
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
    let mut keys_before = scene.aws.keys(BUCKET);
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
            scene.aws.keys(BUCKET),
            keys_before,
            "{delivery}: nothing recorded"
        );
        // The first delivery keeps the lease (a version exists that is not
        // recorded); the retry comes once it has expired.
        scene.clock().advance(LEASE_TTL);
    }
}

#[tokio::test(start_paused = true)]
async fn the_seeds_metadata_key_is_read() {
    let scene = Scene::new();
    let event = scene.upload_with(LOCK_V1, "build 1", "manifest_md5", None);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(response.results[0].manifest_md5, Some(md5(LOCK_V1)));
    assert!(scene.versions()[0].1.ends_with(&md5(LOCK_V1)));
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_a_record_write_is_found_complete_by_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deployment.json", Fault::LoseAnswer, 1);

    let error = scene.invoke(event.clone()).await.expect_err("answer lost");

    assert_eq!(error.error_type, "S3Error");
    assert!(
        scene.text("000001/deployment.json").is_some(),
        "the write stood"
    );
    assert!(
        scene.lease_handed_over(),
        "the function could not know: it handed the lease over"
    );

    let retry = scene.invoke(event).await.expect("retried at once");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deployment.json"),
        1,
        "nothing left to repair: {calls:?}"
    );
    // Nothing to finish: the retry ends before the lease, which is left to
    // expire (another upload meanwhile waits for it, as for a held one).
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        2,
        "the first delivery's take and hand-over, nothing by the retry: {calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delivery_during_a_slow_publish_waits_for_it_and_finds_the_lock_file_published() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    let slow = Fault::Slow(Duration::from_secs(15));
    scene.aws.inject(Op::PublishLayerVersion, "", slow, 1);

    let first = tokio::spawn({
        let publisher = scene.publisher();
        let event = event.clone();
        async move { invoke(&publisher, event).await }
    });
    let second = invoke(&scene.publisher(), event).await.expect("waited");
    let first = first.await.unwrap().expect("published");

    let mut outcomes = [outcome(&first), outcome(&second)];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [OutcomeKind::Published, OutcomeKind::Unchanged]);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    assert!(
        Scene::count(&calls, Op::ListObjectsV2, "deps.lease") > 3,
        "the other delivery looked again while the publish was in flight: {calls:?}"
    );
}

/// Issue 10, fault 2: S3 applied the lease write and the answer was lost.
#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_the_lease_write_is_recognised_as_its_own_lease() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::LoseAnswer, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "released");
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::PutObject, "deps.lease"),
        2,
        "the lost take, then the release; no second take: {calls:?}"
    );
}

/// Issue 10, fault 2: the lease write applied, its answer was lost, and
/// the SDK's retry of it got 412 against the function's own lease.
#[tokio::test(start_paused = true)]
async fn a_lease_write_refused_on_retry_after_applying_is_recognised_as_its_own() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    let started = scene.clock().now();
    let fault = Fault::AppliedThenRefused;
    scene.aws.inject(Op::PutObject, "deps.lease", fault, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert!(!scene.lease_held(), "released");
    let waited = scene.clock().now().duration_since(started).unwrap();
    assert!(
        waited < Duration::from_secs(1),
        "no wait on its own lease: {waited:?}"
    );
}

/// In a KMS-encrypted bucket no ETag is an MD5: lock files are read, and a
/// lease whose write lost its answer is recognised by the holder it names.
#[tokio::test(start_paused = true)]
async fn in_a_kms_bucket_a_lost_lease_answer_is_recognised_by_its_holder() {
    let scene = Scene::new();
    scene.aws.encrypt_with_kms(BUCKET);
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutObject, "deps.lease", Fault::LoseAnswer, 1);

    let response = scene.invoke(event.clone()).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::GetObject, "deps.lease"),
        1,
        "the holder read once: {calls:?}"
    );
    assert!(
        Scene::count(&calls, Op::GetObject, "requirements.txt") >= 1,
        "lock file read, not its ETag"
    );

    let again = scene.invoke(event).await.expect("unchanged");
    assert_eq!(outcome(&again), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1);
}

/// Issue 10, fault 1: Lambda applied the publish and the answer was lost.
#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_the_publish_finds_the_version_by_its_marker_and_records_it() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::LoseAnswer, 1);

    let response = scene.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(result.code_sha256, Some(code_sha256(&zip("build 1"))));
    assert_eq!(scene.versions().len(), 1, "not published twice");
    assert!(scene.text("000001/deployment.json").is_some());
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(!scene.lease_held());
}

/// A 503 before Lambda applied the publish: nothing carries the marker, so
/// it is published again, once.
#[tokio::test(start_paused = true)]
async fn a_publish_that_failed_before_applying_is_published_again_after_a_look() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::FailBefore, 1);

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::PublishLayerVersion, ""),
        2,
        "{calls:?}"
    );
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

/// `PublishLayerVersion` got no answer (the SDK's timeout abandoned it) and
/// Lambda applies it late, after the function has looked and found no
/// version: sending it again would give two versions. The record fails
/// keeping the lease; the retry after the lease expires finds the version.
#[tokio::test(start_paused = true)]
async fn a_publish_without_an_answer_that_applies_late_is_never_sent_again() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::NoAnswer, 1);

    let error = scene.invoke(event.clone()).await.expect_err("no answer");

    assert_eq!(error.error_type, "PublishUnconfirmed");
    assert!(
        error.error_message.contains("may still apply"),
        "{}",
        error.error_message
    );
    let calls = scene.aws.take_calls();
    assert_eq!(Scene::count(&calls, Op::PublishLayerVersion, ""), 1);
    assert!(scene.lease_held(), "kept until it expires");
    // Lambda applies the abandoned call now.
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene.aws.publish_by_hand(LAYER, &marker, &zip("build 1"));
    scene.clock().advance(LEASE_TTL);

    let retry = scene.invoke(event).await.expect("the retry records it");

    assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
    assert_eq!(scene.versions().len(), 1, "{:?}", scene.versions());
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held());
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

/// Fault 5: the guarantee is per layer. Two folders whose uploads name the
/// same layer and carry the same lock file, delivered at once (each twice):
/// one version.
#[tokio::test(start_paused = true)]
async fn two_folders_with_one_lock_file_for_one_layer_at_once_publish_one_version() {
    let scene = Scene::new();
    let other = "projects/other/lambda/layer";
    let events = [
        scene.upload(LOCK_V1, "build 1"),
        scene.upload_to(other, LOCK_V1, "build 1 elsewhere"),
    ];

    let deliveries: Vec<_> = events
        .iter()
        .flat_map(|event| [event.clone(), event.clone()])
        .map(|event| {
            let publisher = scene.publisher();
            tokio::spawn(async move { invoke(&publisher, event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        let response = delivery.await.unwrap().expect("every delivery succeeds");
        outcomes.push(outcome(&response));
    }

    assert_eq!(scene.versions().len(), 1, "{outcomes:?}");
    let published = outcomes
        .iter()
        .filter(|o| **o == OutcomeKind::Published)
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(!scene.lease_held());
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

/// The copy Lambda is to take from fails (before applying, or applied with
/// its answer lost): nothing is published, the lease is released, and the
/// retry copies again and publishes once.
#[tokio::test(start_paused = true)]
async fn a_failed_copy_of_the_publish_source_publishes_nothing_until_the_retry() {
    for fault in [Fault::FailBefore, Fault::LoseAnswer] {
        let scene = Scene::new();
        let event = scene.upload(LOCK_V1, "build 1");
        scene
            .aws
            .inject(Op::CopyObject, "publish-source.zip", fault, 1);

        let error = scene.invoke(event.clone()).await.expect_err("copy failed");

        assert_eq!(error.error_type, "S3Error", "{fault:?}");
        assert!(scene.versions().is_empty(), "{fault:?}");
        assert!(
            !scene.lease_held(),
            "{fault:?}: nothing published, released"
        );

        let retry = scene.invoke(event).await.expect("retried");

        assert_eq!(outcome(&retry), OutcomeKind::Published, "{fault:?}");
        assert_eq!(scene.versions().len(), 1, "{fault:?}");
    }
}

/// `LATEST_PARAMETER`, the layer's pointer.
const POINTER: &str = "/layer-autopublish/deps/latest";

fn with_pointer() -> Config {
    Config {
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..Config::default()
    }
}

fn arn(version: i64) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:layer:{LAYER}:{version}")
}

/// Issue 11, the latest pointer: it names each new version, from any
/// folder, and never moves back: not for a late event, not below a newer
/// version it names.
#[tokio::test(start_paused = true)]
async fn the_latest_pointer_follows_each_published_version_and_never_moves_back() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let other = "projects/other/lambda/layer";
    let a = scene.upload(LOCK_V1, "build 1");
    scene.clock().advance(Duration::from_secs(1));
    invoke(&publisher, a.clone()).await.expect("v1");
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    scene.clock().advance(Duration::from_secs(60));
    let b = scene.upload_to(other, LOCK_V2, "build 2");
    invoke(&publisher, b).await.expect("v2");
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)));

    let late = invoke(&publisher, a).await.expect("late");

    assert_eq!(outcome(&late), OutcomeKind::Unchanged);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)), "not moved back");

    // A newer version than the one published: left as it is.
    scene.aws.put_parameter_by_hand(POINTER, &arn(9));
    scene.clock().advance(Duration::from_secs(60));
    let c = scene.upload("boto3==1.35.2\n", "build 3");
    invoke(&publisher, c).await.expect("v3");
    assert_eq!(scene.versions().len(), 3);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(9)));
}

/// The pointer's write fails after the publish: the record fails keeping
/// the lease, without its deployment record; the retry moves the pointer and
/// writes the record. With every record there, the pointer costs nothing:
/// `unchanged` stays at 3 calls.
#[tokio::test(start_paused = true)]
async fn a_failed_pointer_write_after_the_publish_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutParameter, POINTER, Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone())
        .await
        .expect_err("SSM failed");

    assert_eq!(error.error_type, "SsmError");
    assert!(
        error.error_message.contains(POINTER),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 1);
    assert!(
        scene.lease_handed_over(),
        "a version exists without its records"
    );
    assert!(scene.text("000001/deployment.json").is_none());

    let retry = invoke(&publisher, event.clone()).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
    scene.aws.take_calls();

    let again = invoke(&publisher, event).await.expect("unchanged");

    assert_eq!(outcome(&again), OutcomeKind::Unchanged);
    assert_eq!(scene.aws.take_calls().len(), 3, "nothing missing: 3 calls");
}

fn sharing(with: &str) -> Config {
    Config {
        share_with: layer_autopublish::sharing::Grantee::parse_list(with).expect("grantees"),
        ..Config::default()
    }
}

/// Issue 11, sharing: each new version is shared with every grantee, and a
/// grant that failed, or applied with its answer lost, is finished by the
/// retry without a second statement.
#[tokio::test(start_paused = true)]
async fn each_new_version_is_shared_and_a_failed_grant_is_finished_by_the_first_retry() {
    for fault in [Fault::FailBefore, Fault::LoseAnswer] {
        let scene = Scene::new();
        let publisher = scene.publisher_with(sharing("123456789012,o-a1b2c3d4e5,*"));
        let event = scene.upload(LOCK_V1, "build 1");
        // The second grant fails.
        scene
            .aws
            .meanwhile(Op::AddLayerVersionPermission, "", move |aws| {
                aws.inject(Op::AddLayerVersionPermission, "", fault, 1);
            });

        let error = invoke(&publisher, event.clone())
            .await
            .expect_err("grant failed");

        assert_eq!(error.error_type, "LambdaError", "{fault:?}");
        assert!(scene.lease_handed_over(), "{fault:?}: records incomplete");
        assert!(scene.text("000001/deployment.json").is_none());

        let retry = invoke(&publisher, event).await.expect("finished");

        assert_eq!(outcome(&retry), OutcomeKind::Published, "{fault:?}");
        let ids: Vec<String> = scene
            .aws
            .grants(LAYER, 1)
            .into_iter()
            .map(|g| g.statement_id)
            .collect();
        assert_eq!(
            ids,
            [
                "layer-autopublish-123456789012",
                "layer-autopublish-o-a1b2c3d4e5",
                "layer-autopublish-public"
            ],
            "{fault:?}: each grant once"
        );
        assert!(scene.text("000001/deployment.json").is_some());
    }
}

fn announcing() -> Config {
    Config {
        event_bus: Some("layers".into()),
        ..Config::default()
    }
}

/// Issue 11, the event per new version: one `Layer Version Published` per
/// publish, its detail the outcome; nothing for an unchanged, ignored or
/// superseded record, nor for a version another tool published.
#[tokio::test(start_paused = true)]
async fn each_new_version_is_announced_once_and_nothing_else_is() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    let event = scene.upload(LOCK_V1, "build 1");
    invoke(&publisher, event.clone()).await.expect("v1");
    invoke(&publisher, event).await.expect("unchanged");
    let mut ignored = scene.upload(LOCK_V1, "build 1");
    ignored["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
    invoke(&publisher, ignored).await.expect("ignored");
    scene.clock().advance(Duration::from_secs(60));
    let second = scene.upload(LOCK_V2, "build 2");
    invoke(&publisher, second).await.expect("v2");

    let events = scene.aws.events();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, version) in events.iter().zip([1, 2]) {
        assert_eq!(event.bus, "layers");
        assert_eq!(event.source, "layer-autopublish");
        assert_eq!(event.detail_type, "Layer Version Published");
        let detail: Value = serde_json::from_str(&event.detail).expect("JSON");
        assert_eq!(detail["outcome"], "published");
        assert_eq!(detail["layer_version"], version);
        assert_eq!(detail["layer_version_arn"], arn(version).as_str());
    }

    // A version the seed published, adopted: not announced.
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    scene.aws.publish_by_hand(LAYER, "", &zip("seed build"));
    scene.aws.put_object(
        BUCKET,
        &key("000001/requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let adopted = scene.upload(LOCK_V1, "build 1");
    assert_eq!(
        outcome(&invoke(&publisher, adopted).await.expect("adopted")),
        OutcomeKind::Unchanged
    );
    assert!(scene.aws.events().is_empty());
}

/// The event's put fails after the publish: the record fails keeping the
/// lease; the retry announces the version and writes the record.
#[tokio::test(start_paused = true)]
async fn a_failed_announcement_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.inject(Op::PutEvents, "", Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "EventBridgeError");
    assert!(scene.aws.events().is_empty());
    assert!(scene.text("000001/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    invoke(&publisher, event).await.expect("finished");

    let events = scene.aws.events();
    assert_eq!(events.len(), 1);
    let detail: Value = serde_json::from_str(&events[0].detail).expect("JSON");
    assert_eq!(detail["outcome"], "published");
    assert_eq!(detail["layer_version"], 1);
    assert!(scene.text("000001/deployment.json").is_some());
}

/// Issue 13: the lock file's copies and `deployment.json` are written at
/// once. A copy that fails does not hold the record back; the record fails
/// keeping the lease, and the retry, finding the version's record, writes
/// only the missing copy.
#[tokio::test(start_paused = true)]
async fn a_failed_lock_file_copy_beside_the_record_is_made_by_the_first_retry() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.inject(
        Op::CopyObject,
        "last-requirements.txt",
        Fault::FailBefore,
        1,
    );

    let error = scene.invoke(event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "S3Error");
    assert!(scene.text("000001/deployment.json").is_some());
    assert_eq!(
        scene.text("000001/requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    assert!(scene.text("last-requirements.txt").is_none());
    assert!(
        scene.lease_handed_over(),
        "a version exists without all its records"
    );

    scene.aws.take_calls();
    let response = scene.invoke(event).await.expect("repaired");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(
        scene.text("last-requirements.txt").as_deref(),
        Some(LOCK_V1)
    );
    let calls = scene.aws.take_calls();
    assert_eq!(
        Scene::count(&calls, Op::CopyObject, ""),
        1,
        "only the missing copy: {calls:?}"
    );
    assert!(!scene.lease_held() && !scene.lease_handed_over());
}

fn keeping(versions: usize, prune_records: bool) -> Config {
    Config {
        keep_versions: Some(versions),
        prune_records,
        ..Config::default()
    }
}

/// Publishes lock files 1 to `n` in turn, a minute apart.
async fn publish_in_turn(scene: &Scene, publisher: &Publisher<FakeAws, ManualClock>, n: usize) {
    for i in 1..=n {
        scene.clock().advance(Duration::from_secs(60));
        let event = scene.upload(&format!("boto3==1.35.{i}\n"), &format!("build {i}"));
        let response = invoke(publisher, event).await.expect("published");
        assert_eq!(outcome(&response), OutcomeKind::Published);
    }
}

/// Issue 11, retention: after each publish only the newest N stay; the
/// versions deleted are in the outcome and its record; with PRUNE_RECORDS
/// their records go too. A dry run says what would go.
#[tokio::test(start_paused = true)]
async fn retention_keeps_the_newest_versions_and_a_dry_run_says_what_would_go() {
    let scene = Scene::new();
    publish_in_turn(&scene, &scene.publisher_with(keeping(2, true)), 3).await;

    let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 3]);
    assert!(scene.text("000001/deployment.json").is_none(), "pruned");
    assert!(scene.text("000001/requirements.txt").is_none(), "pruned");
    let record: Value =
        serde_json::from_str(&scene.text("000003/deployment.json").expect("v3's record"))
            .expect("JSON");
    assert_eq!(record["deleted_versions"], serde_json::json!([1]));

    let dry = Config {
        dry_run: true,
        ..keeping(2, true)
    };
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload("boto3==1.35.9\n", "build 9");
    let response = invoke(&scene.publisher_with(dry), event)
        .await
        .expect("dry run");
    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::WouldPublish);
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(
        reason.ends_with("retention would then delete versions [2]"),
        "{reason}"
    );
    assert_eq!(result.would_delete_versions, [2], "as data too");
    assert_eq!(result.would_delete_arns, [arn(2)]);
    assert_eq!(scene.versions().len(), 2, "nothing deleted");

    // Without PRUNE_RECORDS the records stay as history.
    let scene = Scene::new();
    publish_in_turn(&scene, &scene.publisher_with(keeping(1, false)), 2).await;
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.text("000001/deployment.json").is_some(), "history");
}

/// A deletion fails after the publish: the record fails keeping the lease;
/// the retry finishes retention and writes the record.
#[tokio::test(start_paused = true)]
async fn a_failed_deletion_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(keeping(1, false));
    publish_in_turn(&scene, &publisher, 1).await;
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload("boto3==1.35.7\n", "build 7");
    scene
        .aws
        .inject(Op::DeleteLayerVersion, "", Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "LambdaError");
    assert_eq!(scene.versions().len(), 2);
    assert!(scene.text("000002/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);

    let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2]);
    assert!(scene.text("000002/deployment.json").is_some());
}

fn following(functions: &str) -> Config {
    Config {
        followers: layer_autopublish::followers::parse_list(functions).expect("functions"),
        ..Config::default()
    }
}

const OTHER_LAYER: &str = "arn:aws:lambda:us-east-1:123456789012:layer:other:4";

/// Issue 11, moving consumers: a function on an older version is moved to
/// the new one, its other layers kept in order; one that does not use the
/// layer is left alone and reported.
#[tokio::test(start_paused = true)]
async fn followers_on_an_older_version_are_moved_and_the_others_left_alone() {
    let scene = Scene::new();
    let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
    scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
    let last = format!("{OTHER_LAYER}2");
    scene
        .aws
        .create_function("api", &[OTHER_LAYER.into(), arn(1), last.clone()]);
    scene.aws.create_function("worker", &[OTHER_LAYER.into()]);
    let publisher = scene.publisher_with(following("api,worker"));
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload(LOCK_V1, "build 1");

    let response = invoke(&publisher, event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.layer_version, Some(2));
    let said: Vec<(&str, &str)> = result
        .followers
        .iter()
        .map(|f| (f.function.as_str(), f.result.as_str()))
        .collect();
    assert_eq!(said, [("api", "moved"), ("worker", "not_using")]);
    assert_eq!(
        scene.aws.layers_of("api"),
        Some(vec![OTHER_LAYER.into(), arn(2), last]),
        "in place, the others kept in order"
    );
    assert_eq!(
        scene.aws.layers_of("worker"),
        Some(vec![OTHER_LAYER.into()])
    );
}

/// A follower busy with another update for the whole wait: the publish
/// stands, the record fails listing each follower, and the retry moves it.
#[tokio::test(start_paused = true)]
async fn a_busy_follower_never_undoes_the_publish_and_the_first_retry_moves_it() {
    let scene = Scene::new();
    let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
    scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
    scene.aws.create_function("api", &[arn(1)]);
    let publisher = scene.publisher_with(following("api"));
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::UpdateFunctionConfiguration, "api", Fault::Conflict, 4);

    let error = invoke(&publisher, event.clone()).await.expect_err("busy");

    assert_eq!(error.error_type, "FollowersNotMoved");
    assert!(
        error.error_message.contains("api busy"),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 2, "the publish stands");
    assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(1)]));
    assert!(scene.text("000002/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(2)]));
    assert!(scene.text("000002/deployment.json").is_some());
}

/// Issue 21: every part on; a fault in any part after the publish (each
/// write failing before it applies, or applying and losing its answer; a
/// follower busy throughout; a region's publish refused) fails the record
/// and hands the lease over. The first retry, at once, takes it and
/// finishes: the pointer, the grant, the follower and the deletions end as
/// if nothing had failed, one version, and only the event may come twice
/// (at least once), with the same version.
#[tokio::test(start_paused = true)]
async fn a_fault_after_any_part_of_the_publish_is_finished_by_an_immediate_redelivery() {
    let parts = [
        (Op::PutParameter, ""),
        (Op::AddLayerVersionPermission, ""),
        (Op::UpdateFunctionConfiguration, ""),
        (Op::DeleteLayerVersion, ""),
        (Op::PutEvents, ""),
        (Op::CopyObject, "last-requirements.txt"),
        (Op::CopyObject, "000002/requirements.txt"),
        (Op::CopyObject, "artifacts-eu"),
        (Op::PublishLayerVersion, "eu-west-1:"),
        (Op::PutParameter, "eu-west-1:"),
        (Op::PutObject, "deployment.json"),
    ];
    let mut cases: Vec<(Op, &str, Fault, usize)> = Vec::new();
    for (op, target) in parts {
        // A region's publish is tried 3 times before the record fails.
        let times = if op == Op::PublishLayerVersion { 3 } else { 1 };
        cases.push((op, target, Fault::FailBefore, times));
        // A lost answer to the publish is found by its marker: no failure.
        if op != Op::PublishLayerVersion {
            cases.push((op, target, Fault::LoseAnswer, 1));
        }
    }
    cases.push((Op::UpdateFunctionConfiguration, "", Fault::Conflict, 4));
    for (op, target, fault, times) in cases {
        let case = format!("{op:?} {target} {fault:?}");
        let scene = replica_scene();
        let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
        scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
        scene.aws.create_function("api", &[arn(1)]);
        let config = Config {
            latest_parameter: with_pointer().latest_parameter,
            share_with: sharing("123456789012").share_with,
            followers: following("api").followers,
            keep_versions: Some(1),
            event_bus: Some("layers".into()),
            replicate_to: layer_autopublish::replicas::parse_list("eu-west-1=artifacts-eu")
                .expect("a region"),
            ..Config::default()
        };
        let publisher = scene.publisher_with(config);
        scene.clock().advance(Duration::from_secs(60));
        let event = scene.upload(LOCK_V1, "build 1");
        scene.aws.inject(op, target, fault, times);

        let failed = invoke(&publisher, event.clone()).await.expect_err(&case);
        assert!(scene.lease_handed_over(), "{case}: {failed:?}");
        let retry = invoke(&publisher, event).await;

        let retry = retry.unwrap_or_else(|e| panic!("{case}: the first retry failed: {e:?}"));
        // A lost answer to the last record's write (the deployment record,
        // a lock file copy) left nothing to finish: the retry ends unchanged.
        let last_record = op == Op::PutObject || target.ends_with("requirements.txt");
        let finished = fault == Fault::LoseAnswer && last_record;
        let expected = match finished {
            true => OutcomeKind::Unchanged,
            false => OutcomeKind::Published,
        };
        assert_eq!(outcome(&retry), expected, "{case}");
        assert_eq!(retry.results[0].layer_version, Some(2), "{case}");
        assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)), "{case}");
        assert_eq!(scene.aws.grants(LAYER, 2).len(), 1, "{case}");
        assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(2)]), "{case}");
        let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [2], "{case}");
        let eu = scene.aws.region("eu-west-1").versions(LAYER);
        assert_eq!(eu.len(), 1, "{case}: one version in the region");
        let events = scene.aws.events();
        assert!(matches!(events.len(), 1 | 2), "{case}: {events:?}");
        assert!(events.iter().all(|e| e.detail.contains(&arn(2))), "{case}");
        assert!(scene.text("000002/deployment.json").is_some(), "{case}");
        assert_eq!(
            scene.text("last-requirements.txt").as_deref(),
            Some(LOCK_V1),
            "{case}"
        );
        assert!(!scene.lease_held(), "{case}");
        assert_eq!(scene.lease_handed_over(), finished, "{case}");
    }
}

/// Issue 12, many layers: an upload naming a layer outside ALLOWED_LAYERS is
/// refused once its HEAD tells the name, before any call on that layer and
/// any write; one inside the set (a prefix entry) publishes to the layer it
/// names.
#[tokio::test]
async fn a_layer_outside_the_allowed_set_is_refused_before_any_call_on_it() {
    let scene = Scene::new();
    let config = Config {
        allowed_layers: layer_autopublish::allowed::AllowedLayers::parse("deps,team-*")
            .expect("a set"),
        ..Config::default()
    };
    let publisher = scene.publisher_with(config);
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
    scene.aws.take_calls();
    let refused = invoke(&publisher, outside).await.expect_err("refused");
    assert_eq!(refused.error_type, "LayerNotAllowed");
    assert!(refused.error_message.contains("other-deps"), "{refused:?}");
    assert!(refused.error_message.contains("deps,team-*"), "{refused:?}");
    // The zip's HEAD, and at the same time (issue 13) the versions of
    // LAYER_NAME's layer, which the HEAD showed it does not name: nothing
    // on the named layer, nothing written.
    let calls = scene.aws.take_calls();
    let ops: Vec<Op> = calls.iter().map(|c| c.op).collect();
    assert_eq!(ops.len(), 2, "{calls:?}");
    assert!(ops.contains(&Op::HeadObject), "{calls:?}");
    assert!(ops.contains(&Op::ListLayerVersions), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c.target.contains("other-deps")),
        "{calls:?}"
    );
    assert!(scene.aws.versions("other-deps").is_empty());

    let inside = upload("team-data");
    let response = invoke(&publisher, inside).await.expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.aws.versions("team-data").len(), 1);
}

/// Issue 12, other regions: each region of REPLICATE_TO.
fn replicated() -> Config {
    Config {
        replicate_to: layer_autopublish::replicas::parse_list(
            "eu-west-1=artifacts-eu,ap-south-1=artifacts-ap",
        )
        .expect("targets"),
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..Config::default()
    }
}

fn replica_scene() -> Scene {
    let scene = Scene::new();
    scene.aws.create_bucket("artifacts-eu");
    scene.aws.create_bucket("artifacts-ap");
    scene.aws.enable_versioning("artifacts-ap");
    scene
}

/// Issue 12, other regions: after the home publish, each region gets its
/// version of the same zip (copied to its bucket, carrying the same marker,
/// its own pointer), and the record names them all; the next upload of the
/// same lock file costs nothing in any region.
#[tokio::test]
async fn each_region_gets_the_version_and_the_record_names_them_all() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");

    let response = invoke(&publisher, event)
        .await
        .expect("published everywhere");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    for (region, bucket) in [
        ("eu-west-1", "artifacts-eu"),
        ("ap-south-1", "artifacts-ap"),
    ] {
        let there = scene.aws.region(region);
        assert_eq!(there.versions(LAYER), [(1, marker.clone())], "{region}");
        assert_eq!(
            scene.aws.object(bucket, &key("publish-source.zip")),
            Some(zip("build 1")),
            "{region} published from a copy in its own bucket"
        );
        let replica = result
            .replicas
            .iter()
            .find(|r| r.region == region)
            .expect("a replica per region");
        assert_eq!(replica.outcome, "published");
        assert_eq!(
            there.parameter(POINTER).as_deref(),
            Some(replica.layer_version_arn.as_str())
        );
    }
    let record: serde_json::Value =
        serde_json::from_str(&scene.text("000001/deployment.json").expect("recorded")).unwrap();
    assert_eq!(record["replicas"].as_array().map(Vec::len), Some(2));
    assert_eq!(scene.versions().len(), 1, "one version at home");

    scene.aws.take_calls();
    let again = scene.upload(LOCK_V1, "build 2");
    let response = invoke(&publisher, again).await.expect("unchanged");
    assert_eq!(response.results[0].outcome, OutcomeKind::Unchanged);
    let calls = scene.aws.take_calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.target.contains("eu-west-1:") || c.target.contains("ap-south-1:")),
        "no call in another region once recorded: {calls:?}"
    );
}

/// Issue 12, a region that fails: the others are done, the record fails
/// keeping the lease, and the redelivery publishes only where the lock file
/// is missing: one version per region in the end.
#[tokio::test]
async fn a_failed_region_is_published_by_the_first_retry_and_only_there() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "ap-south-1:", Fault::FailBefore, 3);

    let failed = invoke(&publisher, event.clone())
        .await
        .expect_err("ap failed");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed.error_message.contains("ap-south-1: LambdaError"),
        "{failed:?}"
    );
    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert!(scene.aws.region("ap-south-1").versions(LAYER).is_empty());
    assert!(scene.text("000001/deployment.json").is_none());
    assert!(scene.lease_handed_over(), "no publish pending: handed over");

    let response = invoke(&publisher, event).await.expect("finished");

    let result = &response.results[0];
    let outcome_in = |region: &str| {
        result
            .replicas
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.outcome.clone())
    };
    assert_eq!(outcome_in("eu-west-1").as_deref(), Some("unchanged"));
    assert_eq!(outcome_in("ap-south-1").as_deref(), Some("published"));
    for region in ["eu-west-1", "ap-south-1"] {
        assert_eq!(
            scene.aws.region(region).versions(LAYER).len(),
            1,
            "{region}"
        );
    }
    assert_eq!(scene.versions().len(), 1);
    let record = scene.text("000001/deployment.json").expect("recorded");
    assert!(record.contains("ap-south-1"), "{record}");
}

/// Issue 12, a replica's publish that applies and loses its answer is found
/// by its marker in that region, not published twice.
#[tokio::test]
async fn a_replica_publish_that_lost_its_answer_is_not_sent_again() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "eu-west-1:", Fault::LoseAnswer, 1);

    let response = invoke(&publisher, event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert_eq!(scene.aws.region("ap-south-1").versions(LAYER).len(), 1);
}

/// Issue 13: the versions read at the same time as the HEAD are a guess; a
/// guess that failed (or one that hung until its timeout and failed) is
/// read again by the first look, and the record goes on.
#[tokio::test]
async fn a_failed_read_of_the_versions_beside_the_head_is_read_again() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::ListLayerVersions, "", Fault::FailBefore, 1);
    scene.aws.take_calls();

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    let first_three: Vec<Op> = calls.iter().take(3).map(|c| c.op).collect();
    assert_eq!(
        first_three,
        [Op::ListLayerVersions, Op::HeadObject, Op::ListLayerVersions],
        "the guess, the HEAD, the versions read again: {calls:?}"
    );
}

/// Issue 12: in an unversioned bucket, a zip overwritten after the home
/// publish cannot be copied to a region (its copy is pinned to the checked
/// ETag): that region fails as a zip overwritten after its event, not as a
/// bug of the function's.
#[tokio::test]
async fn a_zip_overwritten_before_its_copy_to_a_region_fails_that_region_plainly() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.meanwhile(Op::PublishLayerVersion, "deps", |aws| {
        let v2 = md5(LOCK_V2);
        let metadata = [("manifest-md5", v2.as_str())];
        aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
    });

    let failed = invoke(&publisher, event).await.expect_err("no copy");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed.error_message.contains("eu-west-1: LayerZipNotFound"),
        "{}",
        failed.error_message
    );
    assert!(
        !failed.error_message.contains("bug"),
        "{}",
        failed.error_message
    );
    assert!(scene.aws.region("eu-west-1").versions(LAYER).is_empty());
    assert_eq!(
        scene.versions().len(),
        1,
        "home published from its own copy"
    );
}

/// A publisher with the latest pointer, and the event of an upload whose
/// first delivery published version 1, failed writing the pointer, and
/// handed the lease over.
async fn handed_over_after_a_failed_pointer_write(
    scene: &Scene,
) -> (Publisher<FakeAws, ManualClock>, Value) {
    let publisher = scene.publisher_with(with_pointer());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutParameter, POINTER, Fault::FailBefore, 1);
    invoke(&publisher, event.clone())
        .await
        .expect_err("SSM failed");
    assert!(scene.lease_handed_over());
    (publisher, event)
}

/// Issue 21: the pointer's write fails after the publish, leaving the lease
/// handed over; two deliveries of the same upload then race for it. One
/// takes it and finishes; the other, refused, waits and finds the version
/// complete. Neither answers `PublishInProgress`; one version.
#[tokio::test(start_paused = true)]
async fn two_deliveries_racing_for_a_handed_over_lease_finish_once() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;

    let first = tokio::spawn({
        let publisher = publisher.clone();
        let event = event.clone();
        async move { invoke(&publisher, event).await }
    });
    let second = invoke(&publisher, event).await.expect("the second");
    let first = first.await.expect("joined").expect("the first");

    let mut outcomes = [outcome(&first), outcome(&second)];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [OutcomeKind::Published, OutcomeKind::Unchanged]);
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held() && !scene.lease_handed_over());
}

/// Issue 21: the delivery that took a handed-over lease is killed while
/// finishing (its write never answers). Nobody can tell dead from slow: the
/// lease it holds is waited out, and the first delivery after it expires
/// finishes; one version.
#[tokio::test(start_paused = true)]
async fn a_delivery_killed_after_taking_the_hand_over_is_waited_out_then_finished() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;
    scene.aws.inject(Op::PutParameter, POINTER, Fault::Hang, 1);

    let killed = tokio::time::timeout(Duration::from_secs(60), invoke(&publisher, event.clone()));
    assert!(
        killed.await.is_err(),
        "the invocation never ended by itself"
    );
    assert!(scene.lease_held(), "the killed delivery held it");
    let early = invoke(&publisher, event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");

    scene.clock().advance(LEASE_TTL);
    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(retry.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held() && !scene.lease_handed_over());
}

/// Issue 21: a lease handed over to one upload's deliveries is not another
/// upload's to take: a different lock file from another folder waits for it
/// as for a held lease (`PublishInProgress` once its wait is over), and
/// publishes once the first upload's retry finished and released it.
#[tokio::test(start_paused = true)]
async fn another_upload_waits_for_a_lease_handed_over_to_the_first() {
    let scene = Scene::new();
    let (publisher, first) = handed_over_after_a_failed_pointer_write(&scene).await;
    let other = scene.upload_to("projects/other/layer", LOCK_V2, "build 2");

    let waited = invoke(&publisher, other.clone()).await.expect_err("waits");

    assert_eq!(waited.error_type, "PublishInProgress");
    assert!(
        waited.error_message.contains("handed over"),
        "{}",
        waited.error_message
    );
    assert_eq!(scene.versions().len(), 1, "nothing published meanwhile");

    let finished = invoke(&publisher, first).await.expect("finished");
    assert_eq!(outcome(&finished), OutcomeKind::Published);
    let next = invoke(&publisher, other).await.expect("published");
    assert_eq!(outcome(&next), OutcomeKind::Published);
    assert_eq!(next.results[0].layer_version, Some(2));
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)));
}

/// Issue 21: `PublishLayerVersion` got no answer, and Lambda applies it a
/// few seconds later. The invocation never sends it again: it looks for the
/// marker again, with backoff, finds the version and records it, all in the
/// same invocation.
#[tokio::test(start_paused = true)]
async fn a_publish_without_an_answer_that_applies_soon_is_found_in_the_same_invocation() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::NoAnswer, 1);
    let run = tokio::spawn({
        let publisher = scene.publisher();
        async move { invoke(&publisher, event).await }
    });
    // Lambda applies the abandoned call 5 s later.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene.aws.publish_by_hand(LAYER, &marker, &zip("build 1"));

    let response = run.await.expect("joined").expect("found");

    assert_eq!(outcome(&response), OutcomeKind::Published);
    assert_eq!(response.results[0].layer_version, Some(1));
    assert_eq!(scene.versions().len(), 1);
    let calls = scene.aws.take_calls();
    assert_eq!(Scene::count(&calls, Op::PublishLayerVersion, ""), 1);
    assert!(
        Scene::count(&calls, Op::ListLayerVersions, "") >= 4,
        "looked again: {calls:?}"
    );
    assert!(scene.text("000001/deployment.json").is_some());
    assert!(!scene.lease_held());
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

/// Issue 21: a region's `PublishLayerVersion` gets no answer and no version
/// shows there while the record looks: that publish may still apply, so the
/// lease is kept until it expires, not handed over (a retry at once could
/// publish the region twice). The first delivery after it finds the
/// region's version, late, and publishes nothing more anywhere.
#[tokio::test(start_paused = true)]
async fn a_regions_unanswered_publish_keeps_the_lease_instead_of_handing_it_over() {
    let scene = replica_scene();
    let publisher = scene.publisher_with(replicated());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "eu-west-1:", Fault::NoAnswer, 1);

    let failed = invoke(&publisher, event.clone())
        .await
        .expect_err("pending");

    assert_eq!(failed.error_type, "ReplicasNotPublished");
    assert!(
        failed
            .error_message
            .contains("eu-west-1: PublishUnconfirmed"),
        "{failed:?}"
    );
    assert!(
        scene.lease_held() && !scene.lease_handed_over(),
        "kept, not handed over"
    );
    let early = invoke(&publisher, event.clone()).await.expect_err("held");
    assert_eq!(early.error_type, "PublishInProgress");
    // Lambda applies the abandoned call in the region.
    let marker = format!("manifest-md5:{}", md5(LOCK_V1));
    scene
        .aws
        .region("eu-west-1")
        .publish_by_hand(LAYER, &marker, &zip("build 1"));
    scene.clock().advance(LEASE_TTL);

    invoke(&publisher, event).await.expect("finished");

    assert_eq!(scene.aws.region("eu-west-1").versions(LAYER).len(), 1);
    assert_eq!(scene.aws.region("ap-south-1").versions(LAYER).len(), 1);
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.text("000001/deployment.json").is_some());
}

/// Issue 21: the read of a handed-over lease's body fails once (a 503): the
/// delivery does not take that for "handed to another upload" and wait out
/// its 20 s; it reads again at its next look, takes the lease and finishes.
#[tokio::test(start_paused = true)]
async fn a_failed_read_of_the_hand_over_is_read_again_at_the_next_look() {
    let scene = Scene::new();
    let (publisher, event) = handed_over_after_a_failed_pointer_write(&scene).await;
    scene
        .aws
        .inject(Op::GetObject, "deps.lease", Fault::FailBefore, 1);
    let started = scene.clock().now();

    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    let waited = scene
        .clock()
        .now()
        .duration_since(started)
        .unwrap_or_default();
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
}
