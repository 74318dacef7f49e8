//! The floor of AWS calls per outcome, counted by an SDK interceptor on the
//! real clients talking to moto: `ignored` 0, `unchanged` 4, `published` at
//! most 14 in a versioned bucket and 15 in an unversioned one, and the same
//! whatever the number of versions already published (1, 2 or 12); and how
//! many of them one after another (the depth, from when each began and
//! ended): `unchanged` 3, `published` 7 (8 in an unversioned bucket). In a
//! deployment serving several layers, nothing is read ahead of the zip's
//! HEAD: `unchanged` 4 deep, and 1 control-plane call; `published` the same
//! 14 calls 10 deep, 3 of them on the control plane (issue 31). Each count
//! ends with the upload's receipt, one `PutObject` once the record is
//! settled (issue 34).
//!
//! Beyond the 10 of a publish from one folder's lease, the design needs: the
//! layer's lease read, and the versions read again after it is taken (one
//! writer per layer, whatever folder: `lease.rs`); in an unversioned bucket, the copy
//! of the checked zip that Lambda takes (`publish/write.rs`); and the read of
//! the zip's directory for the checks before a publish (issue 32), beside the
//! read of its first bytes: a call more, none deeper.

use crate::common::calls::{counted, Calls};
use crate::common::world;
use layer_autopublish::{OutcomeKind, Publisher};
use std::collections::BTreeMap;

const DIR: &str = "projects/app/lambda/layer";

fn lock(n: usize) -> String {
    format!("boto3==1.35.{n}\n")
}

/// The outcome of one invocation, the calls it made, and how many of them
/// one after another.
async fn run(
    publisher: &Publisher<layer_autopublish::adapters::aws::Aws>, calls: &Calls,
    event: serde_json::Value,
) -> (OutcomeKind, BTreeMap<String, usize>, usize) {
    calls.take();
    let response = crate::common::invoke(publisher, event)
        .await
        .expect("processed");
    let depth = calls.depth();
    (response.results[0].outcome, calls.take(), depth)
}

/// What `unchanged` calls: the zip's HEAD, the layer's versions, and one
/// listing of the folder from the latest version's records on; then the
/// upload's receipt.
fn unchanged_calls() -> BTreeMap<String, usize> {
    BTreeMap::from([
        ("HeadObject".to_owned(), 1),
        ("ListLayerVersions".to_owned(), 1),
        ("ListObjectsV2".to_owned(), 1),
        ("PutObject".to_owned(), 1),
    ])
}

#[tokio::test]
async fn each_outcome_makes_no_more_calls_than_its_floor_in_a_versioned_bucket() {
    floors(true).await;
}

#[tokio::test]
async fn each_outcome_makes_no_more_calls_than_its_floor_in_an_unversioned_bucket() {
    floors(false).await;
}

