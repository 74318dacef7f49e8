//! Test support: a moto server (the local AWS) started once per test binary
//! on a free loopback port, SDK clients pointed at it, and S3 events built
//! from the samples in `events/`.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod calls;
pub mod recorder;
pub mod runtime_api;

use aws_sdk_lambda::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::config::Config;
use layer_autopublish::ports::{Clock, Ports};
use layer_autopublish::{handle, Publisher, Response};
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// A running moto server. The shell wrapper kills it when our end of its
/// stdin closes, which happens when the test process exits, however it exits.
pub struct Moto {
    pub endpoint: String,
    _guard: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The project's pinned moto server: `MOTO_SERVER` when set, else the one
/// `make tools` installs in `.venv` (never whichever is first on `PATH`: an
/// older moto answers some calls differently).
fn moto_server() -> String {
    if let Ok(server) = std::env::var("MOTO_SERVER") {
        return server;
    }
    let pinned = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/moto_server");
    assert!(
        std::path::Path::new(pinned).exists(),
        "{pinned} is missing: run `make tools` once (it installs the pinned moto server \
         of scripts/python-tools.txt), or set MOTO_SERVER to a moto_server of that version"
    );
    pinned.to_owned()
}

fn start_moto() -> Moto {
    Moto::start(&[&moto_server()])
}

impl Moto {
    /// A server run by `command` (a moto server, or a script that runs one),
    /// given `-H 127.0.0.1 -p PORT` on a free loopback port.
    pub fn start(command: &[&str]) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let script = format!(
            "\"$@\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; \
             trap 'kill $pid 2>/dev/null; wait $pid' EXIT; read _ignored"
        );
        let guard = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("moto")
            .args(command)
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh to start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto server ({command:?}) did not listen on 127.0.0.1:{port} within 60 s; \
                 run the tests with `make test`, which installs it, or set MOTO_SERVER"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _guard: guard,
        }
    }
}

/// The local AWS: the one at `MOTO_ENDPOINT` when set (`make unit` starts
/// one for every test binary), else a moto server of this binary's own.
pub fn moto_endpoint() -> &'static str {
    static SHARED: OnceLock<Option<String>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
    });
    match shared {
        Some(endpoint) => endpoint,
        None => &MOTO.get_or_init(start_moto).endpoint,
    }
}

/// One test's corner of the local AWS: its own bucket and layer name.
pub struct World {
    pub sdk: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub aws: Aws,
    pub bucket: String,
    pub layer: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub async fn world(test: &str) -> World {
    world_on(moto_endpoint(), test, true).await
}

/// A world on the server at `endpoint`; its bucket is created only when
/// `with_bucket` (else a stack creates it).
pub async fn world_on(endpoint: &str, test: &str, with_bucket: bool) -> World {
    let sdk = sdk_config(endpoint).await;
    let aws = Aws::new(&sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let slug: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // Unique per process too: the test binaries of `make unit` share one
    // moto server.
    let id = format!("{n}-{}", std::process::id());
    let bucket = format!("t{id}-{}", &slug[..slug.len().min(40)]);
    if with_bucket {
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
    }
    World {
        sdk,
        s3,
        lambda,
        aws,
        bucket,
        layer: format!("layer-{id}-{}", &slug[..slug.len().min(40)]),
    }
}

/// The SDK configuration of the tests: the function's own (its retries and
/// TLS), at `endpoint`, in [`REGION`], with moto's test credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    layer_autopublish::adapters::aws::config_loader()
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A layer zip: a real zip archive holding one file, so its bytes differ per
/// `content`.
pub fn zip_bytes(content: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer
        .start_file("python/marker.txt", stored)
        .expect("zip entry");
    std::io::Write::write_all(&mut writer, content.as_bytes()).expect("zip content");
    writer.finish().expect("zip archive").into_inner()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    layer_autopublish::domain::manifest::ManifestMd5::of(bytes).to_string()
}

impl World {
    /// Puts an object; returns its ETag (unquoted) and version id.
    pub async fn put(
        &self, key: &str, body: &[u8], metadata: &[(&str, &str)],
    ) -> (String, Option<String>) {
        let mut request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()));
        for (k, v) in metadata {
            request = request.metadata(*k, *v);
        }
        let out = request.send().await.expect("put object");
        (
            out.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
            out.version_id().map(str::to_owned),
        )
    }

