//! `layerctl`, the real binary, against moto server: every command, the S3
//! objects and metadata it leaves, its output and its exit codes.

use layer_autopublish::ports::Folder;

use crate::common::{md5_hex, world, zip_bytes, World};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DIR: &str = "projects/app/layer";
const LOCK_V1: &str = "boto3==1.35.0\nrequests==2.32.3\n";
const LOCK_V2: &str = "boto3==1.35.0\nrequests==2.32.4\n";

/// A scratch folder for one test's local files, removed at the end.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("layerctl-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("scratch folder");
        Self(path)
    }

    pub(crate) fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `layerctl` against this world's moto, with a clean AWS environment.
fn layerctl(w: &World, args: &[&str]) -> Output {
    layerctl_via(w, crate::common::moto_endpoint(), args)
}

/// [`layerctl`] through `endpoint` (a recording proxy before moto).
pub(crate) fn layerctl_via(w: &World, endpoint: &str, args: &[&str]) -> Output {
    run_layerctl(Path::new(env!("CARGO_BIN_EXE_layerctl")), w, endpoint, args)
}

/// The `layerctl` at `program` (this build's, or one a wheel installed) on
/// `w`'s layer, against `endpoint`.
pub(crate) fn run_layerctl(program: &Path, w: &World, endpoint: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            crate::common::REGION,
        ])
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("LAYER_NAME", &w.layer)
        .env("LATEST_PARAMETER", "/layer-autopublish/{layer}/latest")
        .env("SHARE_WITH", "123456789012")
        .output()
        .expect("layerctl runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing what the command printed when it differs.
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn json(output: &Output) -> Value {
    assert_exit(output, 0);
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

fn s3_dir(w: &World) -> String {
    format!("s3://{}/{DIR}", w.bucket)
}

fn upload(w: &World, zip: &Path, lock: &Path) -> Output {
    upload_to(w, zip, lock, &s3_dir(w), &[])
}

fn upload_to(w: &World, zip: &Path, lock: &Path, s3_dir: &str, more: &[&str]) -> Output {
    layerctl(w, &upload_args(zip, lock, s3_dir, more))
}

/// `layerctl upload` of `zip` and `lock` to `s3_dir`.
pub(crate) fn upload_args<'a>(
    zip: &'a Path, lock: &'a Path, s3_dir: &'a str, more: &[&'a str],
) -> Vec<&'a str> {
    let (zip, lock) = (zip.to_str().unwrap(), lock.to_str().unwrap());
    let mut args = vec![
        "upload",
        "--zip",
        zip,
        "--manifest",
        lock,
        "--s3-dir",
        s3_dir,
    ];
    args.extend_from_slice(more);
    args
}

/// Asserts a failure with this exit code whose message says `expected`.
fn assert_failed(output: &Output, code: i32, expected: &str) {
    assert_exit(output, code);
    assert!(stderr(output).contains(expected), "{}", stderr(output));
}

