//! `layerctl deploy`: creates or updates the stack from the release this
//! layerctl was built with, with nothing but AWS credentials. It reads what
//! is there (the stack, the account), plans (create or update, and with
//! which parameters), then acts: the function's zip into the code bucket,
//! a change set, its events as they come, the stack's outputs and the line
//! CI runs.
//!
//! The calls it makes, in order: STS GetCallerIdentity; CloudFormation
//! DescribeStacks; S3 HeadBucket, for its own bucket GetBucketTagging
//! (CreateBucket, PutPublicAccessBlock, PutBucketEncryption,
//! PutBucketVersioning, PutBucketTagging when it is missing or was left
//! without them), HeadObject, PutObject (when the zip is new); CloudFormation
//! CreateChangeSet, DescribeChangeSet, DescribeStackEvents, ExecuteChangeSet,
//! then DescribeStacks and DescribeStackEvents until the stack is done
//! (DeleteStack first for a stack whose creation was rolled back).

use crate::args::DeployArgs;
use crate::code_bucket::{self, CodeBucket};
use crate::failure::Failure;
use crate::release::{FunctionZip, Release};
use crate::report::Report;
use crate::stack::{self, Stack};
use crate::template::{Parameters, CODE_BUCKET, CODE_KEY};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// The clients a deploy uses.
pub struct Clients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

/// What the stack needs done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    /// Its creation failed and was rolled back: it can only be deleted,
    /// then created again.
    DeleteThenCreate,
    Update,
}

/// Create or update, by the stack's status; a stack that is changing or
/// stuck is left to the user, with what to do.
pub fn action_for(stack: Option<&Stack>, name: &str) -> Result<Action, Failure> {
    let Some(stack) = stack else {
        return Ok(Action::Create);
    };
    match stack.status.as_str() {
        // Created by a change set that never ran.
        "REVIEW_IN_PROGRESS" => Ok(Action::Create),
        "ROLLBACK_COMPLETE" => Ok(Action::DeleteThenCreate),
        status if stack::in_progress(status) => Err(Failure::Busy(format!(
            "stack {name} is {status}: wait until it is done, then deploy again"
        ))),
        status if status.ends_with("_FAILED") => Err(Failure::Rejected(format!(
            "stack {name} is {status}{}: fix it in the CloudFormation console (continue the \
             rollback, or delete the stack), then deploy again",
            stack
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ))),
        _ => Ok(Action::Update),
    }
}

/// The parameters a change set is given: each one given, the code's
/// location, and on an update every other one the stack has kept as it is
/// (CloudFormation would otherwise put the template's default back).
pub fn change_set_parameters(
    template: &Parameters, given: &BTreeMap<String, String>, code: (&str, &str),
    previous: Option<&Stack>, action: Action,
) -> Result<Vec<Parameter>, Failure> {
    let mut parameters = vec![
        Parameter::builder()
            .parameter_key(CODE_BUCKET)
            .parameter_value(code.0)
            .build(),
        Parameter::builder()
            .parameter_key(CODE_KEY)
            .parameter_value(code.1)
            .build(),
    ];
    let mut missing = Vec::new();
    for parameter in template.for_users() {
        let name = &parameter.name;
        if let Some(value) = given.get(name) {
            parameters.push(
                Parameter::builder()
                    .parameter_key(name)
                    .parameter_value(value)
                    .build(),
            );
        } else if action == Action::Update
            && previous.is_some_and(|s| s.parameters.contains_key(name))
        {
            parameters.push(
                Parameter::builder()
                    .parameter_key(name)
                    .use_previous_value(true)
                    .build(),
            );
        } else if parameter.default.is_none() {
            missing.push(format!(
                "{name} ({})",
                first_sentence(&parameter.description)
            ));
        }
    }
    if missing.is_empty() {
        Ok(parameters)
    } else {
        Err(Failure::Rejected(format!(
            "the stack needs a value for: {}. Give each as --parameter Key=Value, or run with \
             --guided",
            missing.join("; ")
        )))
    }
}

/// A description's first sentence, for a one-line message.
fn first_sentence(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | ':' | '(') && text[i + 1..].starts_with([' ', '\n']) || c == '('
        })
        .map_or(text.len(), |(i, _)| i);
    text[..end].trim_end()
}