    /// Stages the lock file and uploads the zip as `upload` does, with an
    /// `x-amz-checksum-sha256`: the SDK's own (`None`) or the one given,
    /// which moto stores without checking it against the bytes.
    pub async fn upload_with_sha256(
        &self, dir: &str, lock: &str, zip: &str, claimed: Option<&str>,
    ) -> Value {
        self.put(&format!("{dir}/requirements.txt"), lock.as_bytes(), &[])
            .await;
        let key = format!("{dir}/layer.zip");
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .set_checksum_sha256(claimed.map(str::to_owned))
            .metadata("manifest-md5", md5_hex(lock.as_bytes()))
            .body(ByteStream::from(zip_bytes(zip)));
        let out = request.send().await.expect("put object");
        let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_owned();
        self.event(&key, Some(&etag))
    }

    /// The SHA-256 S3 keeps for an object, when it was uploaded with one.
    pub async fn stored_sha256(&self, key: &str) -> Option<String> {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .expect("head object")
            .checksum_sha256()
            .map(str::to_owned)
    }

    /// Stages `lock` at `{dir}/{manifest}`, then uploads `{dir}/layer.zip`
    /// with the matching `manifest-md5` (the uploader's order), and returns
    /// the event S3 would send.
    pub async fn upload(&self, dir: &str, manifest: &str, lock: &str, zip: &str) -> Value {
        self.put(&format!("{dir}/{manifest}"), lock.as_bytes(), &[])
            .await;
        self.upload_zip(dir, zip, &[("manifest-md5", &md5_hex(lock.as_bytes()))])
            .await
    }

    /// Uploads `{dir}/layer.zip` with `metadata` and returns its event.
    pub async fn upload_zip(&self, dir: &str, zip: &str, metadata: &[(&str, &str)]) -> Value {
        let key = format!("{dir}/layer.zip");
        let (etag, version_id) = self.put(&key, &zip_bytes(zip), metadata).await;
        let mut event = self.event(&key, Some(&etag));
        if let Some(version_id) = version_id {
            event["Records"][0]["s3"]["object"]["versionId"] = Value::from(version_id);
        }
        event
    }

    /// The sample `events/put-layer-zip.json` for this bucket and `key`.
    pub fn event(&self, key: &str, etag: Option<&str>) -> Value {
        let mut event = sample("put-layer-zip.json");
        set_object(&mut event["Records"][0], &self.bucket, key, etag);
        event
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(out.body.collect().await.expect("body").to_vec()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(e) => panic!("get {key}: {e:?}"),
        }
    }

    pub async fn get_text(&self, key: &str) -> Option<String> {
        self.get(key)
            .await
            .map(|b| String::from_utf8(b).expect("utf-8"))
    }

    /// Asserts that `key` holds `expected`.
    pub async fn assert_text(&self, key: &str, expected: &str) {
        assert_eq!(
            self.get_text(key).await.as_deref(),
            Some(expected),
            "s3://{}/{key}",
            self.bucket
        );
    }

    /// The key of this world's layer's lease.
    pub fn lease_key(&self) -> String {
        layer_autopublish::domain::layout::LeaseKey::of_layer(&self.bucket, &self.layer).key
    }

    /// Whether the layer's lease is released (or was never taken): a held
    /// lease is exactly `HELD_LEASE_BYTES` long.
    pub async fn lease_released(&self) -> bool {
        match self.get(&self.lease_key()).await {
            None => true,
            Some(body) => {
                (body.len() as u64) < layer_autopublish::domain::lease_state::HELD_LEASE_BYTES
            }
        }
    }

