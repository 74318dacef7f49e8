//! The ways in: exactly one trigger per bucket option, matching the same keys,
//! and nothing the function writes matches it (no recursion).

use super::support::*;

/// The keys the trigger accepts: `{prefix}layer.zip` and
/// `{prefix}.../layer.zip` (the prefix ends in `/`). The created bucket's
/// notification says so with a prefix and a suffix, an existing bucket's rule
/// with two wildcards, CI's policy with two resources; the three agree.
#[test]
fn the_rule_the_notification_and_ci_accept_the_same_keys() {
    let template = load(TEMPLATE);
    let (prefix, suffix) = trigger(&template);
    assert_eq!(prefix, "ArtifactsPrefix");
    assert_eq!(suffix, format!("/{ZIP_FILE_NAME}"));
    let rule = &template["Resources"]["LayerZipCreatedRule"]["Properties"];
    let pattern = &rule["EventPattern"];
    assert_eq!(pattern["source"][0].as_str(), Some("aws.s3"));
    assert_eq!(pattern["detail-type"][0].as_str(), Some("Object Created"));
    assert_eq!(
        pattern["detail"]["bucket"]["name"][0].as_str(),
        Some("ArtifactsBucketName")
    );
    let wildcards: Vec<&str> = pattern["detail"]["object"]["key"]
        .as_vec()
        .map(|keys| keys.iter().filter_map(|k| k["wildcard"].as_str()).collect())
        .unwrap_or_default();
    let accepted = [
        format!("${{ArtifactsPrefix}}{ZIP_FILE_NAME}"),
        format!("${{ArtifactsPrefix}}*/{ZIP_FILE_NAME}"),
    ];
    assert_eq!(wildcards, accepted);
    assert_eq!(
        rule["Targets"][0]["Arn"].as_str(),
        Some("PublisherFunction.Arn")
    );
    let ci = &template["Resources"]["CiUploadPolicy"]["Properties"]["PolicyDocument"];
    let zips: Vec<String> = strings(&ci["Statement"][0]["Resource"])
        .into_iter()
        .filter(|r| r.ends_with(ZIP_FILE_NAME))
        .collect();
    let in_bucket =
        |key: &String| format!("arn:${{AWS::Partition}}:s3:::${{ArtifactsBucketName}}/{key}");
    assert_eq!(zips, accepted.iter().map(in_bucket).collect::<Vec<_>>());
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
        format!("/{ZIP_FILE_NAME}").ends_with(&suffix) && !suffix.is_empty(),
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
    // Receipts, whatever the upload's version id or ETag.
    for (version_id, etag) in [(Some("layer.zip"), None), (None, Some("/layer.zip"))] {
        let upload = layer_autopublish::domain::event::Upload {
            event_name: "ObjectCreated:Put".into(),
            bucket: "artifacts".into(),
            key: folder.zip_key(),
            version_id: version_id.map(str::to_owned),
            etag: etag.map(str::to_owned),
        };
        let key = layer_autopublish::domain::receipt::receipt_key(&upload).expect("a receipt");
        assert!(!key.ends_with(&suffix), "{key} would trigger the function");
    }
}

/// Receipts expire by the tag they are written with, which is the tag the
/// created bucket's lifecycle rule names; the role may write that tag on
/// receipts alone.
#[test]
fn receipts_expire_by_the_tag_they_are_written_with() {
    let template = load(TEMPLATE);
    let bucket = &template["Resources"]["ArtifactsBucket"]["Properties"];
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    let (tag, value) = layer_autopublish::domain::receipt::RECEIPT_TAG;
    assert_eq!(rule["TagFilters"][0]["Key"].as_str(), Some(tag));
    assert_eq!(rule["TagFilters"][0]["Value"].as_str(), Some(value));
    assert_eq!(rule["Prefix"].as_str(), Some("ArtifactsPrefix"));
    assert!(rule["ExpirationInDays"].as_i64().is_some_and(|d| d > 0));
    let statements = &template["Resources"]["PublisherRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"];
    let tagging: Vec<String> = statements
        .as_vec()
        .into_iter()
        .flatten()
        .filter(|s| s["Action"].as_str() == Some("s3:PutObjectTagging"))
        .flat_map(|s| strings(&s["Resource"]))
        .collect();
    let folder = layer_autopublish::domain::receipt::RECEIPTS_FOLDER;
    assert_eq!(
        tagging,
        [format!(
            "arn:${{AWS::Partition}}:s3:::${{ArtifactsBucketName}}/${{ArtifactsPrefix}}*{folder}/*"
        )]
    );
}

/// `SweepSchedule`: a schedule of its own that invokes the function, which
/// then knows the bucket to sweep; off, neither the rule nor the variable.
#[test]
fn the_sweep_is_a_schedule_of_its_own_naming_the_bucket_to_sweep() {
    let template = load(TEMPLATE);
    let parameter = &template["Parameters"]["SweepSchedule"];
    assert_eq!(parameter["Default"].as_str(), Some(""));
    let pattern = regex::Regex::new(parameter["AllowedPattern"].as_str().expect("a pattern"))
        .expect("a regex");
    for good in [
        "",
        "rate(1 hour)",
        "rate(15 minutes)",
        "rate(1 day)",
        "cron(0 * * * ? *)",
    ] {
        assert!(pattern.is_match(good), "{good}");
    }
    for bad in ["hourly", "rate(0 hours)", "rate(1 fortnight)", "cron()"] {
        assert!(!pattern.is_match(bad), "{bad}");
    }
    let rule = &template["Resources"]["SweepRule"];
    assert_eq!(rule["Condition"].as_str(), Some("HasSweep"));
    assert_eq!(
        rule["Properties"]["ScheduleExpression"].as_str(),
        Some("SweepSchedule")
    );
    assert_eq!(
        rule["Properties"]["Targets"][0]["Arn"].as_str(),
        Some("PublisherFunction.Arn")
    );
    let permission = &template["Resources"]["SweepRuleInvokesPublisher"];
    assert_eq!(permission["Condition"].as_str(), Some("HasSweep"));
    assert_eq!(
        permission["Properties"]["SourceArn"].as_str(),
        Some("SweepRule.Arn")
    );
    let variables =
        &template["Resources"]["PublisherFunction"]["Properties"]["Environment"]["Variables"];
    let bucket = strings(&variables["ARTIFACTS_BUCKET"]);
    assert_eq!(bucket, ["HasSweep", "ArtifactsBucketName", "AWS::NoValue"]);
}