/// Asks for each parameter on the terminal: Enter keeps what is shown (the
/// stack's value, else the template's default).
fn guided(
    template: &Parameters, given: &mut BTreeMap<String, String>, previous: Option<&Stack>,
) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for parameter in template.for_users() {
        let name = &parameter.name;
        let shown = given
            .get(name)
            .or_else(|| previous.and_then(|s| s.parameters.get(name)))
            .or(parameter.default.as_ref())
            .cloned();
        loop {
            print!(
                "{name} ({}) [{}]: ",
                parameter.description,
                shown.as_deref().unwrap_or("")
            );
            let _ = std::io::stdout().flush();
            // Enter, or the end of the input: what is shown, if anything.
            let (answer, ended) = match lines.next() {
                Some(Ok(line)) => (
                    Some(line.trim().to_owned()).filter(|a| !a.is_empty()),
                    false,
                ),
                _ => (None, true),
            };
            let Some(value) = answer.or_else(|| shown.clone()) else {
                if ended {
                    return Err(Failure::Rejected(format!("{name} needs a value")));
                }
                println!("  {name} has no default: give a value");
                continue;
            };
            match parameter.accepts(&value) {
                Ok(()) => {
                    given.insert(name.clone(), value);
                    break;
                }
                Err(problem) if ended => return Err(Failure::Rejected(problem)),
                Err(problem) => println!("  {problem}"),
            }
        }
    }
    Ok(())
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Deployed<'a> {
    stack: &'a str,
    status: &'a str,
    changed: bool,
    code: String,
    outputs: &'a BTreeMap<String, String>,
}

/// What a deploy found before acting, and what it will do.
struct Plan {
    release: Release,
    template_text: String,
    account: String,
    existing: Option<Stack>,
    action: Action,
    architecture: String,
    given: BTreeMap<String, String>,
    parameters: Parameters,
}

