//! The ways in: exactly one trigger per bucket option, matching the same keys,
//! and nothing the function writes matches it (no recursion).

use super::support::*;

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
