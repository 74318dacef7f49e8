//! What follows a publish, each part with its failure: the latest pointer,
//! sharing, the event, retention, followers.

use super::scene::*;

/// Issue 11, the latest pointer: it names each new version, from any
/// folder, and never moves back: not for a late event, not below a newer
/// version it names.
#[tokio::test(start_paused = true)]
async fn the_latest_pointer_follows_each_published_version_and_never_moves_back() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let other = "projects/other/lambda/layer";
    let a = scene.upload(LOCK_V1, "build 1");
    scene.clock().advance(Duration::from_secs(1));
    invoke(&publisher, a.clone()).await.expect("v1");
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    scene.clock().advance(Duration::from_secs(60));
    let b = scene.upload_to(other, LOCK_V2, "build 2");
    invoke(&publisher, b).await.expect("v2");
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)));

    let late = invoke(&publisher, a).await.expect("late");

    assert_eq!(outcome(&late), OutcomeKind::Unchanged);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(2)), "not moved back");

    // A newer version than the one published: left as it is.
    scene.aws.put_parameter_by_hand(POINTER, &arn(9));
    scene.clock().advance(Duration::from_secs(60));
    let c = scene.upload("boto3==1.35.2\n", "build 3");
    invoke(&publisher, c).await.expect("v3");
    assert_eq!(scene.versions().len(), 3);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(9)));
}

/// The pointer's write fails after the publish: the record fails keeping
/// the lease, without its deployment record; the retry moves the pointer and
/// writes the record. With every record there, the pointer costs nothing:
/// `unchanged` stays at 3 calls.
#[tokio::test(start_paused = true)]
async fn a_failed_pointer_write_after_the_publish_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PutParameter, POINTER, Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone())
        .await
        .expect_err("SSM failed");

    assert_eq!(error.error_type, "SsmError");
    assert!(
        error.error_message.contains(POINTER),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 1);
    assert!(
        scene.lease_handed_over(),
        "a version exists without its records"
    );
    assert!(scene.text("000001/deployment.json").is_none());

    let retry = invoke(&publisher, event.clone()).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.parameter(POINTER), Some(arn(1)));
    assert!(scene.text("000001/deployment.json").is_some());
    scene.aws.take_record_calls();

    let again = invoke(&publisher, event).await.expect("unchanged");

    assert_eq!(outcome(&again), OutcomeKind::Unchanged);
    assert_eq!(
        scene.aws.take_record_calls().len(),
        3,
        "nothing missing: 3 calls"
    );
}

/// Issue 11, sharing: each new version is shared with every grantee, and a
/// grant that failed, or applied with its answer lost, is finished by the
/// retry without a second statement.
#[tokio::test(start_paused = true)]
async fn each_new_version_is_shared_and_a_failed_grant_is_finished_by_the_first_retry() {
    for fault in [Fault::FailBefore, Fault::LoseAnswer] {
        let scene = Scene::new();
        let publisher = scene.publisher_with(sharing("123456789012,o-a1b2c3d4e5,*"));
        let event = scene.upload(LOCK_V1, "build 1");
        // The second grant fails.
        scene
            .aws
            .meanwhile(Op::AddLayerVersionPermission, "", move |aws| {
                aws.inject(Op::AddLayerVersionPermission, "", fault, 1);
            });

        let error = invoke(&publisher, event.clone())
            .await
            .expect_err("grant failed");

        assert_eq!(error.error_type, "LambdaError", "{fault:?}");
        assert!(scene.lease_handed_over(), "{fault:?}: records incomplete");
        assert!(scene.text("000001/deployment.json").is_none());

        let retry = invoke(&publisher, event).await.expect("finished");

        assert_eq!(outcome(&retry), OutcomeKind::Published, "{fault:?}");
        let ids: Vec<String> = scene
            .aws
            .grants(LAYER, 1)
            .into_iter()
            .map(|g| g.statement_id)
            .collect();
        assert_eq!(
            ids,
            [
                "layer-autopublish-123456789012",
                "layer-autopublish-o-a1b2c3d4e5",
                "layer-autopublish-public"
            ],
            "{fault:?}: each grant once"
        );
        assert!(scene.text("000001/deployment.json").is_some());
    }
}

