//! What `template.yaml` deploys, checked from the file itself:
//! - least privilege: no IAM statement allows a `*` action or resource, and
//!   none allows a write outside the artifacts prefix, the layer's lease or
//!   this stack's own resources (the checker is itself tested on a template that breaks each
//!   rule, so it can fail);
//! - no recursion: nothing the function writes matches its S3 trigger.
//!
//! CloudFormation's `!Sub`, `!Ref` and `!GetAtt` tags are read as their
//! plain values (`!GetAtt Queue.Arn` is `Queue.Arn`).

use layer_autopublish::layout::{
    LayerDir, LeaseKey, DEPLOYMENT_FILE_NAME, LEASES_PREFIX, PUBLISH_SOURCE_FILE_NAME,
    ZIP_FILE_NAME,
};
use layer_autopublish::metadata::validate_manifest_name;
use yaml_rust2::{Yaml, YamlLoader};

const TEMPLATE: &str = include_str!("../template.yaml");

/// Where the function may write: `arn:…:s3:::{bucket}/{prefix}`.
const PREFIX_ARN: &str = "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/${ArtifactsPrefix}";
const LAYER_ARN: &str =
    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:${Layers}";
/// `LatestParameter` with `{layer}` replaced by `LayerName`: its `Before`
/// and `After` the parameter split around `{layer}`.
const POINTER_ARN: &str = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Before}${Layers}${After}";
/// The functions `Followers` lists (ARNs), as the checker names them.
const FOLLOWERS: &str = "${Followers}";
/// The bus new versions are announced on.
const BUS_ARN: &str =
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBus}";
/// The zip's copy in a bucket of another region (`ReplicateTo`).
const REPLICA_COPY_ARN: &str = "arn:${AWS::Partition}:s3:::*/${ArtifactsPrefix}*publish-source.zip";
/// An existing queue of the bucket's notifications, read by the function.
const SOURCE_QUEUE: &str = "SourceQueueArn";
/// The one object outside the prefix the function writes: the layer's lease.
const LEASE_ARN: &str =
    "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/layer-autopublish/leases/${Layers}.lease";

fn load(text: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .expect("template.yaml is YAML")
        .into_iter()
        .next()
        .expect("one document")
}

