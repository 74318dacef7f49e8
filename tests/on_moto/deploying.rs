//! `layerctl deploy` as a user runs it: `pip install 'layerctl[deploy]'`
//! from the release's folder alone into a fresh venv, then deploy, update
//! and fail on moto's CloudFormation. The stack's function publishes what
//! the venv's `layerctl upload --stack-name` uploads (moto runs no function
//! without Docker: the test runs it, configured as the stack configured it).
//!
//! Needs the built release: `make check-release` runs these with
//! `LAYERCTL_DIST`; `make unit` lists them as ignored.
//!
//! Where moto departs from CloudFormation, this says so (the template's
//! own departures are `deployed.rs`'s):
//! - a change set that changes nothing fails CreateChangeSet with "No
//!   updates are to be performed." (CloudFormation makes the change set
//!   and gives it the status FAILED, "didn't contain changes"); `layerctl`
//!   takes both as success;
//! - it applies a change set within ExecuteChangeSet, with no resource
//!   events and no rollback: a resource it cannot create fails that call,
//!   and the stack stays REVIEW_IN_PROGRESS. On CloudFormation the same
//!   failure is a CREATE_FAILED event with its reason, then
//!   ROLLBACK_COMPLETE; `layerctl` shows that reason and the rollback
//!   (`stack.rs`'s tests read such events);
//! - it does not check a parameter against the template's AllowedValues or
//!   AllowedPattern: `layerctl` does, before any call, as CloudFormation
//!   would refuse the change set.

use crate::common::{world_on, World, REGION};
use crate::deployed::cloudformation;
use crate::layerctl::{assert_exit, run_layerctl, Scratch};
use crate::packaging::{assert_ok, in_dist, text, Venv};
use crate::support::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::Publisher;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

const ACCOUNT: &str = "123456789012";

fn deploy(venv: &Venv, w: &World, args: &[&str]) -> Output {
    let layerctl = venv.bin("layerctl");
    let mut all = vec!["deploy"];
    all.extend_from_slice(args);
    run_layerctl(&layerctl, w, cloudformation(), &all)
}

/// `layerctl deploy` of a new stack on `w`'s bucket and layer, with `more`.
fn deploy_new(venv: &Venv, w: &World, stack: &str, more: &[&str]) -> Output {
    let bucket = format!("ArtifactsBucketName={}", w.bucket);
    let layer = format!("LayerName={}", w.layer);
    let mut args = vec![
        "--stack-name",
        stack,
        "--parameter",
        &bucket,
        "--parameter",
        &layer,
    ];
    args.extend_from_slice(more);
    deploy(venv, w, &args)
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        text(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The stack's outputs, as CloudFormation gives them.
async fn outputs(w: &World, stack: &str) -> BTreeMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(&w.sdk);
    let described = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("the stack");
    described.stacks()[0]
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn stack_exists(w: &World, stack: &str) -> bool {
    let cfn = aws_sdk_cloudformation::Client::new(&w.sdk);
    cfn.describe_stacks().stack_name(stack).send().await.is_ok()
}

/// Lambda's CodeSha256 of `zip`: base64 of its SHA-256.
/// Whether layerctl's tag, written once its code bucket's settings are
/// made, is on `bucket`.
async fn is_set_up(w: &World, bucket: &str) -> bool {
    match w.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(tagging) => tagging
            .tag_set()
            .iter()
            .any(|t| (t.key(), t.value()) == ("layer-autopublish", "code-bucket")),
        Err(e) if e.code() == Some("NoSuchTagSet") => false,
        Err(e) => panic!("GetBucketTagging on {bucket}: {e:?}"),
    }
}

fn code_sha256(zip: &Path) -> String {
    let bytes = std::fs::read(zip).expect("the release's zip");
    aws_smithy_types::base64::encode(Sha256::digest(&bytes))
}

/// The stack's function: its code is `zip`, and configured as the stack
/// configured it, it is the publisher.
async fn the_function(
    w: &World, stack: &str, zip: &Path,
) -> (BTreeMap<String, String>, Publisher<Aws>) {
    let name = outputs(w, stack).await["PublisherFunctionName"].clone();
    let function = w
        .lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .expect("the stack's function");
    assert_eq!(
        function.code_sha256(),
        Some(code_sha256(zip).as_str()),
        "the function runs the release's zip"
    );
    let environment: BTreeMap<String, String> = function
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.clone().into_iter().collect())
        .unwrap_or_default();
    let config = Config::from_lookup(|name| environment.get(name).cloned())
        .expect("the stack's environment starts the function");
    (
        environment,
        Publisher::new(Aws::new(&w.sdk), config, REGION),
    )
}