#[tokio::test]
async fn upload_status_invoke_and_diff_take_a_layer_from_upload_to_review() {
    let w = world("layerctl flow").await;
    let local = Scratch::new("flow");
    let zip = local.file("layer.zip", &zip_bytes("build 1"));
    let lock = local.file("requirements.txt", LOCK_V1.as_bytes());

    // upload: the lock file, then the zip with its metadata and checksum.
    let uploaded = upload(&w, &zip, &lock);
    assert_exit(&uploaded, 0);
    let printed = stdout(&uploaded);
    assert!(
        printed.contains(&format!(
            "uploaded s3://{}/{DIR}/requirements.txt",
            w.bucket
        )),
        "{printed}"
    );
    assert!(printed.contains("console: https://"), "{printed}");
    w.assert_text(&format!("{DIR}/requirements.txt"), LOCK_V1)
        .await;
    let head = w
        .aws
        .head(&w.bucket, &format!("{DIR}/layer.zip"))
        .await
        .unwrap()
        .expect("the zip is uploaded");
    assert_eq!(
        head.metadata.get("manifest-md5"),
        Some(&md5_hex(LOCK_V1.as_bytes()))
    );
    assert_eq!(
        head.metadata.get("manifest-name").map(String::as_str),
        Some("requirements.txt")
    );
    assert!(head.sha256.is_some(), "uploaded with a SHA-256 checksum");

    // status: nothing published yet.
    let status = json(&layerctl(
        &w,
        &["status", "--s3-dir", &s3_dir(&w), "--json"],
    ));
    assert_eq!(status["staged"]["state"], "pending");
    assert_eq!(status["versions"].as_array().map(Vec::len), Some(0));
    let pointer = format!("/layer-autopublish/{}/latest", w.layer);
    assert_eq!(status["latest_pointer"]["parameter"], pointer.as_str());
    assert!(status["latest_pointer"]["value"].is_null(), "not set yet");

    // invoke --dry-run: would publish, changes nothing.
    let keys_before = w.record_keys().await;
    let dry = json(&layerctl(
        &w,
        &["invoke", "--s3-dir", &s3_dir(&w), "--dry-run", "--json"],
    ));
    assert_eq!(dry["results"][0]["outcome"], "would_publish");
    assert!(w.versions().await.is_empty());
    assert_eq!(w.record_keys().await, keys_before);

    // invoke: publishes version 1 and records it.
    let published = json(&layerctl(
        &w,
        &["invoke", "--s3-dir", &s3_dir(&w), "--json"],
    ));
    assert_eq!(published["results"][0]["outcome"], "published");
    assert_eq!(published["results"][0]["layer_version"], 1);
    assert_eq!(
        published["results"][0]["code_sha256"].as_str(),
        head.sha256.as_deref()
    );
    let status = json(&layerctl(
        &w,
        &["status", "--s3-dir", &s3_dir(&w), "--json"],
    ));
    assert_eq!(status["staged"]["state"], "published");
    assert_eq!(status["staged"]["version"], 1);
    assert_eq!(status["latest_pointer"]["version"], 1, "{status}");
    assert_eq!(status["shared_with"], serde_json::json!(["123456789012"]));
    assert_eq!(status["versions"][0]["lock_file_kept"], true);
    assert_eq!(status["versions"][0]["deployment_record"], true);
    assert_eq!(
        status["versions"][0]["manifest_md5"].as_str(),
        Some(md5_hex(LOCK_V1.as_bytes()).as_str())
    );

    // A second build: version 2, and the diff a reviewer reads.
    let lock = local.file("requirements.txt", LOCK_V2.as_bytes());
    let zip = local.file("layer.zip", &zip_bytes("build 2"));
    assert_exit(&upload(&w, &zip, &lock), 0);
    let status = stdout(&layerctl(&w, &["status", "--s3-dir", &s3_dir(&w)]));
    assert!(status.contains("staged layer.zip: pending"), "{status}");
    assert_exit(&layerctl(&w, &["invoke", "--s3-dir", &s3_dir(&w)]), 0);
    assert_eq!(w.versions().await.len(), 2);
    let status = stdout(&layerctl(&w, &["status", "--s3-dir", &s3_dir(&w)]));
    let moved = format!("latest pointer {pointer}: version 2 (arn:");
    assert!(status.contains(&moved), "{status}");
    assert!(
        status.contains("version 2 is shared with 123456789012"),
        "{status}"
    );
    for (keep, deletes) in [("2", serde_json::json!([1])), ("5", serde_json::json!([]))] {
        let args = [
            "status",
            "--s3-dir",
            &s3_dir(&w),
            "--keep-versions",
            keep,
            "--json",
        ];
        let status = json(&layerctl(&w, &args));
        assert_eq!(
            status["retention"]["next_publish_deletes"], deletes,
            "keep {keep}"
        );
    }

    let diff = layerctl(&w, &["diff", "--s3-dir", &s3_dir(&w)]);
    assert_exit(&diff, 0);
    let text = stdout(&diff);
    assert!(
        text.contains(&format!(
            "--- s3://{}/{DIR}/000001/requirements.txt",
            w.bucket
        )),
        "{text}"
    );
    assert!(
        text.contains("-requests==2.32.3\n+requests==2.32.4\n"),
        "{text}"
    );
    assert!(
        !text.contains("-boto3"),
        "unchanged lines are context: {text}"
    );

    let local_lock = local.file("local.txt", LOCK_V2.as_bytes());
    let same = json(&layerctl(
        &w,
        &[
            "diff",
            "--s3-dir",
            &s3_dir(&w),
            "--local",
            local_lock.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(same["changed"], false);
}

#[tokio::test]
async fn rejected_input_exits_3_and_uploads_nothing() {
    let w = world("layerctl rejected").await;
    let local = Scratch::new("rejected");
    let zip = local.file("layer.zip", &zip_bytes("build"));
    let unpinned = local.file("requirements.txt", b"boto3==1.35.0\nrequests>=2\n");
    let not_a_zip = local.file("notes.zip", b"<html>not a zip archive at all</html>");
    let lock = local.file("poetry.lock", b"[[package]]\nname = \"x\"\n");

    let output = upload(&w, &zip, &unpinned);
    assert_failed(&output, 3, "line 2: requests>=2");
    assert!(stderr(&output).contains("--allow-unpinned"));
    let output = upload(&w, &not_a_zip, &lock);
    assert_failed(&output, 3, "not a zip archive's 504b0304");
    let output = upload_to(&w, &zip, &lock, "bucket/dir", &[]);
    assert_failed(&output, 3, "is not an s3:// URI");
    assert_eq!(
        w.record_keys().await,
        Vec::<String>::new(),
        "nothing was uploaded"
    );

    // Told to, it uploads the unpinned file.
    let output = upload_to(
        &w,
        &zip,
        &unpinned,
        &s3_dir(&w),
        &["--allow-unpinned", "--quiet"],
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "", "--quiet prints nothing");
    assert_eq!(w.record_keys().await.len(), 2);
}

#[tokio::test]
async fn aws_errors_exit_4_and_function_errors_keep_their_type() {
    let w = world("layerctl aws errors").await;
    let local = Scratch::new("aws-errors");
    let zip = local.file("layer.zip", &zip_bytes("build"));
    let lock = local.file("requirements.txt", LOCK_V1.as_bytes());

    let output = upload_to(&w, &zip, &lock, "s3://no-such-bucket-here/x", &[]);
    assert_failed(&output, 4, "NoSuchBucket");

    // The function's own input errors come back as exit 3 with their errorType.
    w.put(&format!("{DIR}/layer.zip"), &zip_bytes("no metadata"), &[])
        .await;
    let output = layerctl(&w, &["invoke", "--s3-dir", &s3_dir(&w)]);
    assert_failed(&output, 3, "MissingManifestMd5: s3://");
}

#[tokio::test]
async fn a_large_zip_goes_up_in_parts_and_is_published() {
    let w = world("layerctl multipart").await;
    let local = Scratch::new("multipart");
    // 17 MiB of varied bytes, stored: three 8 MiB parts, two at once (issue
    // 13: they finish in any order, S3 puts them in part order).
    let mut filler = Vec::with_capacity(17 << 20);
    let mut x: u32 = 1;
    while filler.len() < 17 << 20 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        filler.push((x >> 24) as u8);
    }
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("python/blob.bin", stored).unwrap();
    std::io::Write::write_all(&mut writer, &filler).unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let zip = local.file("layer.zip", &bytes);
    let lock = local.file("requirements.txt", LOCK_V1.as_bytes());

    let output = upload_to(&w, &zip, &lock, &s3_dir(&w), &["--concurrency", "2"]);

    assert_exit(&output, 0);
    let printed = stdout(&output);
    assert!(
        printed.contains("uploaded part 3/3 of layer.zip"),
        "{printed}"
    );
    let stored = w.get(&format!("{DIR}/layer.zip")).await.expect("uploaded");
    assert_eq!(stored, bytes);
    let none_at_once = upload_to(&w, &zip, &lock, &s3_dir(&w), &["--concurrency", "0"]);
    assert_exit(&none_at_once, 2);
    let published = json(&layerctl(
        &w,
        &["invoke", "--s3-dir", &s3_dir(&w), "--json"],
    ));
    assert_eq!(published["results"][0]["outcome"], "published");
}

#[test]
fn every_command_explains_itself() {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_layerctl"))
            .args(args)
            .output()
            .expect("layerctl runs");
        assert_exit(&output, 0);
        stdout(&output)
    };
    let top = help(&["--help"]);
    for command in ["upload", "status", "invoke", "diff", "failed"] {
        assert!(
            top.contains(&format!("\n  {command} ")),
            "{command} listed:\n{top}"
        );
    }
    assert!(top.contains("Exit codes: 0 done"), "{top}");
    assert!(top.contains("--endpoint-url <URL>"), "{top}");

    let expected: [(&str, &[&str]); 5] = [
        (
            "failed",
            &["--queue-url <URL>", "--replay", "--function <NAME>"],
        ),
        (
            "upload",
            &[
                "--zip <PATH>",
                "--manifest <PATH>",
                "--s3-dir <S3_URI>",
                "--layer-name <NAME>",
                "--allow-unpinned",
            ],
        ),
        (
            "status",
            &[
                "--s3-dir <S3_URI>",
                "--layer-name <NAME>",
                "--manifest-name <NAME>",
            ],
        ),
        (
            "invoke",
            &["--s3-dir <S3_URI>", "--event <PATH>", "--dry-run"],
        ),
        (
            "diff",
            &[
                "--s3-dir <S3_URI>",
                "--from <N>",
                "--to <M>",
                "--local <PATH>",
            ],
        ),
    ];
    for (command, options) in expected {
        let text = help(&[command, "--help"]);
        assert!(
            text.contains(&format!("Usage: layerctl {command}")),
            "{text}"
        );
        assert!(
            text.contains("Example"),
            "{command} has an example:\n{text}"
        );
        assert!(text.contains("Global options:"), "{text}");
        for option in options {
            assert!(text.contains(option), "{command} {option}:\n{text}");
        }
    }

    let usage = Command::new(env!("CARGO_BIN_EXE_layerctl"))
        .args(["upload", "--zip", "x"])
        .output()
        .expect("layerctl runs");
    assert_exit(&usage, 2);
}

/// One message as Lambda's on-failure destination writes it (the sample in
/// `tests/fixtures/`), for `payload` and the function's `error`.
fn destination_record(payload: &Value, error: &lambda_runtime::Diagnostic) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/failed-event-message.json"
    );
    let text = std::fs::read_to_string(path).expect("the sample message");
    let mut record: Value = serde_json::from_str(&text).expect("JSON");
    record["requestPayload"] = payload.clone();
    record["responsePayload"] = serde_json::json!({
        "errorType": error.error_type,
        "errorMessage": error.error_message,
    });
    record.to_string()
}