/// A string or a list of strings, as IAM allows for Action and Resource.
fn strings(value: &Yaml) -> Vec<String> {
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
fn allow_statements(template: &Yaml) -> Vec<(String, Yaml)> {
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
fn is_ours(resource: &str) -> bool {
    resource.starts_with(PREFIX_ARN)
        || resource == LEASE_ARN
        || resource == POINTER_ARN
        || resource == BUS_ARN
        || resource == FOLLOWERS
        || resource == SOURCE_QUEUE
        || resource == REPLICA_COPY_ARN
        || resource == "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}"
        || resource == LAYER_ARN
        || resource.strip_prefix(LAYER_ARN) == Some(":*")
}

/// A statement's actions; `!If [part, action, AWS::NoValue]` counts as on.
fn actions_of(value: &Yaml) -> Vec<String> {
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
fn in_home_terms(statement: &Yaml, resource: String) -> String {
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
fn is_read(action: &str) -> bool {
    let verb = action.split_once(':').map_or(action, |(_, verb)| verb);
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|read| verb.starts_with(read))
}

/// Every way the template's policies break least privilege.
fn privilege_violations(text: &str) -> Vec<String> {
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

#[test]
fn the_function_has_no_right_beyond_its_prefix_layer_log_and_queue() {
    assert_eq!(privilege_violations(TEMPLATE), Vec::<String>::new());
    let statements = allow_statements(&load(TEMPLATE));
    assert!(
        statements.len() >= 8,
        "the checker found the role's statements"
    );
    for part in [
        "MoveTheLatestPointer",
        "ShareTheConfiguredLayersVersions",
        "AnnounceNewVersions",
        "DeleteOldVersionsOfTheConfiguredLayer",
        "PruneTheRecordsOfDeletedVersions",
        "MoveTheFollowers",
        "ReadTheUploadQueue",
        "CopyToTheReplicaBuckets",
        "PublishInTheReplicaRegions",
        "UseTheReplicaRegionsVersions",
        "MoveTheReplicaRegionsPointers",
    ] {
        assert!(
            statements
                .iter()
                .any(|(_, s)| s["Sid"].as_str() == Some(part)),
            "{part}: every part's right is checked as if it were on"
        );
    }
}

/// The pointer's right: on the parameter named by `LatestParameter`, with
/// `{layer}` replaced by the stack's `LayerName`, and only when it is set.
#[test]
fn the_pointers_right_is_on_the_layers_parameter_only_when_it_is_on() {
    let template = load(TEMPLATE);
    let statements = template["Resources"]["PublisherRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_vec()
        .expect("the role's statements");
    let conditional = statements
        .iter()
        .filter_map(Yaml::as_vec)
        .find(|branches| branches[1]["Sid"].as_str() == Some("MoveTheLatestPointer"))
        .expect("the pointer's right is conditional");
    assert_eq!(conditional[0].as_str(), Some("HasLatestPointer"));
    assert_eq!(conditional[2].as_str(), Some("AWS::NoValue"));
    let sub = conditional[1]["Resource"]
        .as_vec()
        .expect("!Sub [text, vars]");
    assert_eq!(sub[0].as_str(), Some(POINTER_ARN));
    for (var, index) in [("Before", 0), ("After", 1)] {
        let select = sub[1][var].as_vec().expect("!Select");
        assert_eq!(
            select[0]
                .as_i64()
                .or(select[0].as_str().and_then(|s| s.parse().ok())),
            Some(index)
        );
        let split = select[1].as_vec().expect("!Split");
        assert_eq!(split[0].as_str(), Some("{layer}"));
        assert_eq!(split[1].as_str(), Some("${LatestParameter}{layer}"));
    }
    let variables = template["Resources"]["PublisherFunction"]["Properties"]["Environment"]
        ["Variables"]
        .clone();
    assert_eq!(
        variables["LATEST_PARAMETER"].as_str(),
        Some("LatestParameter")
    );
    assert_eq!(
        layer_autopublish::pointer::LAYER_PLACEHOLDER,
        "{layer}",
        "the template and the function split on the same placeholder"
    );
}

#[test]
fn the_checker_catches_each_kind_of_overreach() {
    let overreaching = r#"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - Effect: Allow
                Action: s3:*
                Resource: !Sub "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/${ArtifactsPrefix}*"
              - Effect: Allow
                Action: logs:PutLogEvents
                Resource: "*"
              - Effect: Allow
                Action: s3:PutObject
                Resource: !Sub "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/*"
              - Effect: Allow
                Action: lambda:PublishLayerVersion
                Resource: !Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:*"
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: SomebodyElsesQueue.Arn
              - Effect: Allow
                NotAction: s3:GetObject
                Resource: Role.Arn
              - Effect: Allow
                Action: s3:GetObject
                Resource: arn:aws:s3:::other-bucket/*
              - Effect: Deny
                Action: "*"
                Resource: "*"
              - Effect: Allow
                Action: lambda:PublishLayerVersion
                Resource: !Sub "arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:layer:${Layers}"
              - Effect: Allow
                Action: s3:PutObject
                Resource: !Sub "arn:${AWS::Partition}:s3:::*/${ArtifactsPrefix}*publish-source.zip"
              - !If
                - SomePartIsOn
                - Effect: Allow
                  Action: ssm:PutParameter
                  Resource: arn:aws:ssm:us-east-1:123456789012:parameter/somebody-elses
                - !Ref AWS::NoValue
"#;
    let found = privilege_violations(overreaching);
    for expected in [
        "wildcard action s3:*",
        "wildcard resource *",
        "s3:PutObject on arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/*",
        "lambda:PublishLayerVersion on arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:*",
        "sqs:SendMessage on SomebodyElsesQueue.Arn",
        "NotAction/NotResource grant by exclusion",
        "a resource not this stack's: arn:aws:s3:::other-bucket/*",
        "ssm:PutParameter on arn:aws:ssm:us-east-1:123456789012:parameter/somebody-elses",
        "lambda:PublishLayerVersion on arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:layer:${Layers}",
        "s3:PutObject on arn:${AWS::Partition}:s3:::*/${ArtifactsPrefix}*publish-source.zip (any account)",
    ] {
        assert!(
            found.iter().any(|v| v.ends_with(expected)),
            "{expected:?} not in {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|v| v.contains("Statement[7]")),
        "a Deny grants nothing: {found:#?}"
    );
}

/// The created bucket's notification key filter: (prefix, suffix).
fn trigger(template: &Yaml) -> (String, String) {
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

/// An existing bucket's rule matches the same keys as the created bucket's
/// notification: the prefix, anything, the suffix.
#[test]
fn the_eventbridge_rule_matches_what_the_notification_matches() {
    let template = load(TEMPLATE);
    let (prefix, suffix) = trigger(&template);
    let rule = &template["Resources"]["LayerZipCreatedRule"]["Properties"];
    let pattern = &rule["EventPattern"];
    assert_eq!(pattern["source"][0].as_str(), Some("aws.s3"));
    assert_eq!(pattern["detail-type"][0].as_str(), Some("Object Created"));
    assert_eq!(
        pattern["detail"]["bucket"]["name"][0].as_str(),
        Some("ArtifactsBucketName")
    );
    assert_eq!(
        pattern["detail"]["object"]["key"][0]["wildcard"].as_str(),
        Some(format!("${{{prefix}}}*{suffix}").as_str())
    );
    assert_eq!(
        rule["Targets"][0]["Arn"].as_str(),
        Some("PublisherFunction.Arn")
    );
}

/// Whether a condition of the template holds for some parameter values.
/// The loader drops the tags (`!Equals [a, b]` reads as `[a, b]`), so the
/// forms are told apart by shape: one item is `!Not`; two texts, neither a
/// condition's name, are `!Equals`; conditions and forms are `!And` (the
/// bucket's conditions use no `!Or`, which would read the same).
fn holds(template: &Yaml, condition: &str, parameters: &[(&str, &str)]) -> bool {
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

/// Whatever the bucket and queue options, exactly one way in is deployed,
/// and a bucket the stack does not own gets no bucket, policy or permission.
#[test]
fn each_bucket_option_deploys_exactly_one_trigger() {
    let template = load(TEMPLATE);
    let queue = "arn:aws:sqs:us-east-1:123456789012:uploads";
    let triggers = ["ArtifactsBucket", "LayerZipCreatedRule", "QueuedUploads"];
    for (existing, source_queue, expected) in [
        ("false", "", "ArtifactsBucket"),
        ("false", queue, "ArtifactsBucket"),
        ("true", "", "LayerZipCreatedRule"),
        ("true", queue, "QueuedUploads"),
    ] {
        let parameters = [
            ("UseExistingBucket", existing),
            ("SourceQueueArn", source_queue),
        ];
        let deployed = |resource: &str| {
            let condition = template["Resources"][resource]["Condition"]
                .as_str()
                .unwrap_or_else(|| panic!("{resource} is conditional"));
            holds(&template, condition, &parameters)
        };
        let on: Vec<&str> = triggers.into_iter().filter(|t| deployed(t)).collect();
        assert_eq!(
            on,
            [expected],
            "UseExistingBucket={existing} SourceQueueArn={source_queue:?}"
        );
        let owns = existing == "false";
        for owned in ["ArtifactsBucketPolicy", "ArtifactsBucketInvokesPublisher"] {
            assert_eq!(
                deployed(owned),
                owns,
                "{owned}, UseExistingBucket={existing}"
            );
        }
        assert_eq!(
            deployed("LayerZipCreatedRuleInvokesPublisher"),
            expected == "LayerZipCreatedRule"
        );
    }
}

#[test]
fn nothing_the_function_writes_can_trigger_it() {
    let (prefix, suffix) = trigger(&load(TEMPLATE));
    assert_eq!(prefix, "ArtifactsPrefix", "the prefix is the parameter");
    assert!(
        ZIP_FILE_NAME.ends_with(&suffix) && !suffix.is_empty(),
        "uploads of {ZIP_FILE_NAME} trigger it"
    );

    let folder = LayerDir::of_zip_key("artifacts", "projects/app/layer/layer.zip").unwrap();
    let names = [
        "requirements.txt",
        "poetry.lock",
        "uv.lock",
        "layer.zip.txt",
        "zip",
        ".layer.zip",
        "my-layer.zip",
        "layer.zip",
        DEPLOYMENT_FILE_NAME,
        PUBLISH_SOURCE_FILE_NAME,
    ];
    let mut checked = 0;
    for name in names.iter().filter(|n| validate_manifest_name(n).is_ok()) {
        for key in [
            folder.version_manifest_key(1, name),
            folder.version_manifest_key(999_999, name),
            folder.last_manifest_key(name),
            folder.deployment_key(1),
            folder.publish_source_key(),
            LeaseKey::of_layer("artifacts", name).key,
        ] {
            assert!(!key.ends_with(&suffix), "{key} would trigger the function");
            checked += 1;
        }
    }
    assert!(checked >= 20, "accepted names were checked");
}

/// The lease the role may write is the one the function takes for the
/// configured layer.
#[test]
fn the_role_may_write_exactly_the_layers_lease() {
    let granted = LEASE_ARN
        .strip_prefix("arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/")
        .expect("in the bucket");
    assert_eq!(granted, format!("{LEASES_PREFIX}${{Layers}}.lease"));
    assert_eq!(
        LeaseKey::of_layer("artifacts", "my-deps").key,
        format!("{LEASES_PREFIX}my-deps.lease")
    );
    assert!(
        TEMPLATE.contains(&format!("/{granted}\"")),
        "template.yaml grants the lease"
    );
}

/// Each optional part's template parameter accepts what the function
/// accepts for its variable (so a stack that deploys also starts), and
/// refuses what would break the rights built from it.
#[test]
fn each_parts_parameter_pattern_agrees_with_the_function() {
    use layer_autopublish::config::Config;
    let template = load(TEMPLATE);
    let allowed = |parameter: &str| {
        let pattern = template["Parameters"][parameter]["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{parameter} has an AllowedPattern"))
            .to_owned();
        let regex = regex::Regex::new(&pattern).expect("a regex");
        move |value: &str| regex.is_match(value)
    };
    let starts = |variable: &str, value: &str| {
        Config::from_lookup(|name| (name == variable).then(|| value.to_owned())).is_ok()
    };
    let cases: [(&str, &str, &[&str], &[&str]); 8] = [
        (
            "MetricsNamespace",
            "METRICS_NAMESPACE",
            &["LayerAutopublish", "Team/Layers: prod", "AWS", "AWSome/x", "A"],
            &["AWS/Lambda", "AWS/", "bad{ns}", &"n".repeat(256)],
        ),
        (
            "ReplicateTo",
            "REPLICATE_TO",
            &["", "eu-west-1=my-artifacts-eu", "eu-west-1=a.b-c,us-gov-west-1=gov-bucket"],
            &["eu-west-1", "eu-west-1=Bucket", "eu-west-1=b1,", "europe=bucket"],
        ),
        (
            "AllowedLayers",
            "ALLOWED_LAYERS",
            &["", "deps", "team-*", "a_b-C9"],
            &["*", "deps,team-*", "team/*", "a**"],
        ),
        (
            "LatestParameter",
            "LATEST_PARAMETER",
            &["", "/layer-autopublish/{layer}/latest", "/{layer}"],
            &["/fixed/name", "no-slash/{layer}", "/a/{layer}/{layer}", "/a b/{layer}"],
        ),
        (
            "ShareWith",
            "SHARE_WITH",
            &["", "123456789012", "*", "123456789012,o-a1b2c3d4e5,*"],
            &["12345", "everyone", "123456789012,"],
        ),
        (
            "EventBus",
            "EVENT_BUS",
            &["", "default", "team/layers.v2"],
            &["with space", "arn:aws:events:us-east-1:123456789012:event-bus/x"],
        ),
        ("KeepVersions", "KEEP_VERSIONS", &["", "0", "3", "50"], &["-1", "three"]),
        (
            "Followers",
            "FOLLOWERS",
            &[
                "",
                "arn:aws:lambda:us-east-1:123456789012:function:api",
                "arn:aws:lambda:us-east-1:123456789012:function:api,arn:aws:lambda:eu-west-1:123456789012:function:worker_2",
            ],
            &["api", "arn:aws:lambda:us-east-1:123456789012:function:api,"],
        ),
    ];
    for (parameter, variable, good, bad) in cases {
        let matches = allowed(parameter);
        for value in good {
            assert!(matches(value), "{parameter} refuses {value:?}");
            assert!(
                starts(variable, value),
                "{variable}={value:?} stops the function"
            );
        }
        for value in bad {
            assert!(!matches(value), "{parameter} accepts {value:?}");
        }
    }
}

/// `${Layers}` in the role's rights is `AllowedLayers` when set, else
/// `LayerName`: the layers the function is told it may publish to
/// (`ALLOWED_LAYERS`), so that the rights and the function agree.
#[test]
fn the_layer_rights_are_on_the_allowed_layers_the_function_is_given() {
    fn subs_naming_layers(node: &Yaml, found: &mut Vec<Yaml>) {
        match node {
            Yaml::Array(items) => {
                let names_layers = items
                    .first()
                    .and_then(Yaml::as_str)
                    .is_some_and(|text| text.contains("${Layers}"));
                if names_layers && items.len() == 2 {
                    found.push(items[1]["Layers"].clone());
                }
                items
                    .iter()
                    .for_each(|item| subs_naming_layers(item, found));
            }
            Yaml::Hash(map) => map.values().for_each(|v| subs_naming_layers(v, found)),
            _ => {}
        }
    }
    let template = load(TEMPLATE);
    let mut bindings = Vec::new();
    subs_naming_layers(&template["Resources"]["PublisherRole"], &mut bindings);
    assert!(
        bindings.len() >= 7,
        "lease (2), layer, versions, pointer, sharing, retention"
    );
    let variables =
        &template["Resources"]["PublisherFunction"]["Properties"]["Environment"]["Variables"];
    for binding in bindings.iter().chain([&variables["ALLOWED_LAYERS"]]) {
        let chosen: Vec<&str> = binding
            .as_vec()
            .expect("!If")
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert_eq!(chosen, ["HasAllowedLayers", "AllowedLayers", "LayerName"]);
    }
    let role = TEMPLATE
        .split_once("  PublisherRole:")
        .and_then(|(_, rest)| rest.split_once("  PublisherFunction:"))
        .map(|(role, _)| role)
        .expect("the role's text");
    assert!(
        !role.contains("${LayerName}"),
        "no right names LayerName alone"
    );
}

/// `*` in an IAM resource: any run of characters, `/` included.
fn iam_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => text.strip_prefix(head).is_some_and(|tail| {
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && iam_matches(rest, &tail[i..]))
        }),
    }
}

/// Issue 12: the policy the stack offers CI may write the zip and its lock
/// file and nothing the function writes: no record, no copy, no lease.
#[test]
fn ci_may_upload_the_zip_and_its_lock_file_and_nothing_the_function_writes() {
    let template = load(TEMPLATE);
    let statements = template["Resources"]["CiUploadPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_vec()
        .expect("the CI policy's statements")
        .clone();
    assert_eq!(statements.len(), 1);
    assert_eq!(
        strings(&statements[0]["Action"]),
        ["s3:PutObject", "s3:AbortMultipartUpload"]
    );
    // The parameters as a user would set them.
    let resources: Vec<String> = strings(&statements[0]["Resource"])
        .iter()
        .map(|r| {
            r.replace("arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/", "")
                .replace("${ArtifactsPrefix}", "projects/")
                .replace("${ManifestName}", "requirements.txt")
        })
        .collect();
    let may_write = |key: &str| resources.iter().any(|r| iam_matches(r, key));
    let folder = LayerDir::of_zip_key("artifacts", "projects/app/lambda/layer/layer.zip").unwrap();
    assert!(may_write(&format!("{}{ZIP_FILE_NAME}", folder.prefix())));
    assert!(may_write(&format!("{}requirements.txt", folder.prefix())));
    for theirs in [
        folder.deployment_key(1),
        folder.publish_source_key(),
        folder.last_manifest_key("requirements.txt"),
        LeaseKey::of_layer("artifacts", "deps").key,
        "projects/app/lambda/layer/poetry.lock".to_owned(),
    ] {
        assert!(!may_write(&theirs), "CI may write {theirs}");
    }
    let outputs = &template["Outputs"]["CiUploadPolicyArn"]["Value"];
    assert_eq!(
        outputs.as_str(),
        Some("CiUploadPolicy"),
        "the stack outputs it"
    );
}

/// The Serverless Application Repository's version is the crate's.
#[test]
fn the_application_repository_metadata_names_this_version() {
    let template = load(TEMPLATE);
    let app = &template["Metadata"]["AWS::ServerlessRepo::Application"];
    assert_eq!(
        app["SemanticVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        app["SpdxLicenseId"].as_str(),
        Some(env!("CARGO_PKG_LICENSE"))
    );
    for file in ["LicenseUrl", "ReadmeUrl"] {
        let path = app[file].as_str().expect("a file");
        let local = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&local).exists(),
            "{path} is in the repository"
        );
    }
}

#[test]
fn iam_wildcards_match_as_iam_does() {
    assert!(iam_matches("a/*/layer.zip", "a/b/c/layer.zip"));
    assert!(!iam_matches("a/*/layer.zip", "a/layer.zip"));
    assert!(!iam_matches(
        "a/*/requirements.txt",
        "a/b/last-requirements.txt"
    ));
    assert!(iam_matches("a/*", "a/"));
}

/// Issue 21, alarms: both exist whatever the parameters (an alarm without
/// actions still shows in the console), on the function's errors and on the
/// failed-events queue holding a message; each notifies the topic created
/// for `AlarmEmail` (with that subscription) and the existing
/// `AlarmTopicArn`, whichever are set, and nothing when neither is.
#[test]
fn the_alarms_watch_errors_and_failed_events_and_notify_what_is_set() {
    let template = load(TEMPLATE);
    let resources = &template["Resources"];
    let watched = [
        (
            "PublisherErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            "PublisherFunction",
        ),
        (
            "FailedEventsAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            "FailedEventsQueue.QueueName",
        ),
    ];
    let email = "ops@example.com";
    let topic = "arn:aws:sns:us-east-1:123456789012:paging";
    for (alarm, namespace, metric, dimension, value) in watched {
        let alarm_yaml = &resources[alarm];
        assert!(
            alarm_yaml["Condition"].is_badvalue(),
            "{alarm} always exists"
        );
        let properties = &alarm_yaml["Properties"];
        assert_eq!(properties["Namespace"].as_str(), Some(namespace), "{alarm}");
        assert_eq!(properties["MetricName"].as_str(), Some(metric), "{alarm}");
        let dimensions = &properties["Dimensions"][0];
        assert_eq!(dimensions["Name"].as_str(), Some(dimension), "{alarm}");
        assert_eq!(dimensions["Value"].as_str(), Some(value), "{alarm}");
        assert_eq!(properties["Threshold"].as_i64(), Some(1), "{alarm}");
        for (email, topic, expected) in [
            ("", "", vec![]),
            (email, "", vec!["AlarmTopic"]),
            ("", topic, vec!["AlarmTopicArn"]),
            (email, topic, vec!["AlarmTopic", "AlarmTopicArn"]),
        ] {
            let parameters = [("AlarmEmail", email), ("AlarmTopicArn", topic)];
            let actions = properties["AlarmActions"].as_vec().expect("actions");
            let on: Vec<&str> = actions
                .iter()
                .filter_map(|action| match action.as_vec().map(Vec::as_slice) {
                    Some([condition, target, _]) => {
                        let condition = condition.as_str().expect("a condition");
                        holds(&template, condition, &parameters)
                            .then(|| target.as_str().expect("a target"))
                    }
                    _ => panic!("{alarm}: each action is conditional: {action:?}"),
                })
                .collect();
            assert_eq!(on, expected, "{alarm} with {parameters:?}");
        }
    }
    let topic_yaml = &resources["AlarmTopic"];
    assert_eq!(topic_yaml["Condition"].as_str(), Some("HasAlarmEmail"));
    let subscription = &topic_yaml["Properties"]["Subscription"][0];
    assert_eq!(subscription["Protocol"].as_str(), Some("email"));
    assert_eq!(subscription["Endpoint"].as_str(), Some("AlarmEmail"));
    let pattern = |parameter: &str| {
        let text = template["Parameters"][parameter]["AllowedPattern"]
            .as_str()
            .expect("a pattern");
        regex::Regex::new(text).expect("a regex")
    };
    let (emails, topics) = (pattern("AlarmEmail"), pattern("AlarmTopicArn"));
    assert!(emails.is_match("") && emails.is_match(email));
    assert!(!emails.is_match("ops at example.com") && !emails.is_match("ops@example"));
    assert!(topics.is_match("") && topics.is_match(topic));
    assert!(!topics.is_match("arn:aws:sqs:us-east-1:123456789012:paging"));
}
