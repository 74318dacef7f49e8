//! The real `layer-autopublish` binary, run as several processes at once
//! (as several Lambda instances would), each served the same S3 event by a
//! stand-in Runtime API and talking to moto server: one version, one
//! `published` answer, the others `unchanged`; and its log read as
//! CloudWatch reads it, for the metric lines. `make check-binary` runs it
//! again on the release binary that ships (`LAYER_AUTOPUBLISH_BINARY`), and
//! `make check-binary ARCH=arm64` on the arm64 one under qemu-user
//! (`LAYER_AUTOPUBLISH_RUNNER`, with Debian's arm64 glibc).

use crate::common::runtime_api::RuntimeApi;
use crate::common::world;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROCESSES: usize = 4;

/// Kills the function processes however the test ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The binary under test: the one `LAYER_AUTOPUBLISH_BINARY` names, else
/// this test build's.
fn binary() -> String {
    std::env::var("LAYER_AUTOPUBLISH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_layer-autopublish").to_owned())
}

/// How the binary is started: directly, or by the emulator command
/// `LAYER_AUTOPUBLISH_RUNNER` names, with its arguments (`qemu-aarch64 -L
/// /usr/aarch64-linux-gnu` for the arm64 build on x86_64: `make check-binary
/// ARCH=arm64`).
fn start() -> Command {
    let runner = std::env::var("LAYER_AUTOPUBLISH_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut command = Command::new(emulator);
            command.args(words).arg(binary());
            command
        }
        None => Command::new(binary()),
    }
}

/// One process of the real binary, served by `api`, on `w`'s layer.
fn function(api: &RuntimeApi, w: &crate::common::World) -> Child {
    command(api, w)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// The real binary as Lambda starts it, served by `api`, on `w`'s layer.
fn command(api: &RuntimeApi, w: &crate::common::World) -> Command {
    let mut command = start();
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "layer-autopublish")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", crate::common::REGION)
        .env("AWS_ENDPOINT_URL", crate::common::moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("LAYER_NAME", &w.layer);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_given_one_upload_publish_one_version() {
    let w = world("processes").await;
    let event = w
        .upload(
            "projects/app/layer",
            "requirements.txt",
            "boto3==1.35.0\n",
            "build",
        )
        .await;
    let api = RuntimeApi::start(event, PROCESSES).await;

    let _processes = Processes((0..PROCESSES).map(|_| function(&api, &w)).collect());
    let answers = api.answers(Duration::from_secs(60)).await;

    let outcomes: Vec<String> = answers
        .iter()
        .map(|answer| match answer {
            Ok(response) => response["results"][0]["outcome"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            Err(error) => panic!("an invocation failed: {error}"),
        })
        .collect();
    let published = outcomes.iter().filter(|o| *o == "published").count();
    assert_eq!(published, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o == "published" || o == "unchanged"),
        "{outcomes:?}"
    );
    assert_eq!(w.versions().await.len(), 1);
    assert!(w.lease_released().await);
}

/// serde_json stops at 128 levels of nesting: a payload deeper than that
/// must still get the function's own `InvalidEvent`, not the runtime's
/// deserialisation error, which names no object and no fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_nested_past_serde_jsons_limit_is_an_invalid_event() {
    let w = world("nested payload").await;
    let nested = (0..200).fold(
        serde_json::json!("leaf"),
        |inner, _| serde_json::json!({ "Records": [inner] }),
    );
    let api = RuntimeApi::start(nested, 1).await;
    let _process = Processes(vec![function(&api, &w)]);

    let answers = api.answers(Duration::from_secs(60)).await;

    let error = answers[0].as_ref().expect_err("refused");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the payload is not an S3 event notification"),
        "{message}"
    );
    assert!(
        message.contains("Invoke this function only from an S3"),
        "{message}"
    );
}

/// Issue 21, metrics: every record, failed ones too, leaves one Embedded
/// Metric Format line on the function's log (stdout, in Lambda's JSON log
/// format), read here as CloudWatch Logs reads it: a line that is a JSON
/// object with `_aws` is an EMF event, and each directive must hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_record_leaves_one_metric_line_cloudwatch_can_read() {
    let w = world("metrics").await;
    let good = w
        .upload(
            "projects/app/layer",
            "requirements.txt",
            "boto3==1.35.0\n",
            "build",
        )
        .await;
    let bad = w.upload_zip("projects/bad/layer", "build", &[]).await;
    let mut event = good.clone();
    let records = event["Records"].as_array_mut().expect("records");
    records.push(bad["Records"][0].clone());
    // Delivered twice, one after the other (a race is not what this test is
    // about): published then unchanged; the bad record fails each time.
    let mut log = String::new();
    for _ in 0..2 {
        let api = RuntimeApi::start(event.clone(), 1).await;
        let mut function = command(&api, &w);
        function
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("METRICS_NAMESPACE", "LayerAutopublishTest");
        function.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut processes = Processes(vec![function.spawn().expect("the binary starts")]);

        let answers = api.answers(Duration::from_secs(60)).await;
        assert!(answers[0].is_err(), "the bad record failed");
        let mut process = processes.0.remove(0);
        let _ = process.kill();
        let output = process.wait_with_output().expect("its log");
        log.push_str(&String::from_utf8(output.stdout).expect("UTF-8"));
    }

    let emf: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    let mut said: Vec<(String, String)> = emf
        .iter()
        .map(|line| {
            let (namespace, names) = read_as_cloudwatch_does(line);
            assert_eq!(namespace, "LayerAutopublishTest");
            assert_eq!(line["Layer"], w.layer.as_str(), "{line}");
            let outcome = line["Outcome"].as_str().unwrap_or_default().to_owned();
            let error_type = line["ErrorType"].as_str().unwrap_or_default().to_owned();
            assert_eq!(
                names.contains(&"PublishDuration".to_owned()),
                outcome == "published",
                "{line}"
            );
            (outcome, error_type)
        })
        .collect();
    said.sort();
    let failed = ("failed".to_owned(), "MissingManifestMd5".to_owned());
    assert_eq!(
        said,
        [
            failed.clone(),
            failed,
            ("published".to_owned(), String::new()),
            ("unchanged".to_owned(), String::new()),
        ],
        "{log}"
    );
}

/// Checks one EMF line as CloudWatch does (its specification: a
/// millisecond `Timestamp`; each directive a namespace, dimension sets
/// naming string members of the line, and metrics naming number members
/// with a unit CloudWatch knows), and returns its namespace and metrics.
fn read_as_cloudwatch_does(line: &serde_json::Value) -> (String, Vec<String>) {
    let aws = &line["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{line}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert_eq!(directives.len(), 1, "{line}");
    let directive = &directives[0];
    let namespace = directive["Namespace"].as_str().expect("a namespace");
    for set in directive["Dimensions"].as_array().expect("dimension sets") {
        let set = set.as_array().expect("a dimension set");
        assert!(!set.is_empty() && set.len() <= 30, "{line}");
        for name in set {
            let name = name.as_str().expect("a dimension name");
            let value = line[name].as_str().unwrap_or_default();
            assert!(!value.is_empty() && value.len() <= 1024, "{name} in {line}");
        }
    }
    let units = ["Count", "Milliseconds"];
    let mut names = Vec::new();
    for metric in directive["Metrics"].as_array().expect("metrics") {
        let name = metric["Name"].as_str().expect("a metric name");
        assert!(line[name].is_number(), "{name} in {line}");
        assert!(
            units.contains(&metric["Unit"].as_str().unwrap_or_default()),
            "{line}"
        );
        names.push(name.to_owned());
    }
    (namespace.to_owned(), names)
}
