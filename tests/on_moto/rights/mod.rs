//! Every call allowed by the role, proved with an IAM policy engine. moto
//! enforces no IAM, so each test deploys nothing but runs the function (in
//! process) and `layerctl upload` (the real binary) against moto through a
//! recording proxy, for one way of deploying the template; maps every HTTP
//! request they sent to what IAM is asked (`requests.rs`: the action, the
//! resource, the condition keys, and what AWS asks on the caller's behalf);
//! resolves the template for that parameter set as CloudFormation would
//! (`engine.rs`); and evaluates each request against the role's policies (the
//! function's, and the Lambda platform's own: logs, the failed-events queue,
//! the source queue) and CI's policy. Every request must be allowed, and
//! every right of those policies must be needed: removing any one of them
//! denies some request (the mutation test, run beside it).
//!
//! Together the three deployments make every call the function's AWS
//! adapter can make (`src/adapters/aws/`), which the test checks too.

mod engine;
mod requests;

use crate::common::recorder::{Fault, Recorder, Seen};
use crate::common::{invoke, World, REGION};
use crate::layerctl::{layerctl_via, upload_args, Scratch};
use crate::support::*;
use engine::{rights_of, simulate, without, Stack};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::Publisher;
use requests::{IamRequest, Surroundings, ACCOUNT};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

/// One deployment under test: its stack, the function as the stack
/// configures it (its clients through the proxy), and what was sent.
struct Deployment<'a> {
    w: &'a World,
    stack: Stack,
    recorder: Recorder,
    publisher: Publisher<Aws>,
    function_sent: Vec<Seen>,
    ci_sent: Vec<Seen>,
    /// Invocations that failed, each then sent to the on-failure
    /// destination (an asynchronous trigger's).
    failed: usize,
    local: Scratch,
}

