//! The template as CloudFormation would create it for a parameter set
//! (`tests/stack/stack.py resolve`: the SAM transform, then every intrinsic
//! function and condition), and an IAM policy engine to evaluate requests
//! against its policies (`tests/iam/simulate.mjs`).

use super::requests::{IamRequest, ACCOUNT};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One parameter set's stack, resolved.
pub struct Stack {
    resources: Value,
}

impl Stack {
    pub fn resolve(parameters: &BTreeMap<String, String>) -> Self {
        let script = format!("{ROOT}/tests/stack/stack.py");
        let parameters = serde_json::to_string(parameters).expect("JSON");
        let output = crate::support::venv_python(&[&script, "resolve", &parameters], "");
        let resolved: Value = serde_json::from_slice(&output).expect("JSON");
        Self {
            resources: resolved["resources"].clone(),
        }
    }

    pub fn resource(&self, logical: &str) -> &Value {
        &self.resources[logical]
    }

    /// The role's inline policies, as the engine takes them.
    pub fn role_policies(&self) -> Vec<Value> {
        let policies = self.resource("PublisherRole")["Properties"]["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        policies
            .iter()
            .map(|p| json!({"name": p["PolicyName"], "policy": p["PolicyDocument"]}))
            .collect()
    }

    /// The managed policy the stack offers CI.
    pub fn ci_policies(&self) -> Vec<Value> {
        let document = &self.resource("CiUploadPolicy")["Properties"]["PolicyDocument"];
        vec![json!({"name": "CiUploadPolicy", "policy": document})]
    }

    /// The function's environment, as the stack sets it.
    pub fn environment(&self) -> BTreeMap<String, String> {
        let variables =
            &self.resource("PublisherFunction")["Properties"]["Environment"]["Variables"];
        serde_json::from_value(variables.clone()).expect("the function's variables")
    }

    pub fn log_group(&self) -> String {
        self.resource("PublisherLogGroup")["Name"]
            .as_str()
            .expect("the log group's name")
            .to_owned()
    }

    pub fn failed_events_queue_arn(&self) -> String {
        self.resource("FailedEventsQueue")["Arn"]
            .as_str()
            .expect("the queue's ARN")
            .to_owned()
    }

    /// The created bucket's policy, when the stack creates the bucket.
    pub fn bucket_policy(&self) -> Option<Value> {
        let policy = &self.resource("ArtifactsBucketPolicy")["Properties"]["PolicyDocument"];
        (!policy.is_null()).then(|| policy.clone())
    }
}

/// Each check's requests evaluated against its policies, in one run of the
/// engine: `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied` or `Error: …`.
pub fn simulate(checks: &[(Vec<Value>, &[IamRequest])]) -> Vec<Vec<String>> {
    let folder = Path::new(ROOT).join("tests/iam");
    assert!(
        folder
            .join("node_modules/@cloud-copilot/iam-simulate")
            .exists(),
        "the IAM policy engine is missing: run `make tools` (npm ci in tests/iam)"
    );
    let input = json!({
        "principal": format!("arn:aws:iam::{ACCOUNT}:role/layer-autopublish-PublisherRole"),
        "account": ACCOUNT,
        "checks": checks.iter().map(|(policies, requests)| json!({
            "policies": policies,
            "requests": requests.iter().map(IamRequest::json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new("node")
        .arg("simulate.mjs")
        .current_dir(&folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let text = serde_json::to_vec(&input).expect("JSON");
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let output = child.wait_with_output().expect("node answers");
    writer.join().expect("written").expect("written");
    assert!(
        output.status.success(),
        "simulate.mjs: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("decisions")
}

/// One right of a policy: an action, or a resource of a statement with
/// several, in statement `statement` of policy `policy`.
#[derive(Clone, Debug)]
pub struct Right {
    pub policy: usize,
    pub statement: usize,
    pub sid: String,
    pub field: &'static str,
    pub value: String,
}

/// Every right of `policies`: each action of each statement, and each
/// resource of a statement that lists several.
pub fn rights_of(policies: &[Value]) -> Vec<Right> {
    let mut rights = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        let statements = policy["policy"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (s, statement) in statements.iter().enumerate() {
            let sid = statement["Sid"].as_str().unwrap_or("?").to_owned();
            for field in ["Action", "Resource"] {
                let values = strings(&statement[field]);
                if field == "Resource" && values.len() < 2 {
                    continue;
                }
                for value in values {
                    rights.push(Right {
                        policy: p,
                        statement: s,
                        sid: sid.clone(),
                        field,
                        value,
                    });
                }
            }
        }
    }
    rights
}

/// `policies` without `right` (a statement left with no action or
/// resource goes too).
pub fn without(policies: &[Value], right: &Right) -> Vec<Value> {
    let mut policies = policies.to_vec();
    let statements = policies[right.policy]["policy"]["Statement"]
        .as_array_mut()
        .expect("statements");
    let statement = &mut statements[right.statement];
    let left: Vec<String> = strings(&statement[right.field])
        .into_iter()
        .filter(|v| *v != right.value)
        .collect();
    if left.is_empty() {
        statements.remove(right.statement);
    } else {
        statement[right.field] = json!(left);
    }
    policies
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}