pub async fn run(
    clients: &Clients, region: &str, report: &Report, args: DeployArgs,
) -> Result<(), Failure> {
    let started = Instant::now();
    let name = args.stack_name.clone();
    let plan = plan(clients, &args).await?;
    let zip = plan.release.function_zip(
        &plan.architecture,
        args.function_zip.as_deref(),
        args.trust_function_zip,
    )?;
    report.line(format!(
        "deploying layer-autopublish {} ({}) as stack {name} in {region}, account {}",
        plan.release.version, plan.architecture, plan.account
    ));

    // The code first: the change set names it.
    let code = upload_code(clients, region, report, &plan.account, &args, &zip).await?;
    let unchanged = || {
        unchanged(
            report,
            &name,
            plan.existing.as_ref(),
            &code,
            &plan.release.version,
        )
    };
    let change_set_parameters = change_set_parameters(
        &plan.parameters,
        &plan.given,
        (&code.bucket, &code.key),
        plan.existing.as_ref(),
        plan.action,
    )?;
    let cfn = &clients.cloudformation;
    if plan.action == Action::DeleteThenCreate {
        report.line(format!(
            "stack {name} is ROLLBACK_COMPLETE (its creation failed, nothing of it is left to \
             keep): deleting it first"
        ));
        delete(cfn, &name).await?;
    }
    let kind = if plan.action == Action::Update {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let change_set_name = format!("layerctl-{}", millis_now());
    let created = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name(&change_set_name)
        .change_set_type(kind)
        .template_body(&plan.template_text)
        .set_parameters(Some(change_set_parameters))
        .capabilities(Capability::CapabilityIam)
        .description(format!(
            "layerctl deploy, layer-autopublish {}",
            plan.release.version
        ))
        // The SDK's retry of a call whose answer was lost is then the same
        // call, not a second change set.
        .client_token(&change_set_name)
        .send()
        .await;
    let created = match created {
        Ok(created) => created,
        // moto says "no changes" here; CloudFormation says it in the change
        // set's status (below).
        Err(e) if e.message().is_some_and(no_changes) => return unchanged(),
        Err(e) => return Err(stack::failure("CreateChangeSet", &name, &e)),
    };
    let change_set = created.id().unwrap_or(&change_set_name).to_owned();
    let stack_id = created.stack_id().unwrap_or(&name).to_owned();
    let Some(changes) = wait_for_change_set(cfn, &name, &change_set).await? else {
        // Nothing to keep it for.
        let _ = cfn
            .delete_change_set()
            .stack_name(&stack_id)
            .change_set_name(&change_set)
            .send()
            .await;
        return unchanged();
    };
    report.line(format!(
        "change set {change_set_name}: {}",
        if changes.is_empty() {
            "the stack's parameters".to_owned()
        } else {
            changes.join(", ")
        }
    ));
    let stack = execute(cfn, &name, &stack_id, &change_set, plan.action, report).await?;
    report.line(format!(
        "stack {name} is {} ({:.0} s)",
        stack.status,
        started.elapsed().as_secs_f64()
    ));
    outputs(report, &name, &stack.outputs);
    report.result(&Deployed {
        stack: &name,
        status: &stack.status,
        changed: true,
        code: code.uri(),
        outputs: &stack.outputs,
    });
    Ok(())
}

/// The facts (the release, the account, the stack as it is) and what to do
/// with them. Every parameter is checked here, before anything is created.
async fn plan(clients: &Clients, args: &DeployArgs) -> Result<Plan, Failure> {
    let name = &args.stack_name;
    let release = Release::installed()?;
    let template_text = release.template()?;
    let template: serde_json::Value = serde_json::from_str(&template_text)
        .map_err(|e| Failure::Rejected(format!("the release's template: {e}")))?;
    let parameters = Parameters::of(&template)?;
    let mut given: BTreeMap<String, String> = args.parameters.iter().cloned().collect();
    parameters.check(&given)?;

    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            Failure::Aws(format!(
                "STS GetCallerIdentity (which account do these credentials reach?): {}",
                stack::said(&e)
            ))
        })?;
    let account = identity.account().unwrap_or_default().to_owned();
    let existing = stack::describe(&clients.cloudformation, name).await?;
    let action = action_for(existing.as_ref(), name)?;

    // The processor: the one asked for, else the stack's, else the template's.
    let architecture = args
        .architecture
        .clone()
        .or_else(|| given.get("Architecture").cloned())
        .or_else(|| {
            existing
                .as_ref()
                .and_then(|s| s.parameters.get("Architecture").cloned())
        })
        .unwrap_or_else(|| "x86_64".to_owned());
    given.insert("Architecture".into(), architecture);
    if args.guided {
        guided(&parameters, &mut given, existing.as_ref())?;
    }
    parameters.check(&given)?;
    let architecture = given
        .get("Architecture")
        .cloned()
        .unwrap_or_else(|| "x86_64".to_owned());
    // The code's place is not known yet: the rest is checked now.
    change_set_parameters(&parameters, &given, ("-", "-"), existing.as_ref(), action)?;
    Ok(Plan {
        release,
        template_text,
        account,
        existing,
        action,
        architecture,
        given,
        parameters,
    })
}

/// Where the function's zip is for CloudFormation.
struct Code {
    bucket: String,
    key: String,
}

