//! The template, deployed: transformed by the SAM translator and created on
//! moto's CloudFormation (`tests/stack/stack.py deploy`) for each way of
//! deploying it, and updated from one to another. Each stack must complete
//! with the resources and outputs docs/deploying.md lists for its options;
//! its IAM policies and outputs as moto's CloudFormation made them must be
//! those `stack.py resolve` gives (the resolution the policy-engine test in
//! `rights/` proves requests against); and the function, configured as the
//! stack configured it, publishes from the stack's bucket.
//!
//! Where moto departs from CloudFormation, this says so:
//! - it keeps `!Ref AWS::NoValue` in a list as null (the stack would fail
//!   with MalformedPolicyDocument): its server here corrects that one thing
//!   (`tests/stack/moto_cloudformation.py`);
//! - it does not model the types of [`MOTO_DOES_NOT_MODEL`] (they are checked
//!   offline by `make lint`'s cfn-lint and checkov, and by `tests/checks/`);
//! - of a bucket's properties it applies only `BucketEncryption`
//!   (versioning, the public access block and the notification configuration
//!   are checked in `tests/checks/`);
//! - `!GetAtt LogGroup.Arn` has no `:*` at its end on moto;
//! - a function's `Architectures` is dropped (every function is x86_64):
//!   `Architecture=arm64` is checked in the resolved template;
//! - a scheduled rule (`SweepSchedule`) on the default bus makes moto's
//!   `PutEvents` to that bus fail (HTTP 500): the sweep is deployed where
//!   `EventBus` is off;
//! - an update changes neither the role's inline policies nor the CI
//!   managed policy (which moto drops from the stack, and its output with
//!   it): policies are compared when a stack is created.

use crate::common::{invoke, world_on, Moto, World, REGION};
use crate::layerctl::{assert_exit, layerctl_via, upload_args, Scratch};
use crate::support::*;
use aws_sdk_lambda::types::Architecture;
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::Publisher;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Resource types moto's CloudFormation skips (it creates nothing for them
/// and lists them without a logical id).
const MOTO_DOES_NOT_MODEL: [&str; 4] = [
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::EventInvokeConfig",
];

/// Resource types whose update moto's CloudFormation does not model: it
/// drops them from the stack (the policy stays as first created).
const MOTO_DOES_NOT_UPDATE: [&str; 1] = ["AWS::IAM::ManagedPolicy"];

/// moto's server with CloudFormation's `AWS::NoValue`, for this module's
/// tests (stacks of several tests side by side, each its own names).
pub(crate) fn cloudformation() -> &'static str {
    static SERVER: OnceLock<Moto> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let python = format!("{root}/.venv/bin/python");
        let script = format!("{root}/tests/stack/moto_cloudformation.py");
        Moto::start(&[&python, &script])
    });
    &server.endpoint
}

/// Creates (or updates) `stack` with `parameters`; what `stack.py deploy`
/// reports.
fn deploy(stack: &str, parameters: &[(&str, &str)], update: bool) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stack/stack.py");
    let parameters: BTreeMap<&str, &str> = parameters.iter().copied().collect();
    let parameters = serde_json::to_string(&parameters).expect("JSON");
    let endpoint = cloudformation();
    let mut args = vec![script, "deploy", endpoint, stack, &parameters];
    if update {
        args.push("update");
    }
    serde_json::from_slice(&venv_python(&args, endpoint)).expect("JSON")
}

