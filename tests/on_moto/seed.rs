//! The function beside the seed itself: the real `aws-lambda-artifact-builder`
//! (pinned in scripts/python-tools.txt, run by `tests/seed/seed.py`) uploads
//! and publishes against moto with its own code, and the function handles
//! what it leaves. Users switch by deploying the function in place of the
//! seed's publish step (step 4); these tests hold the drop-in section of
//! docs/switching-from-the-seed.md to what really happens.

use crate::common::{md5_hex, moto_endpoint, world, zip_bytes, World, REGION};
use layer_autopublish::config::Config;
use layer_autopublish::domain::outcome::Adopted;
use layer_autopublish::OutcomeKind;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the seed uploads: `{s3dir_lambda}/layer/`.
const DIR: &str = "projects/app/lambda/layer";
const POETRY_LOCK: &str = "[[package]]\nname = \"boto3\"\nversion = \"1.35.0\"\n";

/// A poetry project as the seed's build leaves it: `pyproject.toml`,
/// `poetry.lock`, and `build/lambda/layer/layer.zip`.
struct Project {
    root: PathBuf,
}

impl Project {
    fn new(test: &str, lock: &str, build: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "layer-autopublish-seed-{}-{test}",
            std::process::id()
        ));
        let zip_dir = root.join("build/lambda/layer");
        std::fs::create_dir_all(&zip_dir).expect("project folders");
        std::fs::write(root.join("pyproject.toml"), "[project]\nname = \"app\"\n")
            .expect("pyproject.toml");
        std::fs::write(root.join("poetry.lock"), lock).expect("poetry.lock");
        std::fs::write(zip_dir.join("layer.zip"), zip_bytes(build)).expect("layer.zip");
        Self { root }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs one step of the seed for `project` in `w`'s bucket, and returns
/// the JSON line it prints.
fn seed(w: &World, project: &Project, args: &[&str]) -> Value {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed/seed.py");
    assert!(
        python.exists(),
        "{} is missing: run `make tools` to install the seed",
        python.display()
    );
    let s3dir = format!("s3://{}/projects/app/lambda/", w.bucket);
    let (command, rest) = args.split_first().expect("a command");
    let output = Command::new(python)
        .arg(script)
        .arg(command)
        .arg(&project.root)
        .arg(&s3dir)
        .arg("poetry")
        .args(rest)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the seed runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "seed {args:?} failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// The zip the seed uploaded, as S3 has it now.
async fn head_zip(w: &World) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    w.s3.head_object()
        .bucket(&w.bucket)
        .key(key("layer.zip"))
        .send()
        .await
        .expect("the seed uploaded the zip")
}

/// S3's event for the zip as it is now.
async fn event_for_current_zip(w: &World) -> Value {
    let head = head_zip(w).await;
    w.event(&key("layer.zip"), head.e_tag().map(|e| e.trim_matches('"')))
}

fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// Points 9 and 10 of the drop-in: the seed's upload alone (its
/// `manifest_md5` key, read over HTTP; no staged lock file) publishes one
/// version and records it, but no lock file can be kept, so the seed's own
/// publisher, if still run, publishes a duplicate: docs/switching-from-the-seed.md
/// says to drop step 4, or to stage the lock file (next test).
#[tokio::test]
async fn the_seeds_upload_alone_publishes_once_but_keeps_no_lock_file() {
    let w = world("seed upload alone").await;
    let project = Project::new("alone", POETRY_LOCK, "build 1");
    assert_eq!(
        seed(&w, &project, &["upload"]),
        serde_json::json!({"uploaded": key("layer.zip")})
    );
    let stored = head_zip(&w).await;
    let md5 = md5_hex(POETRY_LOCK.as_bytes());
    assert_eq!(
        stored.metadata().and_then(|m| m.get("manifest_md5")),
        Some(&md5),
        "moto keeps the seed's key over HTTP"
    );

    let response = w
        .invoke(event_for_current_zip(&w).await)
        .await
        .expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.manifest_md5.as_deref(), Some(md5.as_str()));
    assert_eq!(result.manifest_key, None, "no lock file was staged");
    assert_eq!(w.versions().await, [(1, format!("manifest-md5:{md5}"))]);
    let keys = w.record_keys().await;
    assert!(keys.contains(&key("000001/deployment.json")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.ends_with("poetry.lock")), "{keys:?}");

    // The seed's publish step, if CI still runs it, finds no kept
    // poetry.lock for version 1 and publishes again.
    let seed_publish = seed(&w, &project, &["publish", &w.layer]);
    assert_eq!(seed_publish, serde_json::json!({"published": 2}));
}