/// The venv's `layerctl upload --stack-name`, then the function's publish.
async fn upload_and_publish(
    venv: &Venv, w: &World, publisher: &Publisher<Aws>, stack: &str, build: &str, lock: &str,
) -> i64 {
    let local = Scratch::new(&format!("deploying-{}", w.layer));
    let zip = local.file("layer.zip", &zip_bytes(build));
    let lock = local.file("requirements.txt", lock.as_bytes());
    let folder = DIR.trim_start_matches("projects/");
    let args = [
        "upload",
        "--zip",
        zip.to_str().unwrap_or_default(),
        "--manifest",
        lock.to_str().unwrap_or_default(),
        "--stack-name",
        stack,
        "--folder",
        folder,
    ];
    let uploaded = run_layerctl(&venv.bin("layerctl"), w, cloudformation(), &args);
    assert_exit(&uploaded, 0);
    let response = crate::common::invoke(publisher, w.event(&key("layer.zip"), None))
        .await
        .unwrap_or_else(|d| panic!("{}: {}", d.error_type, d.error_message));
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    response.results[0].layer_version.expect("a version")
}

/// The defaults (a bucket the stack creates, layerctl's own code bucket),
/// a layer published through it, an update of one parameter, and a deploy
/// that changes nothing.
#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn a_fresh_venv_deploys_the_stack_then_updates_it_in_place() {
    let venv = Venv::installing("deploy", &["layerctl[deploy]"]);
    let w = world_on(cloudformation(), "deploying defaults", false).await;
    let stack = format!("deploy-{}", w.layer);
    let zip = in_dist("layer-autopublish-", "-x86_64.zip");

    let created = deploy_new(&venv, &w, &stack, &[]);
    assert_ok(&created, "layerctl deploy");
    let shown = said(&created);
    let code_bucket = format!("layer-autopublish-code-{ACCOUNT}-{REGION}");
    for line in [
        format!("created code bucket s3://{code_bucket} (private, encrypted, versioned)"),
        "uploaded s3://".to_owned(),
        format!("stack {stack} is CREATE_COMPLETE"),
        format!("ArtifactsUploadPrefix    s3://{}/projects/", w.bucket),
        "FailedEventsQueueUrl".to_owned(),
        "CiUploadPolicyArn".to_owned(),
        format!("layerctl upload --zip layer.zip --manifest requirements.txt --stack-name {stack}"),
    ] {
        assert!(shown.contains(&line), "{line}\n{shown}");
    }
    // The code bucket as layerctl made it: versioned, public access blocked.
    let listed =
        w.s3.list_object_versions()
            .bucket(&code_bucket)
            .send()
            .await
            .expect("the code bucket");
    let version = listed.versions().first().and_then(|v| v.version_id());
    assert!(
        version.is_some_and(|v| v != "null"),
        "a versioned bucket: {version:?}"
    );
    let block =
        w.s3.get_public_access_block()
            .bucket(&code_bucket)
            .send()
            .await
            .expect("its public access block");
    let block = block.public_access_block_configuration().expect("a block");
    assert_eq!(
        (block.block_public_acls(), block.restrict_public_buckets()),
        (Some(true), Some(true))
    );
    assert!(is_set_up(&w, &code_bucket).await, "the tag written last");

    let (environment, publisher) = the_function(&w, &stack, &zip).await;
    assert_eq!(environment.get("LAYER_NAME"), Some(&w.layer));
    let status_args = [
        "status",
        "--stack-name",
        &stack,
        "--folder",
        "my-app/lambda/layer",
        "--json",
    ];
    assert_eq!(
        upload_and_publish(&venv, &w, &publisher, &stack, "build 1", LOCK_V1).await,
        1
    );
    let status = run_layerctl(&venv.bin("layerctl"), &w, cloudformation(), &status_args);
    assert_exit(&status, 0);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(status["staged"]["state"], "published");
    let failed = run_layerctl(
        &venv.bin("layerctl"),
        &w,
        cloudformation(),
        &["failed", "--stack-name", &stack],
    );
    assert_exit(&failed, 0);

    // The code bucket as a deploy stopped after CreateBucket would leave
    // it: no tag, versioning off.
    w.s3.delete_bucket_tagging()
        .bucket(&code_bucket)
        .send()
        .await
        .expect("tags removed");
    w.s3.put_bucket_versioning()
        .bucket(&code_bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("versioning suspended");

    // An update: one parameter changed, the others kept as the stack has
    // them; the code bucket set up again.
    let updated = deploy(
        &venv,
        &w,
        &["--stack-name", &stack, "--parameter", "KeepVersions=1"],
    );
    assert_ok(&updated, "layerctl deploy, an update");
    let shown = said(&updated);
    assert!(
        shown.contains(&format!("set up code bucket s3://{code_bucket}")),
        "{shown}"
    );
    assert!(is_set_up(&w, &code_bucket).await, "the tag back");
    let probe =
        w.s3.put_object()
            .bucket(&code_bucket)
            .key("probe")
            .body(b"versioned?".to_vec().into())
            .send()
            .await
            .expect("a probe");
    assert!(
        probe.version_id().is_some_and(|v| v != "null"),
        "versioning on again: {probe:?}"
    );
    assert!(shown.contains("already there: s3://"), "{shown}");
    assert!(
        shown.contains(&format!("stack {stack} is UPDATE_COMPLETE")),
        "{shown}"
    );
    let (environment, publisher) = the_function(&w, &stack, &zip).await;
    assert_eq!(
        environment.get("KEEP_VERSIONS").map(String::as_str),
        Some("1")
    );
    assert_eq!(environment.get("LAYER_NAME"), Some(&w.layer), "kept");
    assert_eq!(
        upload_and_publish(&venv, &w, &publisher, &stack, "build 2", LOCK_V2).await,
        2
    );

    let again = deploy(
        &venv,
        &w,
        &[
            "--stack-name",
            &stack,
            "--parameter",
            "KeepVersions=1",
            "--json",
        ],
    );
    assert_ok(&again, "layerctl deploy, nothing to change");
    assert!(!said(&again).contains("code bucket"), "{}", said(&again));
    let result: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(result["changed"], false, "{}", said(&again));
    assert_eq!(result["outputs"]["ArtifactsBucket"], w.bucket.as_str());
}

