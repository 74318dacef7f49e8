//! Issue 21: a real failure after the publish, finished by an immediate
//! redelivery through the handed-over lease.

use super::support::*;

/// Issue 21, on moto: the version is published, then a part after it fails
/// for real (a function of FOLLOWERS, and then the bus named in EVENT_BUS,
/// do not exist). The lease is handed over (S3's own conditional write);
/// once the user creates what was missing, a redelivery at once, well
/// within the lease's 150 s, takes it and finishes: `published`, one
/// version per lock file, the lease released.
#[tokio::test]
async fn a_failure_after_the_publish_is_finished_by_an_immediate_redelivery() {
    let w = world("handover").await;
    let bus = format!("later-{}", w.layer);
    let api = format!("later-api-{}", w.layer);
    let config = Config {
        event_bus: Some(bus.clone()),
        followers: vec![api.clone()],
        ..w.config()
    };
    let publisher = w.publisher(config);
    let event = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let failed = crate::common::invoke(&publisher, event.clone())
        .await
        .expect_err("nothing to move yet");

    assert_eq!(failed.error_type, "FollowersNotMoved", "{failed:?}");
    assert_eq!(lease_size(&w).await, Some(1024), "handed over");
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 1);

    // The user creates what was missing; the event comes again at once.
    aws_sdk_eventbridge::Client::new(&w.sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus");
    let v1 = format!(
        "arn:aws:lambda:{}:123456789012:layer:{}:1",
        crate::common::REGION,
        w.layer
    );
    create_function_on_moto(&api, &[]);
    let retry = crate::common::invoke(&publisher, event)
        .await
        .expect("finished at once");

    let result = &retry.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.layer_version_arn.as_deref(), Some(v1.as_str()));
    let said: Vec<&str> = result.followers.iter().map(|f| f.result.as_str()).collect();
    assert_eq!(said, ["not_using"]);
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 1);
    let record = w.get_text(&key("000001/deployment.json")).await;
    let record: Deployment = serde_json::from_str(&record.expect("recorded")).expect("JSON");
    assert_eq!(record.outcome.outcome, OutcomeKind::Published);
    assert!(
        lease_size(&w).await.is_some_and(|size| size < 512),
        "released"
    );

    // The next lock file, while the bus is gone: the version stands, the
    // event cannot be put; the first retry, once the bus is back, puts it.
    let events = aws_sdk_eventbridge::Client::new(&w.sdk);
    let deleted = events.delete_event_bus().name(&bus).send().await;
    deleted.expect("the bus deleted");
    let event = w.upload(DIR, "requirements.txt", LOCK_V2, "build 2").await;
    let failed = crate::common::invoke(&publisher, event.clone())
        .await
        .expect_err("no bus");
    assert_eq!(failed.error_type, "EventBridgeError", "{failed:?}");
    assert_eq!(lease_size(&w).await, Some(1024), "handed over");
    let created = events.create_event_bus().name(&bus).send().await;
    created.expect("the bus again");
    let retry = crate::common::invoke(&publisher, event)
        .await
        .expect("finished at once");
    assert_eq!(retry.results[0].outcome, OutcomeKind::Published);
    assert_eq!(retry.results[0].layer_version, Some(2));
    let versions = w.lambda.list_layer_versions().layer_name(&w.layer).send();
    assert_eq!(versions.await.expect("listed").layer_versions().len(), 2);
    assert!(w.get_text(&key("000002/deployment.json")).await.is_some());
    assert!(
        lease_size(&w).await.is_some_and(|size| size < 512),
        "released"
    );
}