/// With the one CI line that stages the lock file (and `MANIFEST_NAME` set
/// to the build tool's lock file), the function keeps it as the seed does,
/// and the seed's own publisher, if still run, finds nothing changed.
#[tokio::test]
async fn with_the_lock_file_staged_the_function_keeps_it_where_the_seed_looks() {
    let w = world("seed staged").await;
    let project = Project::new("staged", POETRY_LOCK, "build 1");
    // aws s3 cp poetry.lock s3://{bucket}/projects/app/lambda/layer/poetry.lock
    w.put(&key("poetry.lock"), POETRY_LOCK.as_bytes(), &[])
        .await;
    seed(&w, &project, &["upload"]);
    let config = Config {
        manifest_name: "poetry.lock".into(),
        ..w.config()
    };
    let event = event_for_current_zip(&w).await;

    let response = crate::common::invoke(&w.publisher(config.clone()), event.clone())
        .await
        .expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(
        result.manifest_key.as_deref(),
        Some(key("000001/poetry.lock").as_str())
    );
    w.assert_text(&key("000001/poetry.lock"), POETRY_LOCK).await;
    w.assert_text(&key("last-poetry.lock"), POETRY_LOCK).await;
    assert_eq!(
        seed(&w, &project, &["publish", &w.layer]),
        serde_json::json!({"unchanged": true}),
        "the seed's publisher sees version 1 as its own"
    );
    let again = crate::common::invoke(&w.publisher(config), event)
        .await
        .expect("unchanged");
    assert_eq!(again.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1);
}

/// Points 7 and 8: a version the seed published (no marker; it keeps
/// `000001/poetry.lock`) is recognised with the default `MANIFEST_NAME`,
/// and the record written for it says what is known, not that this
/// upload's object was published.
#[tokio::test]
async fn a_version_the_seed_published_is_adopted_not_published_again() {
    let w = world("seed adopted").await;
    let project = Project::new("adopted", POETRY_LOCK, "build 1");
    seed(&w, &project, &["upload"]);
    assert_eq!(
        seed(&w, &project, &["publish", &w.layer]),
        serde_json::json!({"published": 1})
    );
    // The next CI run rebuilds the same lock file (other zip bytes) and
    // uploads with the seed; the function now handles the event.
    let project = Project::new("adopted-rebuild", POETRY_LOCK, "build 2");
    seed(&w, &project, &["upload"]);

    let response = w
        .invoke(event_for_current_zip(&w).await)
        .await
        .expect("unchanged");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Unchanged);
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(w.versions().await.len(), 1, "no duplicate");
    let text = w
        .get_text(&key("000001/deployment.json"))
        .await
        .expect("recorded");
    let record: Adopted = serde_json::from_str(&text).expect("an adopted record");
    assert_eq!(record.outcome, "adopted");
    assert_eq!(record.layer_version, 1);
    assert_eq!(record.manifest_md5, md5_hex(POETRY_LOCK.as_bytes()));
    assert_eq!(record.manifest_key, Some(key("000001/poetry.lock")));
    assert!(record.code_sha256.is_some());
    let fields: Value = serde_json::from_str(&text).expect("JSON");
    for absent in ["bucket", "key", "source_version_id", "source_etag"] {
        assert!(fields.get(absent).is_none(), "{absent} in {text}");
    }
}
