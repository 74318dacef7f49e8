//! Issue 31: a monorepo's burst. A hundred layers uploaded at once, each
//! event its own invocation, under Lambda's account-wide control-plane rate
//! (15 requests a second): every record waits its throttles out and settles
//! in its first invocation, each layer published once. `make bench-burst`
//! measures the same on moto with the real binary.

use crate::scene::*;
use futures_util::future::join_all;
use layer_autopublish::domain::allowed::AllowedLayers;

const LAYERS: usize = 100;

fn layer(n: usize) -> String {
    format!("burst-p{n:03}")
}

/// Uploads layer `n`'s lock file and zip into its own folder, the zip naming
/// its layer; the event.
fn upload(scene: &Scene, n: usize, lock: &str) -> Value {
    let dir = format!("projects/p{n:03}/lambda/layer");
    scene.upload_to_with(&dir, lock, lock, &[("layer-name", &layer(n))])
}

/// Every invocation answered `kind`, and each layer has one version.
fn each_answered(scene: &Scene, answers: &[Result<Response, Diagnostic>], kind: OutcomeKind) {
    for (n, answer) in answers.iter().enumerate() {
        let response = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e:?}", layer(n)));
        assert_eq!(outcome(response), kind, "{}", layer(n));
        assert_eq!(scene.aws.versions(&layer(n)).len(), 1, "{}", layer(n));
    }
}

/// Every event at once, each in its own invocation (a publisher of its own,
/// as each cold process is): what each answered.
async fn deliver_at_once(scene: &Scene, events: Vec<Value>) -> Vec<Result<Response, Diagnostic>> {
    let config = Config {
        allowed_layers: AllowedLayers::parse("burst-*").expect("a set"),
        ..Config::default()
    };
    let invocations = events.into_iter().map(|event| {
        let publisher = Publisher::with_clock(
            scene.aws.clone(),
            scene.clock(),
            config.clone(),
            "us-east-1",
        );
        async move { invoke(&publisher, event).await }
    });
    join_all(invocations).await
}

fn lambda_calls(calls: &[Call]) -> usize {
    let lambda = [
        Op::ListLayerVersions,
        Op::GetLayerVersion,
        Op::PublishLayerVersion,
    ];
    calls.iter().filter(|c| lambda.contains(&c.op)).count()
}

#[tokio::test(start_paused = true)]
async fn a_hundred_layers_at_once_under_lambdas_rate_each_publish_once_in_their_first_invocation() {
    let scene = Scene::new();
    scene.aws.limit_lambda_rate(15);
    let lock = |n: usize| format!("requests==2.32.{n}\n");
    let events: Vec<Value> = (0..LAYERS).map(|n| upload(&scene, n, &lock(n))).collect();
    scene.aws.take_record_calls();

    let answers = deliver_at_once(&scene, events).await;

    each_answered(&scene, &answers, OutcomeKind::Published);
    for n in 0..LAYERS {
        let lease = format!("layer-autopublish/leases/{}.lease", layer(n));
        let held = scene
            .aws
            .object(BUCKET, &lease)
            .is_some_and(|b| b.len() == 512);
        assert!(!held, "{lease} released");
    }
    // The rate throttled many calls; each upload's answered calls stay the
    // many-layer floor: 3 control-plane calls to publish.
    let throttled = scene.aws.throttled();
    assert!(throttled > LAYERS, "{throttled} throttled");
    let calls = scene.aws.take_record_calls();
    assert_eq!(lambda_calls(&calls) - throttled, 3 * LAYERS);

    // The same hundred uploaded again, unchanged: 1 control-plane call each.
    let events: Vec<Value> = (0..LAYERS).map(|n| upload(&scene, n, &lock(n))).collect();
    scene.aws.take_record_calls();
    let throttled_before = scene.aws.throttled();

    let answers = deliver_at_once(&scene, events).await;

    each_answered(&scene, &answers, OutcomeKind::Unchanged);
    let throttled = scene.aws.throttled() - throttled_before;
    let calls = scene.aws.take_record_calls();
    assert_eq!(lambda_calls(&calls) - throttled, LAYERS);
}