/// An existing bucket, a code bucket of the user's, arm64, and the zip
/// given as a path: then a zip of another build, refused unless trusted.
#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn an_existing_bucket_with_options_and_a_zip_of_another_build() {
    let venv = Venv::installing("deploy-options", &["layerctl[deploy]"]);
    let w = world_on(cloudformation(), "deploying options", true).await;
    let code_bucket = format!("{}-code", w.bucket);
    w.s3.create_bucket()
        .bucket(&code_bucket)
        .send()
        .await
        .expect("a code bucket");
    let stack = format!("deploy-options-{}", w.layer);
    let zip = in_dist("layer-autopublish-", "-arm64.zip");
    let deployed = deploy_new(
        &venv,
        &w,
        &stack,
        &[
            "--architecture",
            "arm64",
            "--code-bucket",
            &code_bucket,
            "--function-zip",
            zip.to_str().unwrap_or_default(),
            "--parameter",
            "UseExistingBucket=true",
        ],
    );
    assert_ok(&deployed, "layerctl deploy with options");
    let shown = said(&deployed);
    assert!(!shown.contains("created code bucket"), "{shown}");
    assert!(
        shown.contains(&format!(
            "uploaded s3://{code_bucket}/layer-autopublish/function-"
        )),
        "{shown}"
    );
    let (environment, publisher) = the_function(&w, &stack, &zip).await;
    assert_eq!(environment.get("LAYER_NAME"), Some(&w.layer));
    assert_eq!(
        upload_and_publish(&venv, &w, &publisher, &stack, "build 1", LOCK_V1).await,
        1
    );

    let local = Scratch::new(&format!("deploying-other-{}", w.layer));
    let other = local.file("bootstrap.zip", &zip_bytes("another build"));
    let other = other.to_str().unwrap_or_default();
    let refused = deploy(
        &venv,
        &w,
        &["--stack-name", &stack, "--function-zip", other],
    );
    assert_exit(&refused, 3);
    let shown = said(&refused);
    assert!(shown.contains("--trust-function-zip"), "{shown}");
    let trusted = deploy(
        &venv,
        &w,
        &[
            "--stack-name",
            &stack,
            "--function-zip",
            other,
            "--trust-function-zip",
        ],
    );
    assert_ok(&trusted, "a trusted build");
    let (_, _) = the_function(&w, &stack, Path::new(other)).await;
}