impl<'a> Deployment<'a> {
    async fn new(w: &'a World, parameters: &[(&str, &str)]) -> Deployment<'a> {
        let parameters: BTreeMap<String, String> = parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let stack = Stack::resolve(&parameters);
        let environment = stack.environment();
        let config = Config::from_lookup(|name| environment.get(name).cloned())
            .expect("the stack's environment starts the function");
        let recorder = Recorder::start(crate::common::moto_endpoint());
        let sdk = crate::common::sdk_config(&recorder.endpoint).await;
        let publisher = Publisher::new(Aws::new(&sdk), config, REGION);
        Deployment {
            w,
            stack,
            recorder,
            publisher,
            function_sent: Vec::new(),
            ci_sent: Vec::new(),
            failed: 0,
            local: Scratch::new(&format!("rights-{}", w.layer)),
        }
    }

    /// `layerctl upload` of a zip of `build` (`size` bytes of it) and
    /// `lock` to `dir`, as CI runs it.
    fn upload(&mut self, dir: &str, build: &str, size: usize, lock: &str) -> Output {
        let content = format!("{build}{}", "x".repeat(size.saturating_sub(build.len())));
        let zip = self.local.file("layer.zip", &zip_bytes(&content));
        let lock = self.local.file("requirements.txt", lock.as_bytes());
        let s3_dir = format!("s3://{}/{dir}", self.w.bucket);
        let endpoint = self.recorder.endpoint.clone();
        let output = layerctl_via(self.w, &endpoint, &upload_args(&zip, &lock, &s3_dir, &[]));
        self.ci_sent.extend(self.recorder.take());
        output
    }

    /// `layerctl upload --wait`, as CI runs it: the upload, then the
    /// function's run of its event, then the receipt CI reads. CI's
    /// requests go through a recorder of their own, as they run beside the
    /// function's.
    async fn upload_waiting(
        &mut self, dir: &str, build: &str, lock: &str,
    ) -> (Output, Result<layer_autopublish::Response, String>) {
        let zip = self.local.file("layer.zip", &zip_bytes(build));
        let lock = self.local.file("requirements.txt", lock.as_bytes());
        let s3_dir = format!("s3://{}/{dir}", self.w.bucket);
        let ci = Recorder::start(crate::common::moto_endpoint());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_layerctl"))
            .args(["--endpoint-url", &ci.endpoint, "--region", REGION])
            .args(upload_args(&zip, &lock, &s3_dir, &["--wait"]))
            .env_clear()
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("layerctl runs");
        let zip_key = format!("{dir}/layer.zip");
        self.w.event_once_uploaded(&zip_key, build).await;
        let result = self.invoke(self.event(&zip_key).await).await;
        let output = child.wait_with_output().expect("layerctl ends");
        self.ci_sent.extend(ci.take());
        (output, result)
    }

    /// The function given `event`; what it sent is kept.
    async fn invoke(&mut self, event: Value) -> Result<layer_autopublish::Response, String> {
        let result = invoke(&self.publisher, event)
            .await
            .map_err(|d| format!("{}: {}", d.error_type, d.error_message));
        if result.is_err() {
            self.failed += 1;
        }
        self.function_sent.extend(self.recorder.take());
        result
    }

    /// S3's notification of `key` as it is now: its ETag and version id
    /// (read beside the recorder: not one of the function's requests); a
    /// key that is gone by then gets one of its own.
    async fn event(&self, key: &str) -> Value {
        let head = self
            .w
            .s3
            .head_object()
            .bucket(&self.w.bucket)
            .key(key)
            .send()
            .await;
        let (etag, version) = match &head {
            Ok(h) => (
                h.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
                h.version_id().map(str::to_owned),
            ),
            Err(_) => ("0".repeat(32), None),
        };
        let mut event = self.w.event(key, Some(&etag));
        if let Some(version) = version {
            event["Records"][0]["s3"]["object"]["versionId"] = Value::from(version);
        }
        event
    }

    /// Proves the deployment's requests against its policies; `platform`:
    /// what Lambda does with the role besides the function's own calls.
    /// The operations the function made are added to `made`; each right
    /// of the policies to `needed`, true when removing it denies a request.
    fn prove(
        self, asynchronous: bool, made: &mut BTreeSet<String>, needed: &mut BTreeMap<String, bool>,
    ) {
        let around = Surroundings {
            bucket: self.w.bucket.clone(),
            bucket_policy: self.stack.bucket_policy(),
            kms_key: key_of(&self.stack.resource("PublisherRole")["Properties"]),
        };
        let mut unmapped = Vec::new();
        let mut map = |sent: &[Seen]| -> Vec<IamRequest> {
            let mut out = Vec::new();
            for seen in sent {
                match requests::of_http(seen, &around) {
                    Ok(asked) => out.extend(asked),
                    Err(why) => unmapped.push(why),
                }
            }
            dedup(out)
        };
        for seen in &self.function_sent {
            made.insert(requests::operation(seen));
        }
        let mut role_requests = map(&self.function_sent);
        let ci_requests = map(&self.ci_sent);
        assert!(unmapped.is_empty(), "requests not mapped: {unmapped:#?}");
        role_requests.extend(requests::platform_logs(&self.stack.log_group(), REGION));
        if asynchronous && self.failed > 0 {
            let queue = self.stack.failed_events_queue_arn();
            role_requests.push(requests::platform_failed_event(&queue, REGION));
        }
        let source_queue = self.stack.resource("QueuedUploads")["Properties"]["EventSourceArn"]
            .as_str()
            .map(str::to_owned);
        if let Some(queue) = source_queue {
            role_requests.extend(requests::platform_queue_reads(&queue, REGION));
        }

        let role = self.stack.role_policies();
        let ci = self.stack.ci_policies();
        assert!(!ci_requests.is_empty(), "CI uploaded something");
        let role_rights = rights_of(&role);
        let ci_rights = rights_of(&ci);
        let mut checks: Vec<(Vec<Value>, &[IamRequest])> =
            vec![(role.clone(), &role_requests), (ci.clone(), &ci_requests)];
        for right in &role_rights {
            checks.push((without(&role, right), &role_requests));
        }
        for right in &ci_rights {
            checks.push((without(&ci, right), &ci_requests));
        }
        let decisions = simulate(&checks);

        let refused = |requests: &[IamRequest], decisions: &[String]| -> Vec<String> {
            requests
                .iter()
                .zip(decisions)
                .filter(|(_, d)| *d != "Allowed")
                .map(|(r, d)| {
                    format!(
                        "{d}: {} on {} {:?} (from {})",
                        r.action, r.resource, r.context, r.from
                    )
                })
                .collect()
        };
        let role_refused = refused(&role_requests, &decisions[0]);
        assert!(
            role_refused.is_empty(),
            "the role refuses: {role_refused:#?}"
        );
        let ci_refused = refused(&ci_requests, &decisions[1]);
        assert!(
            ci_refused.is_empty(),
            "CI's policy refuses: {ci_refused:#?}"
        );
        let names = self.names();
        let mutants = role_rights
            .iter()
            .map(|r| ("role", r))
            .chain(ci_rights.iter().map(|r| ("CI", r)));
        for ((whose, right), decisions) in mutants.zip(&decisions[2..]) {
            let name = format!(
                "{whose} {} {} {}",
                right.sid,
                right.field,
                names.general(&right.value)
            );
            let denies_some = decisions.iter().any(|d| d != "Allowed");
            *needed.entry(name).or_default() |= denies_some;
        }
    }

    /// What makes this deployment's names its own, to name a right the same
    /// way in every deployment.
    fn names(&self) -> Names {
        Names {
            bucket: self.w.bucket.clone(),
            layer: self.w.layer.clone(),
        }
    }
}

struct Names {
    bucket: String,
    layer: String,
}

impl Names {
    /// `value` with this deployment's bucket and layer names as placeholders
    /// (and a KMS key's id as `{key}`).
    fn general(&self, value: &str) -> String {
        let value = value
            .replace(&self.bucket, "{bucket}")
            .replace(&self.layer, "{layer}");
        match value.split_once(":key/") {
            Some((head, _)) => format!("{head}:key/{{key}}"),
            None => value,
        }
    }
}

/// The KMS key the role's policy names, when it names one.
fn key_of(role_properties: &Value) -> Option<String> {
    let statements = role_properties["Policies"][0]["PolicyDocument"]["Statement"].as_array()?;
    statements
        .iter()
        .find(|s| s["Sid"] == "UseTheBucketsKey")
        .and_then(|s| s["Resource"].as_str().map(str::to_owned))
}

/// The same authorization asked twice counts once.
fn dedup(requests: Vec<IamRequest>) -> Vec<IamRequest> {
    let mut seen = BTreeSet::new();
    requests
        .into_iter()
        .filter(|r| seen.insert(r.json().to_string()))
        .collect()
}

/// The three ways of deploying below, one after another, and between them
/// every call the function's AWS adapter can make.
#[tokio::test]
async fn every_call_is_allowed_and_every_right_is_needed() {
    let (mut made, mut needed) = (BTreeSet::new(), BTreeMap::new());
    a_created_bucket_with_the_defaults(&mut made, &mut needed).await;
    an_existing_bucket_with_every_part_on(&mut made, &mut needed).await;
    an_existing_kms_bucket_through_a_queue(&mut made, &mut needed).await;
    // A right one deployment grants but does not use may be used by
    // another: each must be needed by at least one.
    let unneeded: Vec<&String> = needed
        .iter()
        .filter(|(_, n)| !**n)
        .map(|(r, _)| r)
        .collect();
    assert!(
        unneeded.is_empty(),
        "rights no request needs (removing each denies nothing): {unneeded:#?}"
    );
    let adapter = adapter_operations();
    assert!(
        adapter.len() >= 15,
        "the adapter's calls were found: {adapter:?}"
    );
    let missing: Vec<&String> = adapter.difference(&made).collect();
    assert!(
        missing.is_empty(),
        "calls no deployment here made: {missing:?}"
    );
}

/// The SDK operations `src/adapters/aws/` calls (`.head_object()` is
/// `HeadObject`), read from its source.
fn adapter_operations() -> BTreeSet<String> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/src/adapters/aws");
    let call = regex::Regex::new(r"\b(?:s3|lambda|ssm\(\)|events\(\))\s*\.\s*([a-z0-9_]+)\(\)")
        .expect("a regex");
    let mut operations = BTreeSet::new();
    for file in ["s3.rs", "lambda.rs", "functions.rs", "ssm.rs", "events.rs"] {
        let text = std::fs::read_to_string(format!("{folder}/{file}")).expect("the adapter");
        for found in call.captures_iter(&text) {
            let pascal: String = found[1]
                .split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect();
            if pascal != "Config" {
                operations.insert(pascal);
            }
        }
    }
    operations
}

