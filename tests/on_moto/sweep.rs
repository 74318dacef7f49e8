//! The sweep on moto (issue 34): an upload whose event never came is
//! published by the next scheduled run, and its receipt written; what is
//! settled is left without a Lambda call. The function runs with its clock
//! an hour ahead, for S3's LastModified to be past the event's time.

use crate::common::calls::{counted, Calls};
use crate::common::{sample, world, World, REGION};
use crate::support::*;
use layer_autopublish::ports::{draw, Clock};
use layer_autopublish::Publisher;
use std::time::{Duration, SystemTime};

/// The wall clock, an hour ahead.
#[derive(Clone, Copy)]
struct AnHourLater;

impl Clock for AnHourLater {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn jitter(&self, ceiling: Duration) -> Duration {
        draw(&mut fastrand::Rng::new(), ceiling)
    }
}

fn sweeping(w: &World) -> Config {
    Config {
        artifacts_bucket: Some(w.bucket.clone()),
        artifacts_prefix: Some("projects/".into()),
        ..w.config()
    }
}

#[tokio::test]
async fn an_upload_whose_event_never_came_is_published_by_the_next_sweep() {
    let w = world("sweep").await;
    w.enable_versioning().await;
    let (aws, calls) = counted(&w.sdk);
    let sweeper = Publisher::with_clock(aws, AnHourLater, sweeping(&w), REGION);
    // CI uploaded; the event was lost.
    let lost = w.upload(DIR, "requirements.txt", LOCK_V1, "build 1").await;

    let swept = crate::common::invoke(&sweeper, sample("scheduled-sweep.json"))
        .await
        .expect("swept");
    assert_eq!(swept.results.len(), 1, "{swept:?}");
    assert_eq!(swept.results[0].outcome, OutcomeKind::Published);
    assert_eq!(w.versions().await.len(), 1);
    let object = &lost["Records"][0]["s3"]["object"];
    let receipt = key(&format!(
        ".receipts/v-{}.json",
        object["versionId"].as_str().unwrap_or_default()
    ));
    assert!(w.keys().await.contains(&receipt), "the receipt is written");

    // Settled: the next run reads S3 alone.
    calls.take();
    let again = crate::common::invoke(&sweeper, sample("scheduled-sweep.json"))
        .await
        .expect("swept");
    assert!(again.results.is_empty());
    let made = calls.take();
    let lambda: usize = made
        .iter()
        .filter(|(operation, _)| operation.contains("Layer"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(lambda, 0, "{made:?}");
    assert_eq!(
        Calls::total(&made),
        3,
        "a listing, the zip's HEAD, its receipt: {made:?}"
    );

    // The late event: unchanged, the same version.
    let late = w.invoke(lost).await.expect("unchanged");
    assert_eq!(late.results[0].outcome, OutcomeKind::Unchanged);
    assert_eq!(w.versions().await.len(), 1);

    // For a person: every folder under the prefix, and where it stands.
    w.upload("projects/other", "requirements.txt", LOCK_V2, "build 2")
        .await;
    let s3_dir = format!("s3://{}/projects/", w.bucket);
    let args = ["status", "--all", "--s3-dir", &s3_dir, "--json"];
    let status = crate::layerctl::layerctl_via(&w, crate::common::moto_endpoint(), &args);
    crate::layerctl::assert_exit(&status, 0);
    let folders: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let states: Vec<(&str, &str)> = folders
        .as_array()
        .expect("folders")
        .iter()
        .map(|f| {
            (
                f["folder"].as_str().unwrap_or(""),
                f["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let other = format!("s3://{}/projects/other/", w.bucket);
    let mine = format!("s3://{}/{DIR}/", w.bucket);
    assert_eq!(
        states,
        // Key order; the late event's receipt replaced the sweep's.
        [(mine.as_str(), "unchanged"), (other.as_str(), "pending")],
        "{folders}"
    );
}

/// 500 layer folders, every upload settled (their receipts written as the
/// function writes them): the sweep reads S3 and calls Lambda for none.
/// It prints what it took, for docs/performance.md.
#[tokio::test]
async fn a_sweep_over_500_settled_folders_makes_no_lambda_call() {
    use layer_autopublish::domain::event::Upload;
    use layer_autopublish::domain::receipt::{receipt_key, Receipt};
    use layer_autopublish::ports::Folder;
    let w = world("sweep 500").await;
    let (aws, calls) = counted(&w.sdk);
    let sweeper = Publisher::with_clock(aws, AnHourLater, sweeping(&w), REGION);
    let zip = zip_bytes("build");
    for n in 0..500 {
        let key = format!("projects/app-{n:03}/layer.zip");
        let (etag, _) = w.put(&key, &zip, &[("manifest-md5", "0")]).await;
        let upload = Upload {
            event_name: "ObjectCreated:Put".into(),
            bucket: w.bucket.clone(),
            key: key.clone(),
            version_id: None,
            etag: Some(etag),
        };
        let receipt = Receipt {
            outcome: "published".into(),
            upload: upload.s3_uri(),
            ..Receipt::default()
        };
        let body = serde_json::to_vec(&receipt).expect("JSON");
        let receipt_at = receipt_key(&upload).expect("a receipt key");
        w.aws
            .put_receipt(&w.bucket, &receipt_at, body)
            .await
            .expect("a receipt");
    }
    calls.take();
    let started = std::time::Instant::now();
    let swept = crate::common::invoke(&sweeper, sample("scheduled-sweep.json"))
        .await
        .expect("swept");
    let took = started.elapsed();
    let made = calls.take();
    assert!(swept.results.is_empty());
    let lambda: usize = made
        .iter()
        .filter(|(operation, _)| operation.contains("Layer") || operation.contains("Function"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(lambda, 0, "{made:?}");
    assert_eq!(made.get("GetObject"), Some(&500), "{made:?}");
    eprintln!("a sweep of 500 settled folders on moto: {made:?} in {took:?}");
}