/// The stack reached `status` with every resource the template gives its
/// parameters (`expected`, by logical id, as docs/deploying.md lists them)
/// and nothing else; its outputs are `outputs` (docs/deploying.md's) with
/// the values the template gives; its policies are those resolved for the
/// policy-engine test.
fn assert_as_documented(deployed: &Value, status: &str, expected: &[&str], outputs: &[&str]) {
    assert_eq!(deployed["status"], status, "{}", deployed["reason"]);
    let template = deployed["template"]["resources"]
        .as_object()
        .expect("the template's resources");
    let names: BTreeSet<&str> = template.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = expected.iter().copied().collect();
    assert_eq!(names, expected, "the resources of these options");
    let updated = status == "UPDATE_COMPLETE";
    let skipped = |kind: &str| {
        MOTO_DOES_NOT_MODEL.contains(&kind) || (updated && MOTO_DOES_NOT_UPDATE.contains(&kind))
    };
    for (logical, kind) in template {
        let created = &deployed["resources"][logical];
        if skipped(kind.as_str().unwrap_or_default()) {
            assert!(
                created.is_null(),
                "moto now models {kind}: check {logical} here"
            );
            continue;
        }
        assert_eq!(&created["Type"], kind, "{logical}");
        let done = created["Status"].as_str().unwrap_or_default();
        assert!(done.ends_with("_COMPLETE"), "{logical}: {done}");
    }
    let created = deployed["resources"].as_object().expect("resources");
    let beyond: Vec<&String> = created
        .keys()
        .filter(|k| !template.contains_key(*k))
        .collect();
    assert!(
        beyond.is_empty(),
        "resources the options do not give: {beyond:?}"
    );

    let mut expected_outputs = deployed["template"]["outputs"].clone();
    let mut output_names: BTreeSet<&str> = outputs.iter().copied().collect();
    if updated {
        // The policy moto dropped has no ARN to give.
        expected_outputs
            .as_object_mut()
            .map(|o| o.remove("CiUploadPolicyArn"));
        output_names.remove("CiUploadPolicyArn");
    }
    let given = deployed["outputs"].as_object().expect("outputs");
    let keys: BTreeSet<&str> = given.keys().map(String::as_str).collect();
    assert_eq!(keys, output_names, "the outputs");
    assert_eq!(deployed["outputs"], expected_outputs);

    // moto updates neither a role's inline policies nor a managed policy:
    // the policies are compared as created.
    if !updated {
        assert_eq!(
            deployed["policies"]["ci"],
            deployed["template"]["policies"]["ci"]
        );
        let mut role = deployed["template"]["policies"]["role"].clone();
        without_log_groups_star(&mut role);
        assert_eq!(deployed["policies"]["role"], role, "the role's policies");
    }
}

