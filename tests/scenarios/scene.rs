//! What every scenario shares: one bucket and one layer on the in-memory AWS
//! (`Scene`), the uploads and events made on it, and the configurations of
//! the lifecycle parts. Re-exports what the scenarios use.

pub use lambda_runtime::{Context, Diagnostic, LambdaEvent};
pub use layer_autopublish::adapters::fake::{code_sha256, Call, FakeAws, Fault, ManualClock, Op};
pub use layer_autopublish::domain::event;
pub use layer_autopublish::domain::lease_state::held_body;
pub use layer_autopublish::domain::manifest::ManifestMd5;
pub use layer_autopublish::ports::{Clock, ObjectId};
pub use layer_autopublish::publish::lease::LEASE_TTL;
pub use layer_autopublish::{config::Config, handle, OutcomeKind, Publisher, Response};
pub use serde_json::Value;
pub use std::time::{Duration, UNIX_EPOCH};

pub const BUCKET: &str = "artifacts";

pub const DIR: &str = "projects/app/lambda/layer";

pub const LAYER: &str = "deps";

/// The layer's lease, whatever folder publishes to it.
pub const LEASE: &str = "layer-autopublish/leases/deps.lease";

pub const LOCK_V1: &str = "boto3==1.35.0\n";

pub const LOCK_V2: &str = "boto3==1.35.1\n";

pub fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// A layer zip (pure Python, where Python looks), different per `content`.
pub fn zip(content: &str) -> Vec<u8> {
    zip_of(&[("python/marker.txt", content.as_bytes())])
}

/// A zip archive of `files` (stored: the checks read only its directory).
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        writer.start_file(*name, stored).expect("zip entry");
        std::io::Write::write_all(&mut writer, bytes).expect("zip content");
    }
    writer.finish().expect("zip archive").into_inner()
}

pub fn md5(text: &str) -> String {
    ManifestMd5::of(text.as_bytes()).to_string()
}

/// One bucket, one layer, and what is done to them.
pub struct Scene {
    pub aws: FakeAws,
}

impl Scene {
    pub fn new() -> Self {
        let aws = FakeAws::new();
        aws.create_bucket(BUCKET);
        Self { aws }
    }

    pub fn clock(&self) -> ManualClock {
        self.aws.clock()
    }

    /// Stages `lock`, uploads the zip built from it, and returns S3's event.
    pub fn upload(&self, lock: &str, build: &str) -> Value {
        self.upload_with(lock, build, "manifest-md5", None)
    }

