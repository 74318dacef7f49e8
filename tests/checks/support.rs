//! What the template checks share: the template itself, read as YAML (its
//! tags as their plain values), the IAM statements it allows, the names the
//! checker gives the stack's own resources, and how conditions evaluate.

pub use layer_autopublish::domain::layout::{
    LayerDir, LeaseKey, DEPLOYMENT_FILE_NAME, LEASES_PREFIX, PUBLISH_SOURCE_FILE_NAME,
    ZIP_FILE_NAME,
};
pub use layer_autopublish::domain::metadata::validate_manifest_name;
pub use yaml_rust2::{Yaml, YamlLoader};

pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// Where the function may write: `arn:…:s3:::{bucket}/{prefix}`.
pub const PREFIX_ARN: &str = "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/${ArtifactsPrefix}";

pub const LAYER_ARN: &str =
    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:${Layers}";

/// `LatestParameter` with `{layer}` replaced by `LayerName`: its `Before`
/// and `After` the parameter split around `{layer}`.
pub const POINTER_ARN: &str = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Before}${Layers}${After}";

/// The functions `Followers` lists (ARNs), as the checker names them.
pub const FOLLOWERS: &str = "${Followers}";

/// The bus new versions are announced on.
pub const BUS_ARN: &str =
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBus}";

/// The zip's copy in a bucket of another region (`ReplicateTo`).
pub const REPLICA_COPY_ARN: &str =
    "arn:${AWS::Partition}:s3:::*/${ArtifactsPrefix}*publish-source.zip";

/// Any layer version of the region: a follower's other layers, which
/// Lambda checks the role may get when it sets them (`lambda:GetLayerVersion`
/// only, only in the followers' statement).
pub const OTHER_LAYERS_ARN: &str = "arn:${AWS::Partition}:lambda:${AWS::Region}:*:layer:*:*";

/// An existing queue of the bucket's notifications, read by the function.
pub const SOURCE_QUEUE: &str = "SourceQueueArn";

/// The bucket's KMS key (`KmsKeyArn`), used through S3 only.
pub const BUCKET_KEY: &str = "KmsKeyArn";

/// The one object outside the prefix the function writes: the layer's lease.
pub const LEASE_ARN: &str =
    "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/layer-autopublish/leases/${Layers}.lease";

pub fn load(text: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .expect("template.yaml is YAML")
        .into_iter()
        .next()
        .expect("one document")
}

/// A string or a list of strings, as IAM allows for Action and Resource.
pub fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Every IAM statement that allows something, wherever it sits: role and
/// managed policies, SAM `Policies`, bucket and queue policies; a statement
/// under `!If [condition, statement, AWS::NoValue]` (a part that is on only
/// when its parameter is set) counts as on.
pub fn allow_statements(template: &Yaml) -> Vec<(String, Yaml)> {
    fn walk(path: &str, node: &Yaml, found: &mut Vec<(String, Yaml)>) {
        match node {
            Yaml::Hash(map) => {
                if let Some(Yaml::Array(statements)) = map.get(&Yaml::from_str("Statement")) {
                    for (i, statement) in statements.iter().enumerate() {
                        let branches = match statement {
                            Yaml::Array(branches) => branches.clone(),
                            one => vec![one.clone()],
                        };
                        for statement in branches {
                            if statement["Effect"].as_str() == Some("Allow") {
                                found.push((format!("{path}.Statement[{i}]"), statement));
                            }
                        }
                    }
                }
                for (key, value) in map {
                    let key = key.as_str().unwrap_or("?");
                    walk(&format!("{path}.{key}"), value, found);
                }
            }
            Yaml::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), item, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk("Resources", &template["Resources"], &mut found);
    found
}

/// The prefix, its bucket (to list under the prefix), the layer, its lease
/// and its pointer.
pub fn is_ours(resource: &str) -> bool {
    resource.starts_with(PREFIX_ARN)
        || resource == LEASE_ARN
        || resource == POINTER_ARN
        || resource == BUS_ARN
        || resource == FOLLOWERS
        || resource == SOURCE_QUEUE
        || resource == BUCKET_KEY
        || resource == REPLICA_COPY_ARN
        || resource == "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}"
        || resource == LAYER_ARN
        || resource.strip_prefix(LAYER_ARN) == Some(":*")
}

/// A statement's actions; `!If [part, action, AWS::NoValue]` counts as on.
pub fn actions_of(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items
            .iter()
            .flat_map(|item| match item.as_vec().map(Vec::as_slice) {
                Some([_, action, no_value]) if no_value.as_str() == Some("AWS::NoValue") => {
                    strings(action)
                }
                _ => strings(item),
            })
            .collect(),
        one => strings(one),
    }
}

