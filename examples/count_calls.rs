//! `make bench`'s count of AWS calls per outcome for this function, made by
//! an SDK interceptor on the real clients against the local AWS the bench
//! started (`AWS_ENDPOINT_URL`). Prints one JSON object:
//! `{"published": N, "published_depth": N, "published_chain": "HeadObject > …", …}`
//! per outcome: the calls, how many one after another, and which.

#[path = "../tests/common/calls.rs"]
mod calls;

use calls::{counted, Calls};
use lambda_runtime::{Context, LambdaEvent};
use layer_autopublish::config::Config;
use layer_autopublish::domain::{event, manifest::ManifestMd5};
use layer_autopublish::{handle, Publisher};
use std::collections::BTreeMap;

const BUCKET: &str = "bench-call-counts";
const DIR: &str = "bench/layer";
const LOCK: &[u8] = b"boto3==1.35.0\n";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sdk = layer_autopublish::adapters::aws::config_loader()
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let _ = s3.create_bucket().bucket(BUCKET).send().await;
    // Versioned, as the template makes the bucket (an unversioned one adds
    // the copy of the zip Lambda takes).
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await?;
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("{DIR}/requirements.txt"))
        .body(LOCK.to_vec().into())
        .send()
        .await?;
    let zip = s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("{DIR}/layer.zip"))
        .metadata("manifest-md5", ManifestMd5::of(LOCK).to_string())
        .body(layer_zip().into())
        .send()
        .await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let upload = event::object_created(
        &region,
        BUCKET,
        &format!("{DIR}/layer.zip"),
        zip.e_tag().map(|e| e.trim_matches('"')),
        zip.version_id(),
        0,
    );
    let other_key = event::object_created(
        &region,
        BUCKET,
        &format!("{DIR}/requirements.txt"),
        None,
        None,
        0,
    );

    let (aws, calls) = counted(&sdk);
    let layer = format!("bench-calls-{}", std::process::id());
    let config = Config {
        layer_name: Some(layer),
        ..Config::default()
    };
    let publisher = Publisher::new(aws, config, region);
    let mut counts: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (expected, payload) in [
        ("published", upload.clone()),
        ("unchanged", upload),
        ("ignored", other_key),
    ] {
        calls.take();
        let response = handle(&publisher, LambdaEvent::new(payload, Context::default())).await?;
        let outcome = response.results[0].outcome.as_str();
        if outcome != expected {
            return Err(format!("expected {expected}, got {outcome}").into());
        }
        // How many of them one after another (the rest overlapped).
        counts.insert(format!("{expected}_depth"), calls.depth().into());
        counts.insert(
            format!("{expected}_chain"),
            calls.chain().join(" > ").into(),
        );
        counts.insert(expected.to_owned(), Calls::total(&calls.take()).into());
    }
    println!("{}", serde_json::to_string(&counts)?);
    Ok(())
}

/// A small real zip archive.
fn layer_zip() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let _ = writer.start_file("python/bench.py", stored);
    let _ = std::io::Write::write_all(&mut writer, b"x = 1\n");
    writer
        .finish()
        .map(|cursor| cursor.into_inner())
        .unwrap_or_default()
}
