//! Least privilege: no IAM statement allows a `*` action or resource, none a
//! write outside the prefix, the layer's lease or the stack's own resources;
//! the checker is itself tested on a template that breaks each rule.

use super::support::*;

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
        "UseTheFollowersOtherLayers",
        "ReadTheUploadQueue",
        "CopyToTheReplicaBuckets",
        "PublishInTheReplicaRegions",
        "UseTheReplicaRegionsVersions",
        "MoveTheReplicaRegionsPointers",
        "UseTheBucketsKey",
        "EncryptWithTheBucketsKey",
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
        layer_autopublish::lifecycle::pointer::LAYER_PLACEHOLDER,
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
              - Sid: UseTheFollowersOtherLayers
                Effect: Allow
                Action: [lambda:GetLayerVersion, lambda:DeleteLayerVersion]
                Resource: !Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:*:layer:*:*"
              - Effect: Allow
                Action: lambda:GetLayerVersion
                Resource: !Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:*:layer:*:*"
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
        "Statement[11]: another's layers beyond a follower's: arn:${AWS::Partition}:lambda:${AWS::Region}:*:layer:*:*",
        "Statement[10]: another's layers beyond a follower's: arn:${AWS::Partition}:lambda:${AWS::Region}:*:layer:*:*",
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

/// Issue 12: the policy the stack offers CI may write the zip and its lock
/// file and nothing the function writes: no record, no copy, no lease, no
/// receipt. Issue 34: it may read the receipts, and nothing else.
#[test]
fn ci_may_upload_the_zip_and_its_lock_file_and_nothing_the_function_writes() {
    let template = load(TEMPLATE);
    let statements = template["Resources"]["CiUploadPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_vec()
        .expect("the CI policy's statements")
        .clone();
    assert_eq!(statements.len(), 3);
    // The third: with KmsKeyArn only, that key, through S3 only.
    let kms = statements[2]
        .as_vec()
        .expect("!If [HasKmsKey, statement, AWS::NoValue]");
    assert_eq!(kms[0].as_str(), Some("HasKmsKey"));
    assert_eq!(kms[2].as_str(), Some("AWS::NoValue"));
    assert_eq!(kms[1]["Resource"].as_str(), Some(BUCKET_KEY));
    assert_eq!(
        strings(&kms[1]["Action"]),
        ["kms:GenerateDataKey", "kms:Decrypt"]
    );
    assert_eq!(
        kms[1]["Condition"]["StringEquals"]["kms:ViaService"].as_str(),
        Some("s3.${AWS::Region}.amazonaws.com")
    );
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
    // Right at the prefix too, as the trigger accepts it.
    assert!(may_write("projects/layer.zip"));
    assert!(may_write("projects/requirements.txt"));
    let upload = |key: String| layer_autopublish::domain::event::Upload {
        event_name: "ObjectCreated:Put".into(),
        bucket: "artifacts".into(),
        key,
        version_id: None,
        etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
    };
    let receipt = |zip: String| {
        layer_autopublish::domain::receipt::receipt_key(&upload(zip)).expect("a receipt key")
    };
    let receipts = [
        receipt(folder.zip_key()),
        receipt("projects/layer.zip".into()),
    ];
    for theirs in [
        folder.deployment_key(1),
        folder.publish_source_key(),
        folder.last_manifest_key("requirements.txt"),
        LeaseKey::of_layer("artifacts", "deps").key,
        "projects/app/lambda/layer/poetry.lock".to_owned(),
        receipts[0].clone(),
    ] {
        assert!(!may_write(&theirs), "CI may write {theirs}");
    }
    // The second: read the receipts (`layerctl upload --wait`), nothing else.
    assert_eq!(strings(&statements[1]["Action"]), ["s3:GetObject"]);
    let readable: Vec<String> = strings(&statements[1]["Resource"])
        .iter()
        .map(|r| {
            r.replace("arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/", "")
                .replace("${ArtifactsPrefix}", "projects/")
        })
        .collect();
    let may_read = |key: &str| readable.iter().any(|r| iam_matches(r, key));
    for ours in &receipts {
        assert!(may_read(ours), "CI may not read {ours}");
    }
    for theirs in [
        folder.zip_key(),
        folder.deployment_key(1),
        folder.last_manifest_key("requirements.txt"),
        folder.version_manifest_key(1, "requirements.txt"),
        LeaseKey::of_layer("artifacts", "deps").key,
        "other/.receipts/e-x.json".to_owned(),
    ] {
        assert!(!may_read(&theirs), "CI may read {theirs}");
    }
    let outputs = &template["Outputs"]["CiUploadPolicyArn"]["Value"];
    assert_eq!(
        outputs.as_str(),
        Some("CiUploadPolicy"),
        "the stack outputs it"
    );
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