    /// S3's event for the zip at `key` once another process (`layerctl
    /// upload`) has put `build` there: its ETag, as the notification gives it.
    pub async fn event_once_uploaded(&self, key: &str, build: &str) -> Value {
        let etag = md5_hex(&zip_bytes(build));
        for _ in 0..600 {
            let head = self
                .s3
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await;
            if head.is_ok_and(|h| h.e_tag().map(|e| e.trim_matches('"')) == Some(etag.as_str())) {
                return self.event(key, Some(&etag));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{build} was not uploaded to {key}");
    }

    /// Every key in the bucket but the uploads' receipts (written after
    /// each record, `publish/receipts.rs`), sorted.
    pub async fn record_keys(&self) -> Vec<String> {
        let mut keys = self.keys().await;
        keys.retain(|key| !layer_autopublish::domain::receipt::is_receipt_key(key));
        keys
    }

    /// Every key in the bucket, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("list objects");
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    /// The layer's versions as (version, description), oldest first.
    pub async fn versions(&self) -> Vec<(i64, String)> {
        self.versions_of(&self.layer).await
    }

    pub async fn versions_of(&self, layer: &str) -> Vec<(i64, String)> {
        let out = self
            .lambda
            .list_layer_versions()
            .layer_name(layer)
            .send()
            .await
            .expect("list layer versions");
        let mut versions: Vec<(i64, String)> = out
            .layer_versions()
            .iter()
            .map(|v| (v.version(), v.description().unwrap_or_default().to_owned()))
            .collect();
        versions.sort();
        versions
    }

    /// Turns versioning on for this world's bucket.
    pub async fn enable_versioning(&self) {
        self.enable_versioning_of(&self.bucket).await;
    }

    /// A bucket of this world's in eu-west-1 (a replica region's): its name.
    pub async fn create_eu_bucket(&self) -> String {
        let eu_bucket = format!("{}-eu", self.bucket);
        let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
            .build();
        self.s3
            .create_bucket()
            .bucket(&eu_bucket)
            .create_bucket_configuration(location)
            .send()
            .await
            .expect("a bucket in eu-west-1");
        eu_bucket
    }

    /// Versioning on for `bucket` (another of this world's, a replica's).
    pub async fn enable_versioning_of(&self, bucket: &str) {
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }

    /// The function's configuration for this world: publish to its layer.
    pub fn config(&self) -> Config {
        Config {
            layer_name: Some(self.layer.clone()),
            ..Config::default()
        }
    }

    pub fn publisher(&self, config: Config) -> Publisher<Aws> {
        Publisher::new(self.aws.clone(), config, REGION)
    }

    /// A new SQS queue of this world's: its URL and ARN.
    pub async fn queue(&self, name: &str) -> Queue {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let created = sqs
            .create_queue()
            .queue_name(format!("{name}-{}", self.layer))
            .send()
            .await
            .expect("a queue");
        let url = created.queue_url().unwrap_or_default().to_owned();
        let arn_name = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(arn_name.clone())
            .send()
            .await
            .expect("its attributes")
            .attributes()
            .and_then(|a| a.get(&arn_name))
            .cloned()
            .unwrap_or_default();
        Queue { sqs, url, arn }
    }

    /// Invokes the handler with this world's default configuration.
    pub async fn invoke(&self, event: Value) -> Result<Response, Diagnostic> {
        invoke(&self.publisher(self.config()), event).await
    }
}

pub async fn invoke<A: Ports, C: Clock>(
    publisher: &Publisher<A, C>, event: Value,
) -> Result<Response, Diagnostic> {
    handle(publisher, LambdaEvent::new(event, Context::default()))
        .await
        .map_err(Diagnostic::from)
}

/// A sample event from `events/`.
pub fn sample(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("sample event");
    serde_json::from_str(&text).expect("sample event is JSON")
}

/// Points one record at `bucket`/`key` (URL-encoded as S3 does) with `etag`.
pub fn set_object(record: &mut Value, bucket: &str, key: &str, etag: Option<&str>) {
    record["s3"]["bucket"]["name"] = Value::from(bucket);
    record["s3"]["bucket"]["arn"] = Value::from(format!("arn:aws:s3:::{bucket}"));
    record["s3"]["object"]["key"] = Value::from(encode_key(key));
    match etag {
        Some(etag) => record["s3"]["object"]["eTag"] = Value::from(etag),
        None => {
            if let Some(object) = record["s3"]["object"].as_object_mut() {
                object.remove("eTag");
            }
        }
    }
}

/// S3's form-style encoding of keys in notifications (the library's, which
/// `layerctl invoke` uses to build events).
pub use layer_autopublish::domain::event::encode_key;

/// An SQS queue on moto.
pub struct Queue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
}

impl Queue {
    /// Every message waiting, received once (and so hidden for the queue's
    /// visibility timeout).
    pub async fn receive(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("received")
            .messages()
            .to_vec()
    }

    /// The bodies of every message waiting, as JSON.
    pub async fn bodies(&self) -> Vec<Value> {
        self.receive()
            .await
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("a JSON body"))
            .collect()
    }
}