/// A stack that creates its bucket, with the defaults: uploads below the
/// prefix and right at it, an unchanged upload, a key outside the prefix
/// (ignored before any call), a zip gone before its event, and a large
/// upload whose part is refused (CI's abort).
async fn a_created_bucket_with_the_defaults(
    made: &mut BTreeSet<String>, needed: &mut BTreeMap<String, bool>,
) {
    let w = world("rights created").await;
    w.enable_versioning().await;
    let parameters = [
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
    ];
    let mut d = Deployment::new(&w, &parameters).await;

    // CI waits for the receipts (`upload --wait`).
    let (waited, published) = d.upload_waiting(DIR, "build 1", LOCK_V1).await;
    assert_exit_ok(&waited);
    let published = published.expect("published");
    assert_eq!(published.results[0].outcome, OutcomeKind::Published);
    // A later build of the same lock file, right at the prefix: its bytes
    // differ from version 1's, which is no fault once it is uploaded after
    // that version (S3's LastModified counts whole seconds).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (waited, root) = d.upload_waiting("projects", "build 2", LOCK_V1).await;
    assert_exit_ok(&waited);
    assert_eq!(
        root.expect("processed").results[0].outcome,
        OutcomeKind::Unchanged
    );

    w.put("other/layer.zip", &zip_bytes("outside"), &[]).await;
    let outside = d
        .invoke(d.event("other/layer.zip").await)
        .await
        .expect("ignored");
    assert_eq!(outside.results[0].outcome, OutcomeKind::Ignored);
    assert!(d.recorder.take().is_empty());
    let gone = d.invoke(d.event("projects/gone/layer.zip").await).await;
    assert!(gone.is_err_and(|e| e.starts_with("LayerZipNotFound")));

    let part = |seen: &Seen| seen.query_param("partNumber").is_some();
    d.recorder.fault(Some((Fault::Refuse, Box::new(part))));
    let refused = d.upload(DIR, "build 3", 17 * 1024 * 1024, LOCK_V2);
    d.recorder.fault(None);
    assert_ne!(
        refused.status.code(),
        Some(0),
        "a refused part fails the upload"
    );
    assert!(
        d.ci_sent
            .iter()
            .any(|s| requests::operation(s) == "AbortMultipartUpload"),
        "the upload was aborted"
    );

    d.prove(true, made, needed);
}