/// A right in the regions of `ReplicateTo` (region `*`, held to them by an
/// `aws:RequestedRegion` condition built from that parameter) reads as the
/// same right at home; a replica bucket's copy (any bucket, held to this
/// account's by `s3:ResourceAccount`) as [`REPLICA_COPY_ARN`]. Without
/// their condition, they stay as written: a resource not this stack's.
pub fn in_home_terms(statement: &Yaml, resource: String) -> String {
    let condition = &statement["Condition"]["StringEquals"];
    let regions = strings(&condition["aws:RequestedRegion"]);
    let in_replica_regions = regions == ["=", "=", ",", "ReplicateTo"];
    let own_account = condition["s3:ResourceAccount"].as_str() == Some("AWS::AccountId");
    if resource == REPLICA_COPY_ARN {
        return if own_account {
            resource
        } else {
            format!("{resource} (any account)")
        };
    }
    let regionless = [":lambda:*:", ":ssm:*:"];
    match regionless.iter().find(|r| resource.contains(*r)) {
        Some(wild) if in_replica_regions => {
            resource.replacen(wild, &wild.replace('*', "${AWS::Region}"), 1)
        }
        _ => resource,
    }
}

/// Reading actions; everything else counts as a write.
pub fn is_read(action: &str) -> bool {
    let verb = action.split_once(':').map_or(action, |(_, verb)| verb);
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|read| verb.starts_with(read))
}

/// Every way the template's policies break least privilege.
pub fn privilege_violations(text: &str) -> Vec<String> {
    let template = load(text);
    let own_resources: Vec<String> = template["Resources"]
        .as_hash()
        .map(|map| {
            map.keys()
                .filter_map(|k| k.as_str().map(|name| format!("{name}.Arn")))
                .collect()
        })
        .unwrap_or_default();
    let mut violations = Vec::new();
    for (path, statement) in allow_statements(&template) {
        if statement["Principal"]["Service"].as_str() == Some("lambda.amazonaws.com") {
            continue; // the role's trust policy: who may assume it, not rights
        }
        let actions = actions_of(&statement["Action"]);
        // `!Split [",", Followers]`: the functions the parameter lists.
        let followers_split = statement["Resource"].as_vec().is_some_and(|split| {
            split.len() == 2
                && split[0].as_str() == Some(",")
                && split[1].as_str() == Some("Followers")
        });
        let resources = if followers_split {
            vec![FOLLOWERS.to_owned()]
        } else {
            strings(&statement["Resource"])
                .into_iter()
                .map(|resource| in_home_terms(&statement, resource))
                .collect()
        };
        if !statement["NotAction"].is_badvalue() || !statement["NotResource"].is_badvalue() {
            violations.push(format!("{path}: NotAction/NotResource grant by exclusion"));
        }
        for action in &actions {
            if action.contains('*') {
                violations.push(format!("{path}: wildcard action {action}"));
            }
        }
        for resource in &resources {
            if resource == "*" {
                violations.push(format!("{path}: wildcard resource {resource}"));
            } else if resource == OTHER_LAYERS_ARN {
                let for_followers = statement["Sid"].as_str() == Some("UseTheFollowersOtherLayers");
                if !for_followers || actions != ["lambda:GetLayerVersion"] {
                    violations.push(format!(
                        "{path}: another's layers beyond a follower's: {resource}"
                    ));
                }
            } else if !is_ours(resource) && !own_resources.contains(resource) {
                violations.push(format!("{path}: a resource not this stack's: {resource}"));
            }
        }
        for action in actions.iter().filter(|a| !is_read(a)) {
            for resource in &resources {
                let allowed = if action.starts_with("s3:") {
                    resource.starts_with(PREFIX_ARN)
                        || resource == LEASE_ARN
                        || resource == REPLICA_COPY_ARN
                } else if action == "lambda:UpdateFunctionConfiguration" {
                    resource == FOLLOWERS
                } else if action.starts_with("lambda:") {
                    // The layer, or (a version's permission) its versions.
                    resource == LAYER_ARN
                        || (matches!(
                            action.as_str(),
                            "lambda:AddLayerVersionPermission" | "lambda:DeleteLayerVersion"
                        ) && resource.strip_prefix(LAYER_ARN) == Some(":*"))
                } else if action.starts_with("ssm:") {
                    resource == POINTER_ARN
                } else if matches!(action.as_str(), "sqs:ReceiveMessage" | "sqs:DeleteMessage") {
                    resource == SOURCE_QUEUE
                } else if action.starts_with("events:") {
                    resource == BUS_ARN
                } else if matches!(action.as_str(), "kms:Decrypt" | "kms:GenerateDataKey") {
                    // Through S3 only: what it decrypts is the bucket's.
                    resource == BUCKET_KEY
                        && statement["Condition"]["StringEquals"]["kms:ViaService"]
                            .as_str()
                            .is_some_and(|via| via.starts_with("s3."))
                } else {
                    own_resources.contains(resource)
                };
                if !allowed {
                    violations.push(format!("{path}: {action} on {resource}"));
                }
            }
        }
    }
    violations
}

