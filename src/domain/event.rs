//! What invokes the function → the uploaded objects it reports, in the three
//! shapes S3 can deliver them:
//! - an S3 event notification (`Records[].s3`), sent by the bucket's own
//!   notification configuration: keys URL-encoded the way HTML forms are;
//! - an EventBridge "Object Created" event (`source` `aws.s3`), sent by a rule
//!   on a bucket with EventBridge notifications on: one object, its key as is;
//! - an SQS batch (`Records[].eventSource` `aws:sqs`) whose message bodies are
//!   S3 notifications (or EventBridge events, or S3's test message): each
//!   message stands alone, and a failed one is reported by its `messageId`.
//!
//! The handler takes the payload as raw JSON so that a misrouted or malformed
//! payload becomes our own `InvalidEvent` error, named and explained, instead
//! of a generic deserialisation failure.

use crate::domain::layout::UNRESERVED_AND_SLASH;
use percent_encoding::{percent_decode_str, utf8_percent_encode};
use serde::Deserialize;
use serde_json::Value;

/// S3's limit on the length of a key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// One object reported by one record of an S3 notification (or by an
/// EventBridge event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, …
    pub event_name: String,
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// The object version the event is about, in a versioned bucket.
    pub version_id: Option<String>,
    /// The ETag the event saw, without quotes.
    pub etag: Option<String>,
}

impl Upload {
    /// The upload an event reports, once its key is one S3 could hold.
    fn reported(
        event_name: String, bucket: String, key: String, version_id: Option<String>,
        etag: Option<String>,
    ) -> Result<Self, String> {
        if key.is_empty() {
            return Err("its key is empty".into());
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(format!(
                "its key is {} bytes long; S3 keys are at most {MAX_KEY_BYTES}",
                key.len()
            ));
        }
        Ok(Self {
            event_name,
            bucket,
            key,
            // Versioning-suspended buckets report the version id "null": the
            // object is overwritten in place, as in an unversioned bucket.
            version_id: version_id.filter(|id| !id.is_empty() && id != "null"),
            etag: etag.map(|etag| etag.trim_matches('"').to_owned()),
        })
    }

    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }

    pub fn s3_uri(&self) -> String {
        crate::domain::layout::s3_uri(&self.bucket, &self.key)
    }

    /// The object the event reported.
    pub fn object(&self) -> crate::domain::values::ObjectId {
        crate::domain::values::ObjectId {
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
        }
    }
}

/// What one invocation carries, and how its failures are reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An S3 notification or an EventBridge event, invoked asynchronously:
    /// the invocation fails when any upload fails, and Lambda retries it.
    Direct(Vec<Upload>),
    /// An SQS batch: each message succeeds or fails on its own; the failed
    /// ones go back to the queue (`batchItemFailures`).
    Queue(Vec<QueuedMessage>),
    /// EventBridge's scheduled event (`SweepSchedule`): look for uploads no
    /// event delivered (`publish/sweep.rs`).
    Sweep,
}

impl Delivery {
    /// Every upload, in order (an unreadable message's none).
    pub fn uploads(&self) -> Vec<&Upload> {
        match self {
            Self::Direct(uploads) => uploads.iter().collect(),
            Self::Queue(messages) => messages
                .iter()
                .filter_map(|m| m.uploads.as_ref().ok())
                .flatten()
                .collect(),
            Self::Sweep => Vec::new(),
        }
    }
}

/// One message of an SQS batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// SQS's `messageId`: how a failure is reported.
    pub message_id: String,
    /// What its body reports, or why it cannot be read. S3's test message
    /// (sent when a notification is configured) reports nothing.
    pub uploads: Result<Vec<Upload>, EventProblem>,
}

/// Why a payload is not something S3 delivers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventProblem(pub String);

/// What the payload delivers.
pub fn parse(payload: Value) -> Result<Delivery, EventProblem> {
    if payload["source"] == "aws.events" && payload["detail-type"] == "Scheduled Event" {
        return Ok(Delivery::Sweep);
    }
    if payload.get("detail-type").is_some() {
        return bridge_event(payload).map(|upload| Delivery::Direct(vec![upload]));
    }
    if payload["Records"][0]["eventSource"] == "aws:sqs" {
        return queued(payload).map(Delivery::Queue);
    }
    s3_notification(payload).map(Delivery::Direct)
}