/// Issue 21: `layerctl failed` lists what the failed-events queue holds, as
/// Lambda's on-failure destination writes it, and leaves it there; with
/// `--replay` it runs each event again here, deletes the message of the one
/// that now publishes, and keeps (and exits 3 for) the one still refused.
#[tokio::test]
async fn failed_lists_the_failed_events_and_replays_them() {
    let w = world("layerctl failed").await;
    let queue = w.queue("failed-events").await;
    // An upload whose deliveries met another's lease, and one without its
    // metadata: their real errors, as the function answered them.
    let good = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let busy = lambda_runtime::Diagnostic {
        error_type: "PublishInProgress".into(),
        error_message: "another invocation is publishing".into(),
    };
    let bad = w.upload_zip("projects/bad/layer", "build", &[]).await;
    let refused = w.invoke(bad.clone()).await.expect_err("no metadata");
    for body in [
        destination_record(&good, &busy),
        destination_record(&bad, &refused),
    ] {
        let sent = queue
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(body);
        sent.send().await.expect("sent");
    }
    let url = queue.url.as_str();

    let listed = json(&layerctl(&w, &["failed", "--queue-url", url, "--json"]));
    let events = listed["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 2, "{listed}");
    let about = |dir: &str| {
        let zip = format!("s3://{}/{dir}/layer.zip", w.bucket);
        events
            .iter()
            .find(|e| e["uploads"][0] == zip.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{zip} in {listed}"))
    };
    let (good_event, bad_event) = (about(DIR), about("projects/bad/layer"));
    assert_eq!(good_event["error_type"], "PublishInProgress");
    assert_eq!(bad_event["error_type"], "MissingManifestMd5");
    assert!(bad_event["error_message"]
        .as_str()
        .is_some_and(|m| m.contains("manifest-md5")));
    for event in [&good_event, &bad_event] {
        assert_eq!(event["layer"], w.layer.as_str());
        assert_eq!(event["attempts"], 3);
        assert!(
            event["age_seconds"].as_u64().is_some_and(|s| s < 600),
            "{event}"
        );
    }
    let people = layerctl(&w, &["failed", "--queue-url", url]);
    assert_exit(&people, 0);
    assert!(
        stdout(&people).contains("2 failed event(s)"),
        "{}",
        stdout(&people)
    );
    assert!(
        stdout(&people).contains("MissingManifestMd5 after 3 attempt(s)"),
        "{}",
        stdout(&people)
    );

    let replay = layerctl(&w, &["failed", "--queue-url", url, "--replay", "--json"]);

    assert_exit(&replay, 3);
    let replayed: Value = serde_json::from_slice(&replay.stdout).expect("JSON");
    let events = replayed["events"].as_array().expect("events");
    let result = |dir: &str| {
        let zip = format!("s3://{}/{dir}/layer.zip", w.bucket);
        let event = events.iter().find(|e| e["uploads"][0] == zip.as_str());
        event.expect("replayed")["replay"].clone()
    };
    let good_replay = result(DIR);
    assert_eq!(good_replay["result"], "replayed");
    assert_eq!(good_replay["outcomes"][0]["outcome"], "published");
    assert_eq!(result("projects/bad/layer")["result"], "failed");
    assert_eq!(w.versions().await.len(), 1, "published once");
    let left = json(&layerctl(&w, &["failed", "--queue-url", url, "--json"]));
    let left = left["events"].as_array().expect("events");
    assert_eq!(left.len(), 1, "only the refused one is kept: {left:?}");
    assert_eq!(left[0]["error_type"], "MissingManifestMd5");
}