/// The template's policies as moto makes them: a log group's ARN without
/// the `:*` CloudFormation ends it with.
fn without_log_groups_star(value: &mut Value) {
    match value {
        Value::String(text) if text.contains(":log-group:") => {
            if let Some(arn) = text.strip_suffix(":*") {
                *text = arn.to_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_log_groups_star),
        Value::Object(map) => map.values_mut().for_each(without_log_groups_star),
        _ => {}
    }
}

/// Every stack has these.
const ALWAYS: [&str; 8] = [
    "PublisherFunction",
    "PublisherFunctionEventInvokeConfig",
    "PublisherRole",
    "PublisherLogGroup",
    "CiUploadPolicy",
    "FailedEventsQueue",
    "PublisherErrorsAlarm",
    "FailedEventsAlarm",
];

const OUTPUTS: [&str; 7] = [
    "ArtifactsBucket",
    "ArtifactsUploadPrefix",
    "CiUploadPolicyArn",
    "PublisherFunctionName",
    "PublisherFunctionArn",
    "FailedEventsQueueUrl",
    "LayerArn",
];

fn with(base: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(more).copied().collect()
}

/// The function as the stack configured it: its settings, and its
/// environment the template's for these parameters.
async fn assert_the_function_as_configured(w: &World, deployed: &Value) -> Publisher<Aws> {
    let name = deployed["outputs"]["PublisherFunctionName"]
        .as_str()
        .expect("a name");
    let function = w
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .expect("the stack's function");
    assert_eq!(
        function.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    let architecture = deployed["parameters"]["Architecture"]
        .as_str()
        .unwrap_or("x86_64");
    assert_eq!(deployed["template"]["architectures"], json!([architecture]));
    // moto creates every function on x86_64 (it drops Architectures).
    assert_eq!(function.architectures(), [Architecture::X8664]);
    assert_eq!(
        (function.memory_size(), function.timeout()),
        (Some(128), Some(120))
    );
    assert_eq!(function.handler(), Some("bootstrap"));
    let role = function.role().unwrap_or_default();
    let role_name = deployed["resources"]["PublisherRole"]["PhysicalId"].as_str();
    assert!(
        role.ends_with(&format!(":role/{}", role_name.unwrap_or("?"))),
        "{role}"
    );
    let environment: BTreeMap<String, String> = function
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.clone().into_iter().collect())
        .unwrap_or_default();
    let expected: BTreeMap<String, String> =
        serde_json::from_value(deployed["template"]["environment"].clone()).expect("variables");
    assert_eq!(environment, expected, "the function's environment");
    let config = Config::from_lookup(|name| environment.get(name).cloned())
        .expect("the stack's environment starts the function");
    Publisher::new(Aws::new(&w.sdk), config, REGION)
}

/// CI's upload of `lock` with `layerctl`, then the function's publish from
/// it, as the stack configured them.
async fn publishes(w: &World, publisher: &Publisher<Aws>, build: &str, lock: &str) -> i64 {
    let local = Scratch::new(&format!("deployed-{}", w.layer));
    let zip = local.file("layer.zip", &zip_bytes(build));
    let lock = local.file("requirements.txt", lock.as_bytes());
    let s3_dir = format!("s3://{}/{DIR}", w.bucket);
    let endpoint = cloudformation();
    assert_exit(
        &layerctl_via(w, endpoint, &upload_args(&zip, &lock, &s3_dir, &[])),
        0,
    );
    let response = invoke(publisher, w.event(&key("layer.zip"), None))
        .await
        .unwrap_or_else(|d| panic!("{}: {}", d.error_type, d.error_message));
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    response.results[0].layer_version.expect("a version")
}

async fn encryption(w: &World) -> (String, Option<String>) {
    let rules =
        w.s3.get_bucket_encryption()
            .bucket(&w.bucket)
            .send()
            .await
            .expect("the bucket's encryption");
    let default = rules
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .expect("a default encryption");
    (
        default.sse_algorithm().as_str().to_owned(),
        default.kms_master_key_id().map(str::to_owned),
    )
}

/// The defaults (a bucket the stack creates), then an update that sets a
/// KMS key, an alarm email, the latest pointer and retention.
#[tokio::test]
async fn a_stack_that_creates_its_bucket_then_updated_with_more_parts() {
    let w = world_on(cloudformation(), "deployed created", false).await;
    let stack = format!("created-{}", w.layer);
    let mut parameters = vec![
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
    ];
    let deployed = deploy(&stack, &parameters, false);
    let created = with(
        &ALWAYS,
        &[
            "ArtifactsBucket",
            "ArtifactsBucketPolicy",
            "ArtifactsBucketInvokesPublisher",
        ],
    );
    assert_as_documented(&deployed, "CREATE_COMPLETE", &created, &OUTPUTS);
    assert_eq!(deployed["outputs"]["ArtifactsBucket"], w.bucket.as_str());
    let prefix = format!("s3://{}/projects/", w.bucket);
    assert_eq!(
        deployed["outputs"]["ArtifactsUploadPrefix"],
        prefix.as_str()
    );
    let layer_arn = format!("arn:aws:lambda:{REGION}:123456789012:layer:{}", w.layer);
    assert_eq!(deployed["outputs"]["LayerArn"], layer_arn.as_str());
    assert_eq!(deployed["log_group_retention"], 90);
    assert_eq!(encryption(&w).await, ("AES256".to_owned(), None));
    let queue = deployed["outputs"]["FailedEventsQueueUrl"]
        .as_str()
        .expect("a URL");
    let sqs = aws_sdk_sqs::Client::new(&w.sdk);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("the failed-events queue");
    let attribute = |name: &str| {
        attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::from(name)))
            .cloned()
    };
    assert_eq!(
        attribute("MessageRetentionPeriod").as_deref(),
        Some("1209600")
    );
    assert_eq!(attribute("SqsManagedSseEnabled").as_deref(), Some("true"));
    // S3 may invoke the function, for this bucket only.
    let function = deployed["outputs"]["PublisherFunctionName"]
        .as_str()
        .expect("a name");
    let policy = w
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .expect("the function's resource policy");
    let policy: Value = serde_json::from_str(policy.policy().unwrap_or_default()).expect("JSON");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    let bucket_arn = format!("arn:aws:s3:::{}", w.bucket);
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        bucket_arn.as_str(),
        "{statement}"
    );
    let publisher = assert_the_function_as_configured(&w, &deployed).await;
    assert_eq!(publishes(&w, &publisher, "build 1", LOCK_V1).await, 1);

    let key_arn = create_a_kms_key(&w);
    parameters.extend([
        ("KmsKeyArn", key_arn.as_str()),
        ("AlarmEmail", "ops@example.com"),
        ("LatestParameter", "/layer-autopublish/{layer}/latest"),
        ("KeepVersions", "1"),
        ("SweepSchedule", "rate(1 hour)"),
    ]);
    let updated = deploy(&stack, &parameters, true);
    let outputs = with(&OUTPUTS, &["AlarmTopic"]);
    assert_as_documented(
        &updated,
        "UPDATE_COMPLETE",
        &with(
            &created,
            &["AlarmTopic", "SweepRule", "SweepRuleInvokesPublisher"],
        ),
        &outputs,
    );
    assert_eq!(encryption(&w).await, ("aws:kms".to_owned(), Some(key_arn)));
    let publisher = assert_the_function_as_configured(&w, &updated).await;
    assert_eq!(publishes(&w, &publisher, "build 2", LOCK_V2).await, 2);
    assert_eq!(
        w.versions().await.len(),
        1,
        "KeepVersions=1 kept the new one only"
    );
}