/// Issue 11, the event per new version: one `Layer Version Published` per
/// publish, its detail the outcome; nothing for an unchanged, ignored or
/// superseded record, nor for a version another tool published.
#[tokio::test(start_paused = true)]
async fn each_new_version_is_announced_once_and_nothing_else_is() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    let event = scene.upload(LOCK_V1, "build 1");
    invoke(&publisher, event.clone()).await.expect("v1");
    invoke(&publisher, event).await.expect("unchanged");
    let mut ignored = scene.upload(LOCK_V1, "build 1");
    ignored["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
    invoke(&publisher, ignored).await.expect("ignored");
    scene.clock().advance(Duration::from_secs(60));
    let second = scene.upload(LOCK_V2, "build 2");
    invoke(&publisher, second).await.expect("v2");

    let events = scene.aws.events();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, version) in events.iter().zip([1, 2]) {
        assert_eq!(event.bus, "layers");
        assert_eq!(event.source, "layer-autopublish");
        assert_eq!(event.detail_type, "Layer Version Published");
        let detail: Value = serde_json::from_str(&event.detail).expect("JSON");
        assert_eq!(detail["outcome"], "published");
        assert_eq!(detail["layer_version"], version);
        assert_eq!(detail["layer_version_arn"], arn(version).as_str());
    }

    // A version the seed published, adopted: not announced.
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    scene.aws.publish_by_hand(LAYER, "", &zip("seed build"));
    scene.aws.put_object(
        BUCKET,
        &key("000001/requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let adopted = scene.upload(LOCK_V1, "build 1");
    assert_eq!(
        outcome(&invoke(&publisher, adopted).await.expect("adopted")),
        OutcomeKind::Unchanged
    );
    assert!(scene.aws.events().is_empty());
}

/// The event's put fails after the publish: the record fails keeping the
/// lease; the retry announces the version and writes the record.
#[tokio::test(start_paused = true)]
async fn a_failed_announcement_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(announcing());
    let event = scene.upload(LOCK_V1, "build 1");
    scene.aws.inject(Op::PutEvents, "", Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "EventBridgeError");
    assert!(scene.aws.events().is_empty());
    assert!(scene.text("000001/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    invoke(&publisher, event).await.expect("finished");

    let events = scene.aws.events();
    assert_eq!(events.len(), 1);
    let detail: Value = serde_json::from_str(&events[0].detail).expect("JSON");
    assert_eq!(detail["outcome"], "published");
    assert_eq!(detail["layer_version"], 1);
    assert!(scene.text("000001/deployment.json").is_some());
}

/// Issue 11, retention: after each publish only the newest N stay; the
/// versions deleted are in the outcome and its record; with PRUNE_RECORDS
/// their records go too. A dry run says what would go.
#[tokio::test(start_paused = true)]
async fn retention_keeps_the_newest_versions_and_a_dry_run_says_what_would_go() {
    let scene = Scene::new();
    publish_in_turn(&scene, &scene.publisher_with(keeping(2, true)), 3).await;

    let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 3]);
    assert!(scene.text("000001/deployment.json").is_none(), "pruned");
    assert!(scene.text("000001/requirements.txt").is_none(), "pruned");
    let record: Value =
        serde_json::from_str(&scene.text("000003/deployment.json").expect("v3's record"))
            .expect("JSON");
    assert_eq!(record["deleted_versions"], serde_json::json!([1]));

    let dry = Config {
        dry_run: true,
        ..keeping(2, true)
    };
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload("boto3==1.35.9\n", "build 9");
    let response = invoke(&scene.publisher_with(dry), event)
        .await
        .expect("dry run");
    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::WouldPublish);
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(
        reason.ends_with("retention would then delete versions [2]"),
        "{reason}"
    );
    assert_eq!(result.would_delete_versions, [2], "as data too");
    assert_eq!(result.would_delete_arns, [arn(2)]);
    assert_eq!(scene.versions().len(), 2, "nothing deleted");

    // Without PRUNE_RECORDS the records stay as history.
    let scene = Scene::new();
    publish_in_turn(&scene, &scene.publisher_with(keeping(1, false)), 2).await;
    assert_eq!(scene.versions().len(), 1);
    assert!(scene.text("000001/deployment.json").is_some(), "history");
}

