//! `layerctl` as CI installs it: the wheel `make release` builds, installed
//! into a fresh venv, gives a working command (upload, `status`, `diff`
//! against moto, its version Cargo.toml's); and the GitHub Action's step
//! (`scripts/action-upload.sh`, which `action.yml` runs) installs it, uploads
//! and writes the Action's outputs as a GitHub step would.
//!
//! Both need the built release: `make check-release` (part of `make test`)
//! runs them with `LAYERCTL_DIST` naming its folder; `make unit` lists them
//! as ignored.

use crate::common::{moto_endpoint, world, World, REGION};
use crate::layerctl::{assert_exit, run_layerctl, upload_args, Scratch};
use crate::support::*;
use layer_autopublish::ports::Folder;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The release under test (`make release`'s dist/).
pub(crate) fn dist() -> PathBuf {
    PathBuf::from(
        std::env::var("LAYERCTL_DIST")
            .expect("LAYERCTL_DIST names the release to test: run `make check-release`"),
    )
}

/// The file of the release whose name starts with `start` and ends with `end`.
pub(crate) fn in_dist(start: &str, end: &str) -> PathBuf {
    let found = std::fs::read_dir(dist())
        .expect("the release's folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.starts_with(start) && name.ends_with(end)
        });
    found.unwrap_or_else(|| panic!("no {start}…{end} in the release"))
}

/// layerctl's wheel.
fn wheel() -> String {
    in_dist("layerctl-", ".whl").display().to_string()
}

/// A fresh venv with the wheel installed (offline: the wheel has no
/// dependencies), removed afterwards.
pub(crate) struct Venv(PathBuf);

impl Venv {
    fn with_the_wheel(name: &str) -> Self {
        Self::installing(name, &[&wheel()])
    }