/// An existing bucket through the EventBridge rule, with every optional
/// part on: the latest pointer, sharing, the announcement, retention with
/// pruning, followers (one that uses another layer too, one created only
/// for Lambda's retry: the lease is handed over and read), and a replica
/// region.
async fn an_existing_bucket_with_every_part_on(
    made: &mut BTreeSet<String>, needed: &mut BTreeMap<String, bool>,
) {
    let w = world("rights every part").await;
    w.enable_versioning().await;
    let eu_bucket = w.create_eu_bucket().await;
    // A layer of another name the follower also uses.
    let other = format!("other-{}", w.layer);
    w.put(&key("other.zip"), &zip_bytes("other"), &[]).await;
    let other_arn = publish_another_layer(&w, &other, &key("other.zip")).await;
    let follower = format!("{}-api", w.layer);
    create_function_on_moto(&follower, std::slice::from_ref(&other_arn));
    let late = format!("{}-late", w.layer);
    let function_arn = |name: &str| format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
    let followers = format!("{},{}", function_arn(&follower), function_arn(&late));
    let allowed = format!("{}*", w.layer);
    let replicate_to = format!("eu-west-1={eu_bucket}");
    let parameters = [
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
        ("UseExistingBucket", "true"),
        ("LatestParameter", "/layer-autopublish/{layer}/latest"),
        ("ShareWith", ACCOUNT),
        ("EventBus", "default"),
        ("KeepVersions", "1"),
        ("PruneRecords", "true"),
        ("AllowedLayers", allowed.as_str()),
        ("Followers", followers.as_str()),
        ("ReplicateTo", replicate_to.as_str()),
        ("SweepSchedule", "rate(1 hour)"),
    ];
    let mut d = Deployment::new(&w, &parameters).await;

    assert_exit_ok(&d.upload(DIR, "build 1", 0, LOCK_V1));
    let first = d.invoke(d.event(&key("layer.zip")).await).await;
    assert!(
        first.is_err_and(|e| e.starts_with("FollowersNotMoved")),
        "one follower is missing"
    );
    // Created in time for Lambda's retry, which reads the lease handed over
    // and finishes the record.
    create_function_on_moto(&late, &[]);
    let retry = d.invoke(d.event(&key("layer.zip")).await).await;
    assert_eq!(
        retry.expect("finished").results[0].outcome,
        OutcomeKind::Published
    );
    // The follower now uses version 1, with the other layer.
    let v1 = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{}:1", w.layer);
    w.lambda
        .update_function_configuration()
        .function_name(&follower)
        .layers(&other_arn)
        .layers(&v1)
        .send()
        .await
        .expect("the follower uses version 1");

    // The replica bucket is versioned from now on (its copy is published by
    // version), and the replica's publish loses its answer (the version
    // found is checked).
    w.enable_versioning_of(&eu_bucket).await;
    let replica_publish = |seen: &Seen| {
        seen.scope() == ("eu-west-1".to_owned(), "lambda".to_owned())
            && requests::operation(seen) == "PublishLayerVersion"
    };
    d.recorder
        .fault(Some((Fault::LoseAnswer, Box::new(replica_publish))));
    assert_exit_ok(&d.upload(DIR, "build 2", 0, LOCK_V2));
    let second = d.invoke(d.event(&key("layer.zip")).await).await;
    d.recorder.fault(None);
    let second = second.expect("published");
    assert_eq!(second.results[0].outcome, OutcomeKind::Published);
    let replica = &second.results[0].replicas[0];
    assert_eq!(
        (replica.outcome.as_str(), replica.layer_version),
        ("published", 2)
    );
    let layers = layers_of(&w, &follower).await;
    assert_eq!(layers.len(), 2, "{layers:?}");
    assert!(layers[1].ends_with(":2"), "moved to version 2: {layers:?}");
    assert_eq!(w.versions().await.len(), 1, "version 1 deleted");
    // The scheduled sweep: every upload settled, nothing to do.
    let swept = d
        .invoke(crate::common::sample("scheduled-sweep.json"))
        .await
        .expect("swept");
    assert!(swept.results.is_empty(), "{:?}", swept.results);

    d.prove(true, made, needed);
}