impl Code {
    fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The zip into the code bucket (made first when it is layerctl's own and
/// missing), unless the same bytes are there.
async fn upload_code(
    clients: &Clients, region: &str, report: &Report, account: &str, args: &DeployArgs,
    zip: &FunctionZip,
) -> Result<Code, Failure> {
    let (bucket, made) =
        code_bucket::ensure(&clients.s3, account, region, args.code_bucket.as_deref()).await?;
    match made {
        CodeBucket::Ready => {}
        CodeBucket::Created => report.line(format!(
            "created code bucket s3://{bucket} (private, encrypted, versioned)"
        )),
        CodeBucket::SetUpAgain => report.line(format!(
            "set up code bucket s3://{bucket} (private, encrypted, versioned): an earlier \
             deploy stopped before it had"
        )),
    }
    let uploaded =
        code_bucket::put_zip(&clients.s3, &bucket, account, &zip.sha256, &zip.bytes).await?;
    let code = Code {
        key: code_bucket::key_of(&zip.sha256),
        bucket,
    };
    report.line(format!(
        "{} {} ({}, {} bytes, SHA-256 {})",
        if uploaded {
            "uploaded"
        } else {
            "already there:"
        },
        code.uri(),
        zip.path.display(),
        zip.bytes.len(),
        zip.sha256
    ));
    Ok(code)
}

/// Runs the change set and shows its events; the stack once it is done, or
/// why it failed and what became of it.
async fn execute(
    cfn: &aws_sdk_cloudformation::Client, name: &str, stack_id: &str, change_set: &str,
    action: Action, report: &Report,
) -> Result<Stack, Failure> {
    let seen = stack::seen_events(cfn, stack_id).await?;
    if let Err(e) = cfn
        .execute_change_set()
        .stack_name(stack_id)
        .change_set_name(change_set)
        // As for the change set: a retried execution is the same one.
        .client_request_token(format!(
            "run-{}",
            change_set.rsplit('/').next().unwrap_or("layerctl")
        ))
        .send()
        .await
    {
        // moto applies a change set within this call, and a resource it
        // cannot make fails the call: the stack is left as it was.
        let failure = stack::failure("ExecuteChangeSet", name, &e);
        let now = stack::describe(cfn, stack_id).await.ok().flatten();
        return Err(Failure::Aws(format!(
            "the deploy failed: {failure}{}",
            now.map(|s| format!(" (stack {name} is {})", s.status))
                .unwrap_or_default()
        )));
    }
    let ended = stack::watch(cfn, stack_id, seen, report).await?;
    if !ended.succeeded() {
        let what_became_of_it = match (ended.status.contains("ROLLBACK"), action) {
            (false, _) => "",
            (true, Action::Update) => ": rolled back to what it was before",
            (true, _) => ": rolled back (the next deploy deletes it and creates it again)",
        };
        let reasons = if ended.failures.is_empty() {
            "CloudFormation gave no reason".to_owned()
        } else {
            ended.failures.join("; ")
        };
        return Err(Failure::Aws(format!(
            "the deploy failed: {reasons}. Stack {name} is {}{what_became_of_it}",
            ended.status
        )));
    }
    Ok(stack::describe(cfn, stack_id).await?.unwrap_or_default())
}

/// What CloudFormation (or moto) says when a change set changes nothing.
fn no_changes(message: &str) -> bool {
    message.contains("didn't contain changes") || message.contains("No updates are to be performed")
}

/// "No changes" is success: the stack is already what was asked for.
fn unchanged(
    report: &Report, name: &str, stack: Option<&Stack>, code: &Code, version: &str,
) -> Result<(), Failure> {
    let empty = BTreeMap::new();
    let outputs_now = stack.map_or(&empty, |s| &s.outputs);
    report.line(format!(
        "no changes: stack {name} already runs layer-autopublish {version} with these parameters"
    ));
    outputs(report, name, outputs_now);
    report.result(&Deployed {
        stack: name,
        status: stack.map_or("", |s| s.status.as_str()),
        changed: false,
        code: code.uri(),
        outputs: outputs_now,
    });
    Ok(())
}

/// The stack's outputs, then the line CI runs.
fn outputs(report: &Report, name: &str, outputs: &BTreeMap<String, String>) {
    for (key, value) in outputs {
        report.line(format!("  {key:<24} {value}"));
    }
    if let Some(prefix) = outputs.get("ArtifactsUploadPrefix") {
        report.line(format!(
            "CI uploads with (its role needs the policy {}):\n  layerctl upload --zip \
             layer.zip --manifest requirements.txt --s3-dir {prefix}my-app",
            outputs
                .get("CiUploadPolicyArn")
                .map(String::as_str)
                .unwrap_or("CiUploadPolicyArn")
        ));
        report.line(format!(
            "or, with cloudformation:DescribeStacks on the stack: layerctl upload --zip \
             layer.zip --manifest requirements.txt --stack-name {name} --folder my-app"
        ));
    }
}

/// Waits until the change set is ready: its changes, or `None` when it
/// changes nothing.
async fn wait_for_change_set(
    cfn: &aws_sdk_cloudformation::Client, stack: &str, change_set: &str,
) -> Result<Option<Vec<String>>, Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let described = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| stack::failure("DescribeChangeSet", stack, &e))?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let changes = described
                    .changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|r| {
                        format!(
                            "{} {}",
                            r.action().map(|a| a.as_str()).unwrap_or("Change"),
                            r.logical_resource_id().unwrap_or_default()
                        )
                    })
                    .collect();
                return Ok(Some(changes));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default();
                if no_changes(reason) {
                    return Ok(None);
                }
                return Err(Failure::Aws(format!(
                    "the change set for stack {stack} failed: {reason}"
                )));
            }
            _ if Instant::now() > deadline => {
                return Err(Failure::Aws(format!(
                    "the change set for stack {stack} was not ready within 10 minutes"
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(1_000 + fastrand::u64(..500))).await,
        }
    }
}