/// [`parse`] from JSON text, as the runtime received it: any text, nested
/// past serde_json's depth limit too, gets an [`EventProblem`].
pub fn parse_json(text: &str) -> Result<Delivery, EventProblem> {
    serde_json::from_str(text)
        .map_err(|e| not_a_delivery(&e))
        .and_then(parse)
}

fn not_a_delivery(e: &serde_json::Error) -> EventProblem {
    EventProblem(format!(
        "it is not an S3 event notification, an EventBridge S3 event or an SQS batch of S3 \
         notifications ({e})"
    ))
}

fn s3_notification(payload: Value) -> Result<Vec<Upload>, EventProblem> {
    let event: S3Notification = serde_json::from_value(payload).map_err(|e| not_a_delivery(&e))?;
    if event.records.is_empty() {
        return Err(EventProblem("its `Records` list is empty".into()));
    }
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            upload_of(record).map_err(|why| EventProblem(format!("record {index}: {why}")))
        })
        .collect()
}

/// An S3 event notification: only what the function reads (moto, for one,
/// leaves out `userIdentity` and the request's fields).
#[derive(Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    #[serde(default)]
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    #[serde(default)]
    bucket: S3Bucket,
    #[serde(default)]
    object: S3Object,
}

#[derive(Default, Deserialize)]
struct S3Bucket {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    e_tag: Option<String>,
}

/// An EventBridge event, as S3 sends it to EventBridge.
#[derive(Deserialize)]
struct BridgeEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    detail: BridgeDetail,
}

#[derive(Deserialize)]
struct BridgeDetail {
    bucket: BridgeBucket,
    object: BridgeObject,
    /// `PutObject`, `CopyObject`, `CompleteMultipartUpload`.
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct BridgeBucket {
    name: String,
}

#[derive(Deserialize)]
struct BridgeObject {
    key: String,
    #[serde(default, alias = "eTag")]
    etag: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
}

fn bridge_event(payload: Value) -> Result<Upload, EventProblem> {
    let event: BridgeEvent = serde_json::from_value(payload).map_err(|e| {
        EventProblem(format!(
            "it is an EventBridge event but not one S3 sends for an object ({e})"
        ))
    })?;
    if event.source != "aws.s3" {
        return Err(EventProblem(format!(
            "it is an EventBridge event from {:?}, not from S3 (aws.s3)",
            event.source
        )));
    }
    // The notification's event names, so that one filter serves both.
    let event_name = match (event.detail_type.as_str(), event.detail.reason.as_deref()) {
        ("Object Created", Some("PutObject")) => "ObjectCreated:Put".to_owned(),
        ("Object Created", Some("CopyObject")) => "ObjectCreated:Copy".to_owned(),
        ("Object Created", Some(other)) => format!("ObjectCreated:{other}"),
        ("Object Created", None) => "ObjectCreated:".to_owned(),
        (other, _) => other.to_owned(),
    };
    let object = event.detail.object;
    let (bucket, key) = (event.detail.bucket.name, object.key);
    if bucket.is_empty() {
        return Err(EventProblem("it has no `detail.bucket.name`".into()));
    }
    // EventBridge carries the key itself, not URL-encoded.
    Upload::reported(event_name, bucket, key, object.version_id, object.etag).map_err(EventProblem)
}

/// A batch from an SQS event source mapping.
#[derive(Deserialize)]
struct SqsBatch {
    #[serde(rename = "Records")]
    records: Vec<SqsRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsRecord {
    message_id: String,
    #[serde(default)]
    body: String,
}

fn queued(payload: Value) -> Result<Vec<QueuedMessage>, EventProblem> {
    let batch: SqsBatch = serde_json::from_value(payload).map_err(|e| {
        EventProblem(format!(
            "it is an SQS batch without a `messageId` on each message ({e})"
        ))
    })?;
    Ok(batch
        .records
        .into_iter()
        .map(|record| QueuedMessage {
            uploads: message_uploads(&record.body),
            message_id: record.message_id,
        })
        .collect())
}

/// What one SQS message's body reports.
fn message_uploads(body: &str) -> Result<Vec<Upload>, EventProblem> {
    let body: Value = serde_json::from_str(body)
        .map_err(|e| EventProblem(format!("its body is not JSON from S3 ({e})")))?;
    if body["Event"] == "s3:TestEvent" {
        return Ok(Vec::new());
    }
    if body.get("detail-type").is_some() {
        return bridge_event(body).map(|upload| vec![upload]);
    }
    s3_notification(body)
}

fn upload_of(record: S3Record) -> Result<Upload, String> {
    let event_name = record
        .event_name
        .filter(|name| !name.is_empty())
        .ok_or("it has no `eventName`")?;
    let bucket = record
        .s3
        .bucket
        .name
        .filter(|name| !name.is_empty())
        .ok_or("it has no `s3.bucket.name`")?;
    let object = record.s3.object;
    let raw_key = object
        .key
        .filter(|key| !key.is_empty())
        .ok_or("it has no `s3.object.key`")?;
    let key = decode_key(&raw_key)?;
    Upload::reported(event_name, bucket, key, object.version_id, object.e_tag)
}

/// The notification S3 sends when `key` is created: what `layerctl invoke`
/// hands the handler to publish without the trigger.
pub fn object_created(
    region: &str, bucket: &str, key: &str, etag: Option<&str>, version_id: Option<&str>, size: u64,
) -> Value {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": crate::domain::dates::format(std::time::SystemTime::now()),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encode_key(key), "size": size, "eTag": etag, "versionId": version_id}
        }
    }]})
}