    /// A fresh venv with `requirements` installed from the release's
    /// folder alone, as pip installs them from the package index.
    pub(crate) fn installing(name: &str, requirements: &[&str]) -> Self {
        let path =
            std::env::temp_dir().join(format!("layerctl-venv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let venv = Venv(path);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv.0)
            .output();
        assert_ok(&made.expect("python3 runs"), "python3 -m venv");
        let pip = venv.bin("pip");
        let args = [
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
        ];
        let installed = Command::new(&pip)
            .args(args)
            .arg("--find-links")
            .arg(dist())
            .args(requirements)
            .output();
        assert_ok(&installed.expect("pip runs"), "pip install");
        venv
    }

    pub(crate) fn bin(&self, name: &str) -> PathBuf {
        self.0.join("bin").join(name)
    }
}

impl Drop for Venv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The function publishing what was uploaded to `w`'s folder: its version.
async fn publish(w: &World) -> i64 {
    let response = w
        .invoke(w.event(&key("layer.zip"), None))
        .await
        .expect("published");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    response.results[0].layer_version.expect("a version")
}

#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn the_wheel_gives_a_working_layerctl_in_a_fresh_venv() {
    let venv = Venv::with_the_wheel("wheel");
    let shown = Command::new(venv.bin("pip"))
        .args(["show", "layerctl"])
        .output();
    let shown = text(&shown.expect("pip runs"));
    assert!(shown.contains("Name: layerctl\n"), "{shown}");
    let version = format!("Version: {}\n", env!("CARGO_PKG_VERSION"));
    assert!(
        shown.contains(&version),
        "the version is Cargo.toml's: {shown}"
    );
    let layerctl = venv.bin("layerctl");
    let printed = Command::new(&layerctl).arg("--version").output();
    let printed = text(&printed.expect("the installed layerctl runs"));
    assert_eq!(
        printed.trim(),
        format!("layerctl {}", env!("CARGO_PKG_VERSION"))
    );

    let w = world("wheel").await;
    let local = Scratch::new("wheel");
    let s3_dir = format!("s3://{}/{DIR}", w.bucket);
    let run = |args: &[&str]| run_layerctl(&layerctl, &w, moto_endpoint(), args);
    for (build, lock) in [("build 1", LOCK_V1), ("build 2", LOCK_V2)] {
        let zip = local.file("layer.zip", &zip_bytes(build));
        let lock = local.file("requirements.txt", lock.as_bytes());
        assert_exit(&run(&upload_args(&zip, &lock, &s3_dir, &[])), 0);
        let status = run(&["status", "--s3-dir", &s3_dir, "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
        assert_eq!(status["staged"]["state"], "pending");
        let published = publish(&w).await;
        let status = run(&["status", "--s3-dir", &s3_dir, "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
        assert_eq!(status["staged"]["state"], "published");
        assert_eq!(status["staged"]["version"], published);
    }
    let diff = run(&["diff", "--s3-dir", &s3_dir]);
    assert_exit(&diff, 0);
    let diff = text(&diff);
    assert!(diff.contains("\n-requests==2.32.3 "), "{diff}");
    assert!(diff.contains("\n+requests==2.32.4 "), "{diff}");
}

#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn the_actions_step_installs_layerctl_uploads_and_writes_its_outputs() {
    let w = world("action").await;
    w.enable_versioning().await;
    let local = Scratch::new("action");
    let zip = local.file("layer.zip", &zip_bytes("build 1"));
    let lock = local.file("requirements.txt", LOCK_V1.as_bytes());
    let outputs = local.file("github-output", b"");
    let s3_dir = format!("s3://{}/{DIR}", w.bucket);

    // As GitHub runs the step: the inputs as INPUT_* (action.yml), the
    // outputs file, the runner's temporary folder; AWS from the job's
    // environment, as aws-actions/configure-aws-credentials leaves it.
    let step = |wait: &str| {
        Command::new("bash")
            .arg(Path::new(ROOT).join("scripts/action-upload.sh"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INPUT_ZIP", &zip)
            .env("INPUT_MANIFEST", &lock)
            .env("INPUT_S3_DIR", &s3_dir)
            .env("INPUT_LAYER_NAME", &w.layer)
            .env("INPUT_REGION", "")
            .env("INPUT_CONCURRENCY", "4")
            .env("INPUT_WAIT", wait)
            .env("INPUT_TIMEOUT", "2m")
            .env("INPUT_LAYERCTL_VERSION", env!("CARGO_PKG_VERSION"))
            .env("INPUT_WHEEL", wheel())
            .env("GITHUB_OUTPUT", &outputs)
            .env("RUNNER_TEMP", outputs.parent().expect("the scratch folder"))
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", moto_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("bash runs")
    };
    let uploaded = step("false").wait_with_output().expect("the step ends");
    assert_ok(&uploaded, "the Action's step");

    let head = w
        .aws
        .head(&w.bucket, &key("layer.zip"))
        .await
        .expect("a HEAD")
        .expect("the zip is uploaded");
    assert_eq!(head.metadata.get("layer-name"), Some(&w.layer));
    let version_id = head.id.version_id.clone().expect("a versioned bucket");
    let written = std::fs::read_to_string(&outputs).expect("the outputs file");
    assert_eq!(
        written,
        format!("zip-uri={s3_dir}/layer.zip\nversion-id={version_id}\nlayer-version-arn=\n")
    );
    assert_eq!(
        publish(&w).await,
        1,
        "the function publishes what it uploaded"
    );

    // With `wait: true`, the step waits for the function's receipt and
    // gives the version as an output.
    std::fs::write(&outputs, b"").expect("the outputs file");
    std::fs::write(&lock, LOCK_V2.as_bytes()).expect("a new lock file");
    let waiting = step("true");
    let mut event = None;
    for _ in 0..600 {
        let head = w
            .aws
            .head(&w.bucket, &key("layer.zip"))
            .await
            .ok()
            .flatten();
        if let Some(head) = head.filter(|h| h.id.version_id.as_deref() != Some(version_id.as_str()))
        {
            let mut uploaded = w.event(&key("layer.zip"), head.id.etag.as_deref());
            uploaded["Records"][0]["s3"]["object"]["versionId"] = head.id.version_id.clone().into();
            event = Some(uploaded);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event = event.expect("the step uploaded");
    let mut context = lambda_runtime::Context::default();
    context.request_id = "req-action".into();
    layer_autopublish::handle(
        &w.publisher(w.config()),
        lambda_runtime::LambdaEvent::new(event, context),
    )
    .await
    .expect("published");
    let waited = waiting.wait_with_output().expect("the step ends");
    assert_ok(&waited, "the Action's step, waiting");
    let written = std::fs::read_to_string(&outputs).expect("the outputs file");
    let arn = format!(":layer:{}:2\n", w.layer);
    assert!(
        written
            .lines()
            .any(|l| l.starts_with("layer-version-arn=arn:aws:lambda:"))
            && written.ends_with(&arn),
        "{written}"
    );
}