/// An existing bucket through the EventBridge rule, with every optional
/// part on.
#[tokio::test]
async fn a_stack_on_an_existing_bucket_with_every_part() {
    let w = world_on(cloudformation(), "deployed every part", true).await;
    let stack = format!("every-part-{}", w.layer);
    let follower = format!("{}-api", w.layer);
    create_function_on(cloudformation(), &follower, &[]);
    let followers = format!("arn:aws:lambda:{REGION}:123456789012:function:{follower}");
    let replicate_to = format!("eu-west-1={}-eu", w.bucket);
    let allowed = format!("{}*", w.layer);
    let parameters = [
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
        ("UseExistingBucket", "true"),
        ("LatestParameter", "/layer-autopublish/{layer}/latest"),
        ("ShareWith", "111122223333"),
        ("EventBus", "default"),
        ("KeepVersions", "2"),
        ("PruneRecords", "true"),
        ("AllowedLayers", allowed.as_str()),
        ("Followers", followers.as_str()),
        ("ReplicateTo", replicate_to.as_str()),
        ("AlarmTopicArn", "arn:aws:sns:us-east-1:123456789012:ops"),
        ("Architecture", "arm64"),
    ];
    let deployed = deploy(&stack, &parameters, false);
    let expected = with(
        &ALWAYS,
        &[
            "LayerZipCreatedRule",
            "RuleKeepsUndeliveredEvents",
            "LayerZipCreatedRuleInvokesPublisher",
        ],
    );
    assert_as_documented(&deployed, "CREATE_COMPLETE", &expected, &OUTPUTS);

    let rule = deployed["resources"]["LayerZipCreatedRule"]["PhysicalId"]
        .as_str()
        .expect("the rule's name");
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let described = events
        .describe_rule()
        .name(rule)
        .send()
        .await
        .expect("the rule");
    let pattern: Value =
        serde_json::from_str(described.event_pattern().unwrap_or_default()).expect("JSON");
    assert_eq!(
        pattern["detail"]["object"]["key"],
        json!([{"wildcard": "projects/layer.zip"}, {"wildcard": "projects/*/layer.zip"}])
    );
    assert_eq!(pattern["detail"]["bucket"]["name"], json!([w.bucket]));
    let targets = events
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .expect("its targets");
    let target = &targets.targets()[0];
    assert_eq!(
        Some(target.arn()),
        deployed["outputs"]["PublisherFunctionArn"].as_str()
    );
    let dead_letters = target
        .dead_letter_config()
        .and_then(|d| d.arn())
        .unwrap_or_default();
    assert!(
        dead_letters.contains(":every-part-"),
        "the failed-events queue: {dead_letters}"
    );

    let publisher = assert_the_function_as_configured(&w, &deployed).await;
    w.create_eu_bucket().await;
    assert_eq!(publishes(&w, &publisher, "build 1", LOCK_V1).await, 1);
}

/// An existing bucket encrypted with a KMS key, its notifications read
/// from a queue.
#[tokio::test]
async fn a_stack_on_an_existing_kms_bucket_through_a_queue() {
    let w = world_on(cloudformation(), "deployed kms queue", true).await;
    let key_arn = encrypt_with_a_kms_key(&w).await;
    let queue = w.queue("uploads").await;
    let stack = format!("queued-{}", w.layer);
    let parameters = [
        ("ArtifactsBucketName", w.bucket.as_str()),
        ("LayerName", w.layer.as_str()),
        ("UseExistingBucket", "true"),
        ("SourceQueueArn", queue.arn.as_str()),
        ("KmsKeyArn", key_arn.as_str()),
    ];
    let deployed = deploy(&stack, &parameters, false);
    let expected = with(&ALWAYS, &["QueuedUploads"]);
    assert_as_documented(&deployed, "CREATE_COMPLETE", &expected, &OUTPUTS);
    let function = deployed["outputs"]["PublisherFunctionName"]
        .as_str()
        .expect("a name");
    let mappings = w
        .lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
        .expect("its event source mappings");
    let mapping = &mappings.event_source_mappings()[0];
    assert_eq!(mapping.event_source_arn(), Some(queue.arn.as_str()));
    assert_eq!(mapping.batch_size(), Some(10));
    let types: Vec<&str> = mapping
        .function_response_types()
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(types, ["ReportBatchItemFailures"]);

    let publisher = assert_the_function_as_configured(&w, &deployed).await;
    assert_eq!(publishes(&w, &publisher, "build 1", LOCK_V1).await, 1);
}