/// How S3 encodes a key in a notification: form-style, `+` for a space.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, UNRESERVED_AND_SLASH)
        .to_string()
        .replace("%20", "+")
}

/// Keys in S3 notifications are URL-encoded the way HTML forms are: `+` is a
/// space and a real `+` arrives as `%2B`, so `+` must be replaced first.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| format!("its key {raw:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The uploads of a payload that must be delivered directly.
    fn direct(payload: Value) -> Result<Vec<Upload>, EventProblem> {
        match parse(payload)? {
            Delivery::Direct(uploads) => Ok(uploads),
            queued => panic!("not a direct delivery: {queued:?}"),
        }
    }

    fn record(name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T12:00:00.000Z",
            "eventName": name,
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.9"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "layer-zip",
                "bucket": {"name": "artifacts", "ownerIdentity": {"principalId": "X"}, "arn": "arn:aws:s3:::artifacts"},
                "object": {"key": key, "size": 10, "eTag": "0123", "sequencer": "0A1B"}
            }
        })
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("my+app/layer.zip"),
            Ok("my app/layer.zip".into())
        );
        assert_eq!(decode_key("a%2Bb/layer.zip"), Ok("a+b/layer.zip".into()));
        assert_eq!(
            decode_key("caf%C3%A9/layer.zip"),
            Ok("café/layer.zip".into())
        );
        assert!(decode_key("bad%FF/layer.zip").is_err());
    }

    #[test]
    fn keys_up_to_s3s_limit_are_accepted() {
        let longest = format!("{}/layer.zip", "k".repeat(MAX_KEY_BYTES - 10));
        let uploads = direct(json!({"Records": [record("ObjectCreated:Put", &longest)]})).unwrap();
        assert_eq!(uploads[0].key.len(), MAX_KEY_BYTES);
        let too_long = format!("k{longest}");
        let error = direct(json!({"Records": [record("ObjectCreated:Put", &too_long)]}));
        assert_eq!(
            error,
            Err(EventProblem(
                "record 0: its key is 1025 bytes long; S3 keys are at most 1024".into()
            ))
        );
    }

    #[test]
    fn a_built_notification_parses_back() {
        let key = "projects/my app/a+b/café/layer.zip";
        let event = object_created("eu-west-1", "bkt", key, Some("e1"), Some("v1"), 42);
        assert_eq!(
            event["Records"][0]["s3"]["object"]["key"],
            "projects/my+app/a%2Bb/caf%C3%A9/layer.zip"
        );
        let uploads = direct(event).unwrap();
        assert_eq!(
            uploads,
            vec![Upload {
                event_name: "ObjectCreated:Put".into(),
                bucket: "bkt".into(),
                key: key.into(),
                version_id: Some("v1".into()),
                etag: Some("e1".into()),
            }]
        );
    }

    #[test]
    fn every_record_is_returned_in_order() {
        let uploads = direct(json!({"Records": [
            record("ObjectCreated:Put", "a/layer.zip"),
            record("ObjectRemoved:Delete", "b+c/layer.zip"),
        ]}))
        .unwrap();
        assert_eq!(uploads.len(), 2);
        assert_eq!(uploads[0].key, "a/layer.zip");
        assert!(uploads[0].is_object_created());
        assert_eq!(uploads[1].key, "b c/layer.zip");
        assert!(!uploads[1].is_object_created());
        assert_eq!(uploads[0].etag.as_deref(), Some("0123"));
        assert_eq!(uploads[0].version_id, None);
    }

    #[test]
    fn version_null_means_unversioned() {
        let mut r = record("ObjectCreated:Put", "a/layer.zip");
        r["s3"]["object"]["versionId"] = json!("null");
        assert_eq!(
            direct(json!({"Records": [r.clone()]})).unwrap()[0].version_id,
            None
        );
        r["s3"]["object"]["versionId"] = json!("3HL4kqtJlcpXroDTDmJ");
        assert_eq!(
            direct(json!({"Records": [r]})).unwrap()[0]
                .version_id
                .as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ")
        );
    }

    #[test]
    fn the_sample_events_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let delivery = parse(serde_json::from_str(&text).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The scheduled sweep carries no upload; every other sample does.
            let sweep = path.ends_with("scheduled-sweep.json");
            assert_eq!(delivery == Delivery::Sweep, sweep, "{}", path.display());
            assert_eq!(delivery.uploads().is_empty(), sweep, "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 4, "the samples are in events/");
        let spaced = std::fs::read_to_string(format!("{dir}/put-layer-zip-key-with-spaces.json"));
        let uploads = direct(serde_json::from_str(&spaced.unwrap()).unwrap()).unwrap();
        assert_eq!(uploads[0].key, "projects/my app/lambda/layer/layer.zip");
    }

    /// moto's notifications (and any sender's) may leave out what the
    /// function does not read: the request fields, the user identity.
    #[test]
    fn a_notification_with_only_what_the_function_reads_is_enough() {
        let mut minimal = record("ObjectCreated:Put", "a/layer.zip");
        for field in [
            "userIdentity",
            "requestParameters",
            "responseElements",
            "eventTime",
        ] {
            minimal.as_object_mut().unwrap().remove(field);
        }
        let uploads = direct(json!({"Records": [minimal]})).unwrap();
        assert_eq!(uploads[0].key, "a/layer.zip");
    }

    #[test]
    fn an_eventbridge_object_created_event_is_one_upload_with_its_key_as_is() {
        let mut event: Value =
            serde_json::from_str(include_str!("../../events/eventbridge-object-created.json"))
                .unwrap();
        assert_eq!(
            direct(event.clone()).unwrap(),
            vec![Upload {
                event_name: "ObjectCreated:Put".into(),
                bucket: "layer-artifacts".into(),
                key: "projects/my-app/lambda/layer/layer.zip".into(),
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".into()),
                etag: Some("9b2cf535f27731c974343645a3985328".into()),
            }]
        );
        // Not URL-encoded: `+` and `%` are themselves.
        event["detail"]["object"]["key"] = json!("a+b c%20/layer.zip");
        event["detail"]["reason"] = json!("CompleteMultipartUpload");
        let upload = &direct(event.clone()).unwrap()[0];
        assert_eq!(upload.key, "a+b c%20/layer.zip");
        assert_eq!(upload.event_name, "ObjectCreated:CompleteMultipartUpload");
        // moto spells it `eTag`; an unversioned bucket has no version.
        let object = event["detail"]["object"].as_object_mut().unwrap();
        object.remove("version-id");
        let etag = object.remove("etag").unwrap();
        object.insert("eTag".into(), etag);
        let upload = &direct(event.clone()).unwrap()[0];
        assert_eq!(
            upload.etag.as_deref(),
            Some("9b2cf535f27731c974343645a3985328")
        );
        assert_eq!(upload.version_id, None);

        event["detail-type"] = json!("Object Deleted");
        assert!(!direct(event).unwrap()[0].is_object_created());
    }

    #[test]
    fn eventbridge_events_not_about_an_s3_object_are_refused() {
        let event: Value =
            serde_json::from_str(include_str!("../../events/eventbridge-object-created.json"))
                .unwrap();
        let mut other_source = event.clone();
        other_source["source"] = json!("aws.ec2");
        let mut no_object = event.clone();
        no_object["detail"]
            .as_object_mut()
            .unwrap()
            .remove("object");
        let mut empty_key = event.clone();
        empty_key["detail"]["object"]["key"] = json!("");
        let mut long_key = event;
        long_key["detail"]["object"]["key"] = json!("k".repeat(MAX_KEY_BYTES + 1));
        for (payload, why) in [
            (other_source, "not from S3"),
            (no_object, "not one S3 sends for an object"),
            (empty_key, "its key is empty"),
            (long_key, "S3 keys are at most 1024"),
        ] {
            let problem = parse(payload).unwrap_err();
            assert!(problem.0.contains(why), "{problem}");
        }
    }

    #[test]
    fn an_sqs_batch_is_read_message_by_message() {
        let mut batch: Value =
            serde_json::from_str(include_str!("../../events/sqs-s3-notifications.json")).unwrap();
        let Delivery::Queue(messages) = parse(batch.clone()).unwrap() else {
            panic!("an SQS batch is queued");
        };
        // S3's test message reports nothing; the notification its upload.
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].message_id,
            "2e1424d4-f796-459a-8184-9c92662be6da"
        );
        assert_eq!(messages[0].uploads, Ok(Vec::new()));
        let uploads = messages[1].uploads.as_ref().unwrap();
        assert_eq!(uploads[0].key, "projects/my-app/lambda/layer/layer.zip");

        // One unreadable body fails that message only; an EventBridge event
        // (a rule with the queue as target) is read too.
        let bridge = include_str!("../../events/eventbridge-object-created.json");
        batch["Records"][0]["body"] = json!("not JSON");
        batch["Records"][1]["body"] = json!(bridge);
        let Delivery::Queue(messages) = parse(batch.clone()).unwrap() else {
            panic!("an SQS batch is queued");
        };
        let problem = messages[0].uploads.clone().unwrap_err();
        assert!(problem.0.starts_with("its body is not JSON"), "{problem}");
        assert_eq!(messages[1].uploads.as_ref().map(Vec::len), Ok(1));

        // A batch whose messages cannot be named fails as a whole.
        batch["Records"][1]
            .as_object_mut()
            .unwrap()
            .remove("messageId");
        assert!(parse(batch).unwrap_err().0.contains("messageId"));
    }

    #[test]
    fn json_text_nested_past_serde_jsons_limit_is_refused_not_an_error_of_its_own() {
        let deep = format!("{}1{}", r#"{"Records":["#.repeat(500), "]}".repeat(500));
        assert!(
            serde_json::from_str::<Value>(&deep).is_err(),
            "past the limit"
        );
        let problem = parse_json(&deep).unwrap_err();
        assert!(
            problem.0.starts_with("it is not an S3 event notification"),
            "{problem}"
        );
        let sample = include_str!("../../events/put-layer-zip.json");
        assert_eq!(parse_json(sample).map(|d| d.uploads().len()), Ok(1));
    }

    #[test]
    fn payloads_that_are_not_s3_events_are_refused() {
        let mut no_s3 = record("ObjectCreated:Put", "a/layer.zip");
        no_s3.as_object_mut().unwrap().remove("s3");
        let mut no_bucket = record("ObjectCreated:Put", "a/layer.zip");
        no_bucket["s3"]["bucket"] = json!({});
        let mut no_name = record("ObjectCreated:Put", "a/layer.zip");
        no_name.as_object_mut().unwrap().remove("eventName");
        for payload in [
            json!({}),
            json!({"Records": []}),
            json!({"Records": "nope"}),
            json!({"Records": [1]}),
            json!({"Records": [no_s3]}),
            json!({"Records": [no_bucket]}),
            json!({"Records": [no_name]}),
            json!({"Records": [record("ObjectCreated:Put", "")]}),
            json!({"Records": [record("ObjectCreated:Put", "%FF/layer.zip")]}),
            json!({"Records": [record("ObjectCreated:Put", &"%C3%A9".repeat(513))]}),
            json!([1, 2]),
            json!("hello"),
            json!(null),
        ] {
            assert!(direct(payload.clone()).is_err(), "{payload} accepted");
        }
    }
}