/// The created bucket's notification key filter: (prefix, suffix).
pub fn trigger(template: &Yaml) -> (String, String) {
    let bucket = &template["Resources"]["ArtifactsBucket"]["Properties"];
    let functions = bucket["NotificationConfiguration"]["LambdaConfigurations"]
        .as_vec()
        .expect("the bucket notifies the function");
    assert_eq!(functions.len(), 1, "one S3 trigger");
    assert_eq!(functions[0]["Event"].as_str(), Some("s3:ObjectCreated:*"));
    assert_eq!(
        functions[0]["Function"].as_str(),
        Some("PublisherFunction.Arn")
    );
    let rule = |name: &str| {
        functions[0]["Filter"]["S3Key"]["Rules"]
            .as_vec()
            .and_then(|rules| rules.iter().find(|r| r["Name"].as_str() == Some(name)))
            .and_then(|r| r["Value"].as_str())
            .unwrap_or_else(|| panic!("the trigger filters on a {name}"))
            .to_owned()
    };
    (rule("prefix"), rule("suffix"))
}

/// Whether a condition of the template holds for some parameter values.
/// The loader drops the tags (`!Equals [a, b]` reads as `[a, b]`), so the
/// forms are told apart by shape: one item is `!Not`; two texts, neither a
/// condition's name, are `!Equals`; conditions and forms are `!And` (the
/// bucket's conditions use no `!Or`, which would read the same).
pub fn holds(template: &Yaml, condition: &str, parameters: &[(&str, &str)]) -> bool {
    let is_condition = |text: &str| !template["Conditions"][text].is_badvalue();
    let text = |node: &Yaml| {
        let text = node.as_str().expect("a text");
        parameters
            .iter()
            .find(|(name, _)| *name == text)
            .map_or(text, |(_, value)| value)
            .to_owned()
    };
    fn eval(node: &Yaml, on: &dyn Fn(&Yaml) -> Option<bool>) -> bool {
        on(node).unwrap_or_else(|| match node.as_vec().map(Vec::as_slice) {
            Some([one]) => !eval(one, on),
            Some(all) => all.iter().all(|item| eval(item, on)),
            None => panic!("not a condition: {node:?}"),
        })
    }
    let on = |node: &Yaml| -> Option<bool> {
        if let Some(name) = node.as_str().filter(|n| is_condition(n)) {
            return Some(holds(template, name, parameters));
        }
        match node.as_vec().map(Vec::as_slice) {
            Some([a, b])
                if [a, b]
                    .iter()
                    .all(|x| x.as_str().is_some_and(|t| !is_condition(t))) =>
            {
                Some(text(a) == text(b))
            }
            _ => None,
        }
    };
    eval(&template["Conditions"][condition], &on)
}

/// `*` in an IAM resource: any run of characters, `/` included.
pub fn iam_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => text.strip_prefix(head).is_some_and(|tail| {
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && iam_matches(rest, &tail[i..]))
        }),
    }
}
