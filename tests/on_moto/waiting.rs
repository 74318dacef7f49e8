//! `layerctl upload --wait` (issue 34) against moto, while the function,
//! run here as Lambda would run it (the same request id for its retries),
//! settles the upload: published, unchanged, refused at once, a failed
//! attempt then a retry that publishes, every attempt failed, and no
//! receipt in time. The function's own receipts are what layerctl reads.

use crate::common::recorder::{Fault, Recorder};
use crate::common::{moto_endpoint, world, World, REGION};
use crate::layerctl::{upload_args, Scratch};
use crate::support::*;
use lambda_runtime::{Context, LambdaEvent};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::{handle, Publisher};
use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `layerctl upload --wait` of `build` built from `lock`, running.
fn upload_waiting(w: &World, local: &Scratch, build: &str, lock: &str, more: &[&str]) -> Child {
    let zip = local.file("layer.zip", &zip_bytes(build));
    let lock = local.file("requirements.txt", lock.as_bytes());
    let s3_dir = format!("s3://{}/{DIR}", w.bucket);
    let mut flags = vec!["--wait", "--json"];
    flags.extend_from_slice(more);
    Command::new(env!("CARGO_BIN_EXE_layerctl"))
        .args(["--endpoint-url", moto_endpoint(), "--region", REGION])
        .args(upload_args(&zip, &lock, &s3_dir, &flags))
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("layerctl runs")
}

/// S3's event for the zip once `build` is the one in the folder.
async fn event_once_uploaded(w: &World, build: &str) -> Value {
    w.event_once_uploaded(&key("layer.zip"), build).await
}

/// The function given `event` as Lambda runs it, with `request_id`.
async fn run_function(publisher: &Publisher<Aws>, event: &Value, request_id: &str) -> bool {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    handle(publisher, LambdaEvent::new(event.clone(), context))
        .await
        .is_ok()
}

fn finished(child: Child) -> (Option<i32>, Value, String) {
    let output: Output = child.wait_with_output().expect("layerctl ends");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), json, stderr)
}

#[tokio::test]
async fn wait_ends_with_the_version_published_or_matched() {
    let w = world("wait published").await;
    let local = Scratch::new(&format!("wait-published-{}", w.layer));
    let publisher = w.publisher(w.config());

    let child = upload_waiting(&w, &local, "build 1", LOCK_V1, &[]);
    let event = event_once_uploaded(&w, "build 1").await;
    assert!(run_function(&publisher, &event, "req-1").await);
    let (code, json, stderr) = finished(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["receipt"]["outcome"], "published");
    let arn = format!(":layer:{}:1", w.layer);
    assert!(
        json["receipt"]["layer_version_arn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&arn)),
        "{json}"
    );

    // The same lock file rebuilt: unchanged, the version it matches.
    let child = upload_waiting(&w, &local, "build 1 again", LOCK_V1, &[]);
    let event = event_once_uploaded(&w, "build 1 again").await;
    assert!(run_function(&publisher, &event, "req-2").await);
    let (code, json, stderr) = finished(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["receipt"]["outcome"], "unchanged");
    assert_eq!(json["receipt"]["layer_version"], 1);
}

#[tokio::test]
async fn a_refused_upload_ends_the_wait_at_its_first_attempt() {
    let w = world("wait refused").await;
    let local = Scratch::new(&format!("wait-refused-{}", w.layer));
    let publisher = w.publisher(Config {
        allowed_layers: layer_autopublish::domain::allowed::AllowedLayers::parse(&w.layer)
            .expect("allowed layers"),
        ..w.config()
    });
    let other = format!("{}-other", w.layer);
    let child = upload_waiting(&w, &local, "build 1", LOCK_V1, &["--layer-name", &other]);
    let event = event_once_uploaded(&w, "build 1").await;
    assert!(!run_function(&publisher, &event, "req-1").await);
    let (code, _, stderr) = finished(child);
    assert_eq!(code, Some(3), "refused: {stderr}");
    assert!(stderr.contains("LayerNotAllowed"), "{stderr}");
}

/// Lambda's retries through a proxy that refuses the publish while told.
#[tokio::test]
async fn a_failed_attempt_is_shown_and_the_retry_that_publishes_ends_the_wait() {
    let w = world("wait retried").await;
    let local = Scratch::new(&format!("wait-retried-{}", w.layer));
    let recorder = Recorder::start(moto_endpoint());
    let sdk = crate::common::sdk_config(&recorder.endpoint).await;
    let publisher = Publisher::new(Aws::new(&sdk), w.config(), REGION);
    let refuse_the_publish = || {
        recorder.fault(Some((
            Fault::Refuse,
            Box::new(|seen| seen.method == "POST" && seen.path.contains("/layers/")),
        )));
    };

    refuse_the_publish();
    let child = upload_waiting(&w, &local, "build 1", LOCK_V1, &[]);
    let event = event_once_uploaded(&w, "build 1").await;
    assert!(
        !run_function(&publisher, &event, "req-1").await,
        "attempt 1"
    );
    // layerctl sees the failed attempt before the retry comes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    recorder.fault(None);
    assert!(run_function(&publisher, &event, "req-1").await, "attempt 2");
    let (code, json, stderr) = finished(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["receipt"]["outcome"], "published");
    assert!(
        json["receipt"].get("attempt").is_none(),
        "a settled receipt names no attempt: {json}"
    );

    // Every attempt refused: after the third, Lambda gives up.
    refuse_the_publish();
    let child = upload_waiting(&w, &local, "build 2", LOCK_V2, &[]);
    let event = event_once_uploaded(&w, "build 2").await;
    for attempt in 1..=3 {
        assert!(
            !run_function(&publisher, &event, "req-2").await,
            "attempt {attempt}"
        );
    }
    let (code, _, stderr) = finished(child);
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("attempt 3 failed"), "{stderr}");
    assert!(stderr.contains("failed-events queue"), "{stderr}");
}

#[tokio::test]
async fn no_receipt_in_time_is_a_timeout() {
    let w = world("wait timeout").await;
    let local = Scratch::new(&format!("wait-timeout-{}", w.layer));
    let child = upload_waiting(&w, &local, "build 1", LOCK_V1, &["--timeout", "3s"]);
    let started = std::time::Instant::now();
    let (code, _, stderr) = finished(child);
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains("no receipt at s3://"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it gave up in time"
    );
}
