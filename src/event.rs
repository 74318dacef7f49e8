//! S3 event notification → the uploaded objects it reports.
//!
//! The handler takes the payload as raw JSON so that a misrouted or malformed
//! payload becomes our own `InvalidEvent` error, named and explained, instead
//! of a generic deserialisation failure.

use crate::layout::UNRESERVED_AND_SLASH;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use percent_encoding::{percent_decode_str, utf8_percent_encode};
use serde_json::Value;

/// S3's limit on the length of a key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// One object reported by one record of an S3 notification.
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
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }

    pub fn s3_uri(&self) -> String {
        crate::layout::s3_uri(&self.bucket, &self.key)
    }

    /// The object the event reported.
    pub fn object(&self) -> crate::ports::ObjectId {
        crate::ports::ObjectId {
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
        }
    }
}

/// Why a payload is not an S3 event notification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventProblem(pub String);

/// Every record of the notification, in order.
pub fn parse(payload: Value) -> Result<Vec<Upload>, EventProblem> {
    uploads(serde_json::from_value(payload))
}

/// [`parse`] from JSON text, as the runtime received it: any text, nested
/// past serde_json's depth limit too, gets an [`EventProblem`].
pub fn parse_json(text: &str) -> Result<Vec<Upload>, EventProblem> {
    uploads(serde_json::from_str(text))
}

fn uploads(event: Result<S3Event, serde_json::Error>) -> Result<Vec<Upload>, EventProblem> {
    let event =
        event.map_err(|e| EventProblem(format!("it is not an S3 event notification ({e})")))?;
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

fn upload_of(record: S3EventRecord) -> Result<Upload, String> {
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
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "its key is {} bytes long; S3 keys are at most {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    Ok(Upload {
        event_name,
        bucket,
        key,
        // Versioning-suspended buckets report the version id "null": the
        // object is overwritten in place, exactly as in an unversioned bucket.
        version_id: object
            .version_id
            .filter(|id| !id.is_empty() && id != "null"),
        etag: object.e_tag.map(|etag| etag.trim_matches('"').to_owned()),
    })
}

/// The notification S3 sends when `key` is created: what `layerctl invoke`
/// hands the handler to publish without the trigger.
pub fn object_created(
    region: &str, bucket: &str, key: &str, etag: Option<&str>, version_id: Option<&str>, size: u64,
) -> S3Event {
    let mut record = S3EventRecord::default();
    record.event_version = Some("2.1".into());
    record.event_source = Some("aws:s3".into());
    record.aws_region = Some(region.into());
    record.event_time = std::time::SystemTime::now().into();
    record.event_name = Some("ObjectCreated:Put".into());
    record.s3.schema_version = Some("1.0".into());
    record.s3.bucket.name = Some(bucket.into());
    record.s3.bucket.arn = Some(format!("arn:aws:s3:::{bucket}"));
    record.s3.object.key = Some(encode_key(key));
    record.s3.object.size = i64::try_from(size).ok();
    record.s3.object.e_tag = etag.map(str::to_owned);
    record.s3.object.version_id = version_id.map(str::to_owned);
    let mut event = S3Event::default();
    event.records.push(record);
    event
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
        let uploads = parse(json!({"Records": [record("ObjectCreated:Put", &longest)]})).unwrap();
        assert_eq!(uploads[0].key.len(), MAX_KEY_BYTES);
        let too_long = format!("k{longest}");
        let error = parse(json!({"Records": [record("ObjectCreated:Put", &too_long)]}));
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
        let event = serde_json::to_value(event).unwrap();
        assert_eq!(
            event["Records"][0]["s3"]["object"]["key"],
            "projects/my+app/a%2Bb/caf%C3%A9/layer.zip"
        );
        let uploads = parse(event).unwrap();
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
        let uploads = parse(json!({"Records": [
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
            parse(json!({"Records": [r.clone()]})).unwrap()[0].version_id,
            None
        );
        r["s3"]["object"]["versionId"] = json!("3HL4kqtJlcpXroDTDmJ");
        assert_eq!(
            parse(json!({"Records": [r]})).unwrap()[0]
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
            let uploads = parse(serde_json::from_str(&text).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!uploads.is_empty());
            seen += 1;
        }
        assert!(seen >= 4, "the samples are in events/");
        let spaced = std::fs::read_to_string(format!("{dir}/put-layer-zip-key-with-spaces.json"));
        let uploads = parse(serde_json::from_str(&spaced.unwrap()).unwrap()).unwrap();
        assert_eq!(uploads[0].key, "projects/my app/lambda/layer/layer.zip");
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
        let sample = include_str!("../events/put-layer-zip.json");
        assert_eq!(parse_json(sample).map(|u| u.len()), Ok(1));
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
            assert!(parse(payload.clone()).is_err(), "{payload} accepted");
        }
    }
}