/// An existing bucket encrypted with a KMS key, its notifications read from
/// a queue: a large upload (multipart, under the key), its publish from the
/// queue's batch, and an unchanged one (the lock file read, its ETag no MD5).
async fn an_existing_kms_bucket_through_a_queue(
    made: &mut BTreeSet<String>, needed: &mut BTreeMap<String, bool>,
) {
    let w = world("rights kms queue").await;
    w.enable_versioning().await;
    let key_arn = encrypt_with_a_kms_key(&w).await;
    let queue = w.queue("uploads").await;
    let parameters = [
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
        ("UseExistingBucket", "true"),
        ("SourceQueueArn", queue.arn.as_str()),
        ("KmsKeyArn", key_arn.as_str()),
    ];
    let mut d = Deployment::new(&w, &parameters).await;
    let batch = |event: Value| {
        json!({"Records": [{
            "messageId": "m1", "receiptHandle": "r1", "body": event.to_string(),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue.arn,
            "awsRegion": REGION,
        }]})
    };

    assert_exit_ok(&d.upload(DIR, "build 1", 17 * 1024 * 1024, LOCK_V1));
    let published = d
        .invoke(batch(d.event(&key("layer.zip")).await))
        .await
        .expect("published");
    assert_eq!(published.results[0].outcome, OutcomeKind::Published);
    assert_exit_ok(&d.upload(DIR, "build 2", 0, LOCK_V1));
    let unchanged = d
        .invoke(batch(d.event(&key("layer.zip")).await))
        .await
        .expect("unchanged");
    assert_eq!(unchanged.results[0].outcome, OutcomeKind::Unchanged);

    d.prove(false, made, needed);
}

fn assert_exit_ok(output: &Output) {
    crate::layerctl::assert_exit(output, 0);
}