/// A deletion fails after the publish: the record fails keeping the lease;
/// the retry finishes retention and writes the record.
#[tokio::test(start_paused = true)]
async fn a_failed_deletion_is_finished_by_the_first_retry() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(keeping(1, false));
    publish_in_turn(&scene, &publisher, 1).await;
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload("boto3==1.35.7\n", "build 7");
    scene
        .aws
        .inject(Op::DeleteLayerVersion, "", Fault::FailBefore, 1);

    let error = invoke(&publisher, event.clone()).await.expect_err("failed");

    assert_eq!(error.error_type, "LambdaError");
    assert_eq!(scene.versions().len(), 2);
    assert!(scene.text("000002/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);

    let numbers: Vec<i64> = scene.versions().iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2]);
    assert!(scene.text("000002/deployment.json").is_some());
}

/// Issue 11, moving consumers: a function on an older version is moved to
/// the new one, its other layers kept in order; one that does not use the
/// layer is left alone and reported.
#[tokio::test(start_paused = true)]
async fn followers_on_an_older_version_are_moved_and_the_others_left_alone() {
    let scene = Scene::new();
    let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
    scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
    let last = format!("{OTHER_LAYER}2");
    scene
        .aws
        .create_function("api", &[OTHER_LAYER.into(), arn(1), last.clone()]);
    scene.aws.create_function("worker", &[OTHER_LAYER.into()]);
    let publisher = scene.publisher_with(following("api,worker"));
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload(LOCK_V1, "build 1");

    let response = invoke(&publisher, event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.layer_version, Some(2));
    let said: Vec<(&str, &str)> = result
        .followers
        .iter()
        .map(|f| (f.function.as_str(), f.result.as_str()))
        .collect();
    assert_eq!(said, [("api", "moved"), ("worker", "not_using")]);
    assert_eq!(
        scene.aws.layers_of("api"),
        Some(vec![OTHER_LAYER.into(), arn(2), last]),
        "in place, the others kept in order"
    );
    assert_eq!(
        scene.aws.layers_of("worker"),
        Some(vec![OTHER_LAYER.into()])
    );
}

/// A follower busy with another update for the whole wait: the publish
/// stands, the record fails listing each follower, and the retry moves it.
#[tokio::test(start_paused = true)]
async fn a_busy_follower_never_undoes_the_publish_and_the_first_retry_moves_it() {
    let scene = Scene::new();
    let old_marker = format!("manifest-md5:{}", md5("boto3==1.0.0\n"));
    scene.aws.publish_by_hand(LAYER, &old_marker, &zip("old"));
    scene.aws.create_function("api", &[arn(1)]);
    let publisher = scene.publisher_with(following("api"));
    scene.clock().advance(Duration::from_secs(60));
    let event = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::UpdateFunctionConfiguration, "api", Fault::Conflict, 4);

    let error = invoke(&publisher, event.clone()).await.expect_err("busy");

    assert_eq!(error.error_type, "FollowersNotMoved");
    assert!(
        error.error_message.contains("api busy"),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 2, "the publish stands");
    assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(1)]));
    assert!(scene.text("000002/deployment.json").is_none());

    assert!(scene.lease_handed_over());
    let retry = invoke(&publisher, event).await.expect("finished");

    assert_eq!(outcome(&retry), OutcomeKind::Published);
    assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(2)]));
    assert!(scene.text("000002/deployment.json").is_some());
}