    /// [`Scene::upload`] with the lock file's MD5 under `md5_key` and the
    /// SHA-256 the uploader sent, if any.
    pub fn upload_with(
        &self, lock: &str, build: &str, md5_key: &str, sha256: Option<&str>,
    ) -> Value {
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
    pub fn upload_to(&self, dir: &str, lock: &str, build: &str) -> Value {
        self.upload_to_with(dir, lock, build, &[])
    }

    /// [`Scene::upload_to`], the zip also carrying `metadata`.
    pub fn upload_to_with(
        &self, dir: &str, lock: &str, build: &str, metadata: &[(&str, &str)],
    ) -> Value {
        let md5 = md5(lock);
        let metadata = [&[("manifest-md5", md5.as_str())], metadata].concat();
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

    pub fn event_for(&self, id: &ObjectId, size: usize) -> Value {
        self.event_for_key(&key("layer.zip"), id, size)
    }

    pub fn event_for_key(&self, zip_key: &str, id: &ObjectId, size: usize) -> Value {
        event::object_created(
            "us-east-1",
            BUCKET,
            zip_key,
            id.etag.as_deref(),
            id.version_id.as_deref(),
            size as u64,
        )
    }

    pub fn publisher(&self) -> Publisher<FakeAws, ManualClock> {
        self.publisher_with(Config::default())
    }

    /// A publisher with `config`, publishing to [`LAYER`].
    pub fn publisher_with(&self, config: Config) -> Publisher<FakeAws, ManualClock> {
        let config = Config {
            layer_name: Some(LAYER.into()),
            ..config
        };
        Publisher::with_clock(self.aws.clone(), self.clock(), config, "us-east-1")
    }

    pub async fn invoke(&self, event: Value) -> Result<Response, Diagnostic> {
        invoke(&self.publisher(), event).await
    }

    pub fn versions(&self) -> Vec<(i64, String)> {
        self.aws.versions(LAYER)
    }

    pub fn text(&self, name: &str) -> Option<String> {
        let bytes = self.aws.object(BUCKET, &key(name))?;
        Some(String::from_utf8(bytes).expect("utf-8"))
    }

    pub fn lease_held(&self) -> bool {
        let lease = self.aws.object(BUCKET, LEASE);
        lease.is_some_and(|body| body.len() == 512)
    }

    /// The lease is handed over to the next delivery of an upload (1024
    /// bytes): a delivery published and failed after.
    pub fn lease_handed_over(&self) -> bool {
        let lease = self.aws.object(BUCKET, LEASE);
        lease.is_some_and(|body| body.len() == 1024)
    }

    /// A lease another invocation holds (or held, when it crashed).
    pub fn put_held_lease(&self, holder: &str) {
        let expires = self.clock().now() + LEASE_TTL;
        let secs = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let body = held_body(holder, secs);
        self.aws.put_object(BUCKET, LEASE, &body, &[], None);
    }

    /// The calls made since the last look, of `op` on a target ending in `suffix`.
    pub fn count(calls: &[Call], op: Op, suffix: &str) -> usize {
        calls
            .iter()
            .filter(|c| c.op == op && c.target.ends_with(suffix))
            .count()
    }
}

pub async fn invoke(
    publisher: &Publisher<FakeAws, ManualClock>, event: Value,
) -> Result<Response, Diagnostic> {
    handle(publisher, LambdaEvent::new(event, Context::default()))
        .await
        .map_err(Diagnostic::from)
}

pub fn outcome(response: &Response) -> OutcomeKind {
    response.results[0].outcome
}

/// `LATEST_PARAMETER`, the layer's pointer.
pub const POINTER: &str = "/layer-autopublish/deps/latest";

pub fn with_pointer() -> Config {
    Config {
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..Config::default()
    }
}

/// A deployment serving several layers: `ALLOWED_LAYERS=deps,team-*`.
pub fn many_layers() -> Config {
    Config {
        allowed_layers: layer_autopublish::domain::allowed::AllowedLayers::parse("deps,team-*")
            .expect("a set"),
        ..Config::default()
    }
}

pub fn arn(version: i64) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:layer:{LAYER}:{version}")
}

pub fn sharing(with: &str) -> Config {
    Config {
        share_with: layer_autopublish::lifecycle::sharing::Grantee::parse_list(with)
            .expect("grantees"),
        ..Config::default()
    }
}

pub fn announcing() -> Config {
    Config {
        event_bus: Some("layers".into()),
        ..Config::default()
    }
}

pub fn keeping(versions: usize, prune_records: bool) -> Config {
    Config {
        keep_versions: Some(versions),
        prune_records,
        ..Config::default()
    }
}

/// Publishes lock files 1 to `n` in turn, a minute apart.
pub async fn publish_in_turn(scene: &Scene, publisher: &Publisher<FakeAws, ManualClock>, n: usize) {
    for i in 1..=n {
        scene.clock().advance(Duration::from_secs(60));
        let event = scene.upload(&format!("boto3==1.35.{i}\n"), &format!("build {i}"));
        let response = invoke(publisher, event).await.expect("published");
        assert_eq!(outcome(&response), OutcomeKind::Published);
    }
}

pub fn following(functions: &str) -> Config {
    Config {
        followers: layer_autopublish::lifecycle::followers::parse_list(functions)
            .expect("functions"),
        ..Config::default()
    }
}

pub const OTHER_LAYER: &str = "arn:aws:lambda:us-east-1:123456789012:layer:other:4";

/// Issue 12, other regions: each region of REPLICATE_TO.
pub fn replicated() -> Config {
    Config {
        replicate_to: layer_autopublish::lifecycle::replicas::parse_list(
            "eu-west-1=artifacts-eu,ap-south-1=artifacts-ap",
        )
        .expect("targets"),
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..Config::default()
    }
}

pub fn replica_scene() -> Scene {
    let scene = Scene::new();
    scene.aws.create_bucket("artifacts-eu");
    scene.aws.create_bucket("artifacts-ap");
    scene.aws.enable_versioning("artifacts-ap");
    scene
}

/// A publisher with the latest pointer, and the event of an upload whose
/// first delivery published version 1, failed writing the pointer, and
/// handed the lease over.
pub async fn handed_over_after_a_failed_pointer_write(
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