/// Deletes a stack whose creation was rolled back, and waits until it is gone.
async fn delete(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Result<(), Failure> {
    cfn.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| stack::failure("DeleteStack", name, &e))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while let Some(stack) = stack::describe(cfn, name).await? {
        if stack.status == "DELETE_COMPLETE" {
            break;
        }
        if stack.status == "DELETE_FAILED" || Instant::now() > deadline {
            return Err(Failure::Aws(format!(
                "stack {name} could not be deleted ({}): delete it in the CloudFormation \
                 console, then deploy again",
                stack.status
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}

/// Milliseconds since 1970, for a change set's name of its own.
fn millis_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    now.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Parameters {
        Parameters::of(&json!({"Parameters": {
            "LayerName": {"Type": "String", "Description": "the layer"},
            "KeepVersions": {"Type": "String", "Default": ""},
            "Architecture": {"Type": "String", "Default": "x86_64"},
            "CodeBucket": {"Type": "String"},
            "CodeKey": {"Type": "String"},
        }}))
        .expect("parameters")
    }

    fn stack(status: &str) -> Stack {
        Stack {
            status: status.into(),
            parameters: [("LayerName", "deps"), ("KeepVersions", "3")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            ..Stack::default()
        }
    }

    fn shown(parameters: &[Parameter]) -> Vec<String> {
        parameters
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.parameter_key().unwrap_or_default(),
                    if p.use_previous_value() == Some(true) {
                        "(previous)"
                    } else {
                        p.parameter_value().unwrap_or_default()
                    }
                )
            })
            .collect()
    }

    #[test]
    fn the_stacks_status_decides_create_or_update() {
        assert_eq!(action_for(None, "s").ok(), Some(Action::Create));
        let action = |status: &str| action_for(Some(&stack(status)), "s");
        assert_eq!(action("REVIEW_IN_PROGRESS").ok(), Some(Action::Create));
        assert_eq!(
            action("ROLLBACK_COMPLETE").ok(),
            Some(Action::DeleteThenCreate)
        );
        for done in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
        ] {
            assert_eq!(action(done).ok(), Some(Action::Update), "{done}");
        }
        let busy = action("UPDATE_IN_PROGRESS").unwrap_err();
        assert_eq!(busy.exit_code(), 5);
        let stuck = action("UPDATE_ROLLBACK_FAILED").unwrap_err();
        assert_eq!(stuck.exit_code(), 3);
        assert!(stuck.to_string().contains("console"), "{stuck}");
    }

    #[test]
    fn an_update_keeps_what_is_not_given_and_a_create_needs_what_has_no_default() {
        let given: BTreeMap<String, String> =
            [("Architecture".to_owned(), "arm64".to_owned())].into();
        let previous = stack("UPDATE_COMPLETE");
        let update = change_set_parameters(
            &template(),
            &given,
            ("b", "k.zip"),
            Some(&previous),
            Action::Update,
        )
        .expect("an update");
        assert_eq!(
            shown(&update),
            [
                "CodeBucket=b",
                "CodeKey=k.zip",
                "Architecture=arm64",
                "KeepVersions=(previous)",
                "LayerName=(previous)"
            ]
        );
        let missing = change_set_parameters(&template(), &given, ("b", "k"), None, Action::Create)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("LayerName (the layer)"), "{missing}");
        assert_eq!(
            first_sentence("Name of the bucket: the one this stack creates. More."),
            "Name of the bucket"
        );
        assert_eq!(
            first_sentence("Layer the function publishes to (AllowedLayers widens it)."),
            "Layer the function publishes to"
        );
        assert_eq!(first_sentence("the layer"), "the layer");
        assert!(missing.contains("--guided"), "{missing}");
        assert!(!missing.contains("KeepVersions"), "{missing}");
    }

    #[test]
    fn both_ways_of_saying_no_changes_are_recognised() {
        assert!(no_changes("The submitted information didn't contain changes. Submit different information to create a change set."));
        assert!(no_changes("No updates are to be performed."));
        assert!(!no_changes("Parameters: [LayerName] must have values"));
    }
}
