//! The real `layer-autopublish` binary, run as several processes at once
//! (as several Lambda instances would), each served the same S3 event by a
//! stand-in Runtime API and talking to moto server: one version, one
//! `published` answer, the others `unchanged`. `make check-binary` runs it
//! again on the release binary that ships (`LAYER_AUTOPUBLISH_BINARY`).

mod common;

use common::runtime_api::RuntimeApi;
use common::world;
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

/// One process of the real binary, served by `api`, on `w`'s layer.
fn function(api: &RuntimeApi, w: &common::World) -> Child {
    Command::new(binary())
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "layer-autopublish")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", common::REGION)
        .env("AWS_ENDPOINT_URL", common::moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("LAYER_NAME", &w.layer)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
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