/// A value the template forbids is refused before any call; a resource
/// that cannot be made fails the deploy with CloudFormation's reason.
#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn an_impossible_parameter_fails_with_the_reason_shown() {
    let venv = Venv::installing("deploy-fails", &["layerctl[deploy]"]);
    let w = world_on(cloudformation(), "deploying fails", true).await;
    let stack = format!("deploy-fails-{}", w.layer);

    let forbidden = deploy_new(
        &venv,
        &w,
        &stack,
        &[
            "--parameter",
            "Architecture=sparc",
            "--parameter",
            "KeepVersions=three",
        ],
    );
    assert_exit(&forbidden, 3);
    let shown = said(&forbidden);
    assert!(
        shown.contains("Architecture=sparc: it must be one of x86_64, arm64"),
        "{shown}"
    );
    assert!(
        shown.contains("KeepVersions=three: it must match"),
        "{shown}"
    );
    assert!(!stack_exists(&w, &stack).await, "nothing was created");

    let missing = deploy(&venv, &w, &["--stack-name", &stack]);
    assert_exit(&missing, 3);
    let shown = said(&missing);
    assert!(
        shown.contains("needs a value for: ArtifactsBucketName"),
        "{shown}"
    );

    // The bucket exists already, and the stack would create it.
    let taken = deploy_new(&venv, &w, &stack, &[]);
    assert_exit(&taken, 4);
    let shown = said(&taken);
    assert!(shown.contains("the deploy failed"), "{shown}");
    assert!(shown.contains("BucketAlreadyExists"), "{shown}");
}

/// `--guided` asks for each parameter in the template's order: a wrong
/// answer is said and asked again, Enter keeps what is shown.
#[tokio::test]
#[ignore = "needs the built release: make check-release"]
async fn guided_asks_for_each_parameter_and_again_for_a_wrong_one() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let venv = Venv::installing("deploy-guided", &["layerctl[deploy]"]);
    let w = world_on(cloudformation(), "deploying guided", false).await;
    let stack = format!("deploy-guided-{}", w.layer);
    let template = in_dist("layer-autopublish-", ".template.json");
    let template: serde_json::Value =
        serde_json::from_slice(&std::fs::read(template).expect("the template")).expect("JSON");
    let answers: BTreeMap<&str, Vec<&str>> = [
        (
            "ArtifactsBucketName",
            vec!["Not_A_Bucket", w.bucket.as_str()],
        ),
        ("LayerName", vec![w.layer.as_str()]),
        ("KeepVersions", vec!["2"]),
    ]
    .into();
    let mut input = String::new();
    let names = template["Parameters"]
        .as_object()
        .expect("parameters")
        .keys();
    for name in names.filter(|n| *n != "CodeBucket" && *n != "CodeKey") {
        for answer in answers.get(name.as_str()).cloned().unwrap_or(vec![""]) {
            input.push_str(answer);
            input.push('\n');
        }
    }
    let mut child = Command::new(venv.bin("layerctl"))
        .args(["--endpoint-url", cloudformation(), "--region", REGION])
        .args(["deploy", "--stack-name", &stack, "--guided"])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("layerctl runs");
    child
        .stdin
        .take()
        .expect("its input")
        .write_all(input.as_bytes())
        .expect("the answers");
    let guided = child.wait_with_output().expect("layerctl ends");
    assert_ok(&guided, "layerctl deploy --guided");
    let shown = said(&guided);
    assert!(shown.contains("Architecture ("), "{shown}");
    assert!(
        shown.contains("[x86_64]: "),
        "the default is shown: {shown}"
    );
    assert!(
        shown.contains("ArtifactsBucketName=Not_A_Bucket: it must match"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("stack {stack} is CREATE_COMPLETE")),
        "{shown}"
    );
    let zip = in_dist("layer-autopublish-", "-x86_64.zip");
    let (environment, _) = the_function(&w, &stack, &zip).await;
    assert_eq!(environment.get("LAYER_NAME"), Some(&w.layer));
    assert_eq!(
        environment.get("KEEP_VERSIONS").map(String::as_str),
        Some("2")
    );
}