async fn floors(versioned: bool) {
    let w = world("call floor").await;
    if versioned {
        w.enable_versioning().await;
    }
    let (published_floor, copies, published_depth) =
        if versioned { (14, 2, 7) } else { (15, 3, 8) };
    let (calls_aws, calls) = counted(&w.sdk);
    let publisher = Publisher::new(calls_aws.clone(), w.config(), crate::common::REGION);

    let mut ignored_event = w.event(&format!("{DIR}/requirements.txt"), None);
    ignored_event["Records"][0]["eventName"] = "ObjectCreated:Put".into();
    let (outcome, made, depth) = run(&publisher, &calls, ignored_event).await;
    assert_eq!(
        (outcome, Calls::total(&made), depth),
        (OutcomeKind::Ignored, 0, 0),
        "{made:?}"
    );

    // A layer.zip outside ARTIFACTS_PREFIX, from any trigger (an SQS
    // queue may carry it): ignored before any call, as the role may not
    // read it.
    let fenced = Publisher::new(
        calls_aws.clone(),
        layer_autopublish::config::Config {
            artifacts_prefix: Some("projects/other/".into()),
            ..w.config()
        },
        crate::common::REGION,
    );
    let outside = w.upload(DIR, "requirements.txt", &lock(0), "build 0").await;
    let (outcome, made, depth) = run(&fenced, &calls, outside).await;
    assert_eq!(
        (outcome, Calls::total(&made), depth),
        (OutcomeKind::Ignored, 0, 0),
        "{made:?}"
    );

    // Published and unchanged with 1, 2 and 12 versions: versions 3 to 11
    // come from elsewhere (one call each, not the function's).
    for n in 1..=12 {
        let event = w
            .upload(DIR, "requirements.txt", &lock(n), &format!("build {n}"))
            .await;
        if (3..12).contains(&n) {
            w.lambda
                .publish_layer_version()
                .layer_name(&w.layer)
                .description(format!(
                    "manifest-md5:{}",
                    crate::common::md5_hex(lock(n).as_bytes())
                ))
                .content(
                    aws_sdk_lambda::types::LayerVersionContentInput::builder()
                        .s3_bucket(&w.bucket)
                        .s3_key(format!("{DIR}/layer.zip"))
                        .build(),
                )
                .send()
                .await
                .expect("published elsewhere");
            continue;
        }
        let (outcome, made, depth) = run(&publisher, &calls, event.clone()).await;
        assert_eq!(outcome, OutcomeKind::Published);
        assert!(
            Calls::total(&made) <= published_floor,
            "published v{n}: {made:?}"
        );
        assert_eq!(made.get("CopyObject"), Some(&copies), "{made:?}");
        assert_eq!(made.get("PublishLayerVersion"), Some(&1), "{made:?}");
        // One after another only what depends on the call before: the
        // versions (beside the HEAD); the zip's first bytes and its
        // directory (beside the folder and the lease); the take (beside the versions read again);
        // unversioned, the copy Lambda takes; the publish; the records (the
        // lock file copies beside deployment.json); the release; the receipt.
        assert_eq!(depth, published_depth, "published v{n}: {made:?}");
        assert_eq!(
            made.get("GetObject"),
            Some(&2),
            "only the zip's first bytes and its end (a small layer's directory): {made:?}"
        );

        let (outcome, made, depth) = run(&publisher, &calls, event).await;
        assert_eq!(outcome, OutcomeKind::Unchanged);
        assert_eq!(made, unchanged_calls(), "unchanged after v{n}");
        // Issue 13: the zip's HEAD and the layer's versions at once, then
        // the folder's listing, then the receipt.
        assert_eq!(depth, 3, "unchanged after v{n}: calls one after another");
    }
}

/// A deployment serving several layers (a prefix in ALLOWED_LAYERS, as a
/// monorepo's): an upload naming its own layer reads no other layer's
/// versions ahead. Published, it makes 3 control-plane calls (the versions,
/// read again under the lease, and the publish); unchanged, 1 (issue 31).
#[tokio::test]
async fn a_many_layer_stack_reads_only_the_layer_the_upload_names() {
    let w = world("many layers").await;
    w.enable_versioning().await;
    let (calls_aws, calls) = counted(&w.sdk);
    let team = format!("{}-team-", w.layer);
    let config = layer_autopublish::config::Config {
        allowed_layers: layer_autopublish::domain::allowed::AllowedLayers::parse(&format!(
            "{},{team}*",
            w.layer
        ))
        .expect("allowed layers"),
        ..w.config()
    };
    let publisher = Publisher::new(calls_aws, config, crate::common::REGION);
    let named = format!("{team}a");
    let lock = lock(1);
    w.put(&format!("{DIR}/requirements.txt"), lock.as_bytes(), &[])
        .await;
    let md5 = crate::common::md5_hex(lock.as_bytes());
    let event = w
        .upload_zip(
            DIR,
            "build 1",
            &[
                ("manifest-md5", md5.as_str()),
                ("layer-name", named.as_str()),
            ],
        )
        .await;
    let control_plane = |made: &BTreeMap<String, usize>| -> usize {
        made.iter()
            .filter(|(operation, _)| operation.contains("Layer") || operation.contains("Function"))
            .map(|(_, n)| n)
            .sum()
    };

    let (outcome, made, depth) = run(&publisher, &calls, event.clone()).await;
    assert_eq!(outcome, OutcomeKind::Published, "{made:?}");
    assert_eq!(control_plane(&made), 3, "{made:?}");
    // The same 14 calls as in a one-layer stack, but with nothing read
    // before the HEAD names the layer: 10 one after another (docs/how-it-works.md).
    assert_eq!(Calls::total(&made), 14, "{made:?}");
    assert_eq!(depth, 10, "{made:?}");
    assert_eq!(w.versions_of(&named).await.len(), 1);
    assert!(w.versions_of(&w.layer).await.is_empty());

    let (outcome, made, depth) = run(&publisher, &calls, event).await;
    assert_eq!(outcome, OutcomeKind::Unchanged);
    assert_eq!(made, unchanged_calls(), "only the named layer's versions");
    // The HEAD names the layer, then its versions, then the folder, then
    // the receipt.
    assert_eq!(depth, 4, "{made:?}");
}
