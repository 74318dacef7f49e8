//! What follows a publish, on moto's services: the latest pointer, sharing,
//! the event, retention, followers, other regions.

use super::support::*;

/// Issue 11, the latest pointer, on moto's SSM: the parameter names v1,
/// then v2.
#[tokio::test]
async fn the_latest_pointer_names_each_new_version() {
    let w = world("pointer").await;
    let config = Config {
        latest_parameter: Some("/layer-autopublish/{layer}/latest".into()),
        ..w.config()
    };
    let publisher = w.publisher(config);
    let name = format!("/layer-autopublish/{}/latest", w.layer);
    let pointer = || async {
        let out = w.aws.ssm().get_parameter().name(&name).send().await;
        out.expect("the parameter exists")
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
    };

    for (lock, build, version) in [(LOCK_V1, "build 1", 1), (LOCK_V2, "build 2", 2)] {
        let event = w.upload(DIR, "requirements.txt", lock, build).await;
        let response = crate::common::invoke(&publisher, event)
            .await
            .expect("published");
        let arn = response.results[0].layer_version_arn.clone();
        assert_eq!(response.results[0].layer_version, Some(version));
        assert_eq!(pointer().await, arn, "v{version}");
    }
}

/// Issue 11, sharing, on moto: the new version's policy grants the account.
#[tokio::test]
async fn a_new_version_is_shared_with_the_accounts_named() {
    let w = world("sharing").await;
    let config = Config {
        share_with: layer_autopublish::lifecycle::sharing::Grantee::parse_list("123456789012")
            .expect("an account"),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = crate::common::invoke(&w.publisher(config), event)
        .await
        .expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    let policy = w
        .lambda
        .get_layer_version_policy()
        .layer_name(&w.layer)
        .version_number(1)
        .send()
        .await
        .expect("a policy");
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).expect("JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(statements[0]["Sid"], "layer-autopublish-123456789012");
    assert_eq!(statements[0]["Action"], "lambda:GetLayerVersion");
}

/// Issue 11, the event, on moto: a rule on the bus (docs/deploying.md's sample
/// pattern) sends `Layer Version Published` to a queue; its detail is the
/// outcome.
#[tokio::test]
async fn a_new_version_is_announced_on_the_bus() {
    let w = world("events").await;
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let bus = format!("layers-{}", w.layer);
    events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus");
    let queue = w.queue("announced").await;
    let pattern = r#"{"source":["layer-autopublish"],"detail-type":["Layer Version Published"]}"#;
    events
        .put_rule()
        .name("new-layer-versions")
        .event_bus_name(&bus)
        .event_pattern(pattern)
        .send()
        .await
        .expect("a rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(&queue.arn)
        .build()
        .expect("a target");
    events
        .put_targets()
        .rule("new-layer-versions")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .expect("the queue is the rule's target");
    let config = Config {
        event_bus: Some(bus.clone()),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = crate::common::invoke(&w.publisher(config), event)
        .await
        .expect("published");

    let bodies = queue.bodies().await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["source"], "layer-autopublish");
    assert_eq!(body["detail-type"], "Layer Version Published");
    assert_eq!(body["detail"]["outcome"], "published");
    assert_eq!(
        body["detail"]["layer_version_arn"].as_str(),
        response.results[0].layer_version_arn.as_deref()
    );
}

/// Issue 11, retention, on moto: with one version kept and records pruned,
/// publishing v2 deletes v1 (every page of ListLayerVersions followed) and
/// its records.
#[tokio::test]
async fn retention_deletes_versions_beyond_the_newest_and_their_records() {
    let w = world("retention").await;
    let config = Config {
        keep_versions: Some(1),
        prune_records: true,
        ..w.config()
    };
    let publisher = w.publisher(config);
    for (lock, build) in [(LOCK_V1, "build 1"), (LOCK_V2, "build 2")] {
        let event = w.upload(DIR, "requirements.txt", lock, build).await;
        crate::common::invoke(&publisher, event)
            .await
            .expect("published");
    }

    let versions: Vec<i64> = w.versions().await.iter().map(|(n, _)| *n).collect();
    assert_eq!(versions, [2]);
    let keys = w.record_keys().await;
    assert!(!keys.iter().any(|k| k.contains("/000001/")), "{keys:?}");
    assert!(keys.contains(&key("000002/deployment.json")), "{keys:?}");
}

/// Issue 11, moving consumers, on moto: a function on v1 is moved to v2,
/// keeping its other layer; one without the layer is left alone.
#[tokio::test]
async fn a_follower_on_the_previous_version_is_moved_to_the_new_one() {
    let w = world("followers").await;
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;
    let first = crate::common::invoke(&w.publisher(w.config()), event)
        .await
        .expect("v1");
    let v1 = first.results[0].layer_version_arn.clone().expect("an ARN");
    let other = publish_another_layer(&w, &format!("{}-other", w.layer), &key("layer.zip")).await;
    let api = format!("api-{}", w.layer);
    let worker = format!("worker-{}", w.layer);
    create_function_on_moto(&api, &[v1.clone(), other.clone()]);
    create_function_on_moto(&worker, std::slice::from_ref(&other));
    let config = Config {
        followers: vec![api.clone(), worker.clone()],
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;

    let response = crate::common::invoke(&w.publisher(config), event)
        .await
        .expect("v2");

    let result = &response.results[0];
    let v2 = result.layer_version_arn.clone().expect("an ARN");
    let said: Vec<&str> = result.followers.iter().map(|f| f.result.as_str()).collect();
    assert_eq!(said, ["moved", "not_using"]);
    assert_eq!(layers_of(&w, &api).await, [v2, other.clone()]);
    assert_eq!(layers_of(&w, &worker).await, [other]);
}

/// Issue 12, other regions, on moto: a bucket in eu-west-1, the version
/// published there from its copy of the zip (Lambda takes a layer's content
/// only from its own region), and the record naming both ARNs.
#[tokio::test]
async fn a_version_is_published_in_each_region_of_replicate_to() {
    let w = world("replicas").await;
    let region = "eu-west-1";
    let eu = aws_sdk_lambda::config::Region::new(region);
    let eu_bucket = w.create_eu_bucket().await;
    let config = Config {
        replicate_to: layer_autopublish::lifecycle::replicas::parse_list(&format!(
            "{region}={eu_bucket}"
        ))
        .expect("a target"),
        ..w.config()
    };
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let response = crate::common::invoke(&w.publisher(config), event)
        .await
        .expect("published in both regions");

    let result = &response.results[0];
    let replica = &result.replicas[0];
    assert_eq!(
        (replica.region.as_str(), replica.outcome.as_str()),
        (region, "published")
    );
    assert!(
        replica.layer_version_arn.contains(":eu-west-1:"),
        "{replica:?}"
    );
    let eu_lambda =
        aws_sdk_lambda::Client::from_conf(w.lambda.config().to_builder().region(eu).build());
    let there = eu_lambda
        .list_layer_versions()
        .layer_name(&w.layer)
        .send()
        .await
        .expect("eu-west-1's versions");
    let descriptions: Vec<&str> = there
        .layer_versions()
        .iter()
        .filter_map(|v| v.description())
        .collect();
    assert_eq!(
        descriptions,
        [format!("manifest-md5:{}", md5_hex(LOCK_V1.as_bytes()))]
    );
    assert_eq!(w.versions().await.len(), 1, "one at home");
    let copied =
        w.s3.get_object()
            .bucket(&eu_bucket)
            .key(key("publish-source.zip"))
            .send()
            .await
            .expect("the copy in eu-west-1")
            .body
            .collect()
            .await
            .expect("its bytes")
            .into_bytes();
    assert_eq!(copied.as_ref(), zip_bytes("build 1").as_slice());
    let record: serde_json::Value =
        serde_json::from_slice(&w.get(&key("000001/deployment.json")).await.unwrap()).unwrap();
    assert_eq!(
        record["replicas"][0]["layer_version_arn"].as_str(),
        Some(replica.layer_version_arn.as_str())
    );
}
