//! Hostile and broken input, against moto server: each gets a typed error
//! or `ignored`, changes nothing, and the same process goes on serving.

use crate::common::{md5_hex, world};
use layer_autopublish::{OutcomeKind, Publisher};
use serde_json::{json, Value};

const DIR: &str = "projects/app/lambda/layer";
const LOCK: &str = "boto3==1.35.0\n";

fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

#[tokio::test]
async fn one_process_refuses_every_bad_input_then_publishes_a_good_upload() {
    let w = world("hostile").await;
    let publisher = w.publisher(w.config());
    w.put(&key("requirements.txt"), LOCK.as_bytes(), &[]).await;
    let md5 = md5_hex(LOCK.as_bytes());
    let good_metadata = [("manifest-md5", md5.as_str())];

    for (what, payload) in [
        ("no Records", json!({"foo": 1})),
        ("empty Records", json!({"Records": []})),
        ("Records not a list", json!({"Records": {"s3": {}}})),
        (
            "a record without s3",
            json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
        ),
        ("a number", json!(42)),
        ("deeply nested", nested(200)),
    ] {
        refused(&publisher, what, payload, "InvalidEvent").await;
    }
    let mut huge_key = w.event(&key("layer.zip"), None);
    huge_key["Records"][0]["s3"]["object"]["key"] = Value::from("k/".repeat(600) + "layer.zip");
    refused(
        &publisher,
        "a key over S3's 1024 bytes",
        huge_key,
        "InvalidEvent",
    )
    .await;
    let mut not_utf8 = w.event(&key("layer.zip"), None);
    not_utf8["Records"][0]["s3"]["object"]["key"] = Value::from("projects/%C3%28/layer.zip");
    refused(
        &publisher,
        "a key decoding to invalid UTF-8",
        not_utf8,
        "InvalidEvent",
    )
    .await;

    for (what, body) in [
        (
            "a text file named layer.zip",
            &b"<html>an error page, not a zip</html>"[..],
        ),
        ("an empty layer.zip", b""),
    ] {
        let (etag, _) = w.put(&key("layer.zip"), body, &good_metadata).await;
        let event = w.event(&key("layer.zip"), Some(&etag));
        refused(&publisher, what, event, "NotALayerZip").await;
    }

    let long_name = "r".repeat(1900);
    for (what, name_key, name) in [
        (
            "a 1.9 KB manifest-name",
            "manifest-name",
            long_name.as_str(),
        ),
        (
            "a manifest-name out of the folder",
            "manifest-name",
            "../../etc/passwd",
        ),
        (
            "a manifest-name that is the copy Lambda takes",
            "manifest-name",
            "publish-source.zip",
        ),
        ("a layer-name with a path", "layer-name", "../other"),
    ] {
        let metadata = [("manifest-md5", md5.as_str()), (name_key, name)];
        let event = w.upload_zip(DIR, "build", &metadata).await;
        refused(&publisher, what, event, "InvalidMetadata").await;
    }
    assert!(w.versions().await.is_empty(), "nothing was published");
    assert_eq!(
        w.record_keys().await,
        vec![key("layer.zip"), key("requirements.txt")],
        "nothing was written"
    );

    let good = w.upload_zip(DIR, "build", &good_metadata).await;
    let response = crate::common::invoke(&publisher, good)
        .await
        .expect("still serving");
    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
}

/// Invokes, and asserts a short error of type `expected`.
async fn refused(
    publisher: &Publisher<layer_autopublish::adapters::aws::Aws>, what: &str, event: Value,
    expected: &str,
) {
    let error = crate::common::invoke(publisher, event)
        .await
        .expect_err(what);
    assert_eq!(
        error.error_type, expected,
        "{what}: {}",
        error.error_message
    );
    assert!(
        error.error_message.len() < 600,
        "{what}: a readable message, not {}",
        error.error_message
    );
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("leaf"), |inner, _| json!({ "Records": [inner] }))
}

#[tokio::test]
async fn a_staged_lock_file_too_large_to_be_one_is_refused_unread() {
    let w = world("huge lock file").await;
    let huge = vec![b'#'; 16 * 1024 * 1024 + 1];
    w.put(&key("requirements.txt"), &huge, &[]).await;
    let md5 = md5_hex(&huge);
    let event = w.upload_zip(DIR, "build", &[("manifest-md5", &md5)]).await;

    let error = w.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "ManifestTooLarge");
    assert!(
        error
            .error_message
            .contains("is 16777217 bytes, more than the 16777216 bytes"),
        "{}",
        error.error_message
    );
    assert!(w.versions().await.is_empty());
}
