//! The parameters agree with the function, the application repository's
//! metadata names this version, and the alarms notify what is set.

use super::support::*;

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
    let cases: [(&str, &str, &[&str], &[&str]); 9] = [
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
        (
            "ArtifactsPrefix",
            "ARTIFACTS_PREFIX",
            &["projects/", "projects/my app/lambda/", "a/"],
            &["projects", "projects/*/", "a?/", ""],
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

/// Issue 31: `MaxConcurrency` reserves the function's concurrency, and only
/// when set: empty (the default) leaves the function on the account's
/// unreserved pool, since reserving fails in accounts near their limit.
#[test]
fn max_concurrency_reserves_the_functions_concurrency_only_when_set() {
    let template = load(TEMPLATE);
    let parameter = &template["Parameters"]["MaxConcurrency"];
    assert_eq!(parameter["Default"].as_str(), Some(""));
    let pattern = parameter["AllowedPattern"].as_str().expect("a pattern");
    let pattern = regex::Regex::new(pattern).expect("a regex");
    for good in ["", "1", "10", "1000"] {
        assert!(pattern.is_match(good), "{good:?}");
    }
    for bad in ["0", "-1", "ten", "010", "1.5", "100000"] {
        assert!(!pattern.is_match(bad), "{bad:?}");
    }
    let function = &template["Resources"]["PublisherFunction"]["Properties"];
    let reserved = function["ReservedConcurrentExecutions"]
        .as_vec()
        .expect("!If [condition, value, AWS::NoValue]");
    let [condition, value, otherwise] = reserved.as_slice() else {
        panic!("{reserved:?}");
    };
    let condition = condition.as_str().expect("a condition");
    assert!(!holds(&template, condition, &[("MaxConcurrency", "")]));
    assert!(holds(&template, condition, &[("MaxConcurrency", "10")]));
    assert_eq!(value.as_str(), Some("MaxConcurrency"));
    assert_eq!(otherwise.as_str(), Some("AWS::NoValue"));
}

/// `pip install 'layerctl[deploy]'` brings the function package of the same
/// release: the extra pins the crate's version.
#[test]
fn the_deploy_extra_pins_this_version_of_the_function_package() {
    let pyproject = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pyproject.toml"))
        .expect("pyproject.toml");
    let pin = format!(
        "deploy = [\"layer-autopublish-function=={}\"]",
        env!("CARGO_PKG_VERSION")
    );
    assert!(pyproject.contains(&pin), "pyproject.toml: {pin}");
}
