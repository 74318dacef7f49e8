//! Property tests (fuzzing with shrinking) of what untrusted input reaches:
//! the event parser and the metadata rules. A failure proptest finds is
//! saved in `tests/checks/properties.proptest-regressions`: commit that file, and
//! every later run replays it first.
//! `PROPTEST_CASES` sets how many cases each property tries (256 by default).

use layer_autopublish::domain::event::{self, MAX_KEY_BYTES};
use layer_autopublish::domain::layout::{LayerDir, ZIP_FILE_NAME};
use layer_autopublish::domain::metadata;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Any JSON value, nested a few levels, with S3-event-like names among
/// the keys so that the parser gets past its first checks.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    let name = prop_oneof![
        Just("Records".to_owned()),
        Just("s3".to_owned()),
        Just("object".to_owned()),
        Just("bucket".to_owned()),
        Just("key".to_owned()),
        Just("name".to_owned()),
        Just("eventName".to_owned()),
        Just("versionId".to_owned()),
        Just("eTag".to_owned()),
        "[a-zA-Z]{1,10}",
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map(name.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A well-formed notification for `raw_key` (as S3 would encode it or not).
fn notification(event_name: &str, raw_key: &str) -> Value {
    let mut event = crate::common::sample("put-layer-zip.json");
    event["Records"][0]["eventName"] = Value::from(event_name);
    event["Records"][0]["s3"]["object"]["key"] = Value::from(raw_key);
    event
}

fn any_metadata() -> impl Strategy<Value = HashMap<String, String>> {
    let key = prop_oneof![
        Just("manifest-md5".to_owned()),
        Just("manifest_md5".to_owned()),
        Just("manifest-name".to_owned()),
        Just("layer-name".to_owned()),
        "[a-z_-]{1,12}",
    ];
    prop::collection::hash_map(key, ".{0,300}", 0..5)
}

proptest! {
    #[test]
    fn any_json_is_parsed_or_refused_never_a_panic(payload in any_json()) {
        let _ = event::parse(payload);
    }

    #[test]
    fn any_record_with_a_key_is_parsed_or_refused(
        event_name in "(ObjectCreated|ObjectRemoved):[A-Za-z]{0,12}",
        raw_key in "[\\PC%+]{0,80}",
        record_count in 1usize..4,
    ) {
        let record = notification(&event_name, &raw_key)["Records"][0].clone();
        let payload = json!({"Records": vec![record; record_count]});
        if let Ok(delivery) = event::parse(payload) {
            let uploads = delivery.uploads();
            prop_assert_eq!(uploads.len(), record_count);
            for upload in uploads {
                prop_assert!(!upload.key.is_empty() && upload.key.len() <= MAX_KEY_BYTES);
                prop_assert_eq!(&upload.event_name, &event_name);
            }
        }
    }

    #[test]
    fn every_key_s3_can_send_decodes_to_itself(key in "\\PC{1,300}") {
        let delivery = event::parse(notification("ObjectCreated:Put", &crate::common::encode_key(&key)));
        if key.len() <= MAX_KEY_BYTES {
            let delivery = delivery.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&delivery.uploads()[0].key, &key);
        } else {
            prop_assert!(delivery.is_err());
        }
    }

    #[test]
    fn any_metadata_is_read_or_refused_never_a_panic(metadata in any_metadata()) {
        let _ = metadata::manifest_md5(&metadata);
        let _ = metadata::manifest_name(&metadata, "requirements.txt");
        let _ = metadata::layer_name(&metadata, Some("deps"));
    }

    /// Whatever lock file name is accepted, every key derived from it stays
    /// in the zip's folder and is neither the zip, the trigger's suffix, the
    /// copy Lambda takes nor a deployment record.
    #[test]
    fn accepted_lock_file_names_stay_in_the_folder_and_off_the_trigger(
        name in prop_oneof!["\\PC{1,40}", "[./\\\\a-z]{1,12}", ".{0,8}(layer\\.zip|\\.\\.|/)"],
        dir in "[a-z0-9/ ]{0,30}[a-z0-9]",
        version in 1i64..1_000_000,
    ) {
        if metadata::validate_manifest_name(&name).is_err() {
            return Ok(()); // refused: nothing is written under it
        }
        prop_assert!(!name.contains('/') && !name.contains('\\') && !name.contains(".."));
        let folder = LayerDir::of_zip_key("bucket", &format!("{dir}/{ZIP_FILE_NAME}"))
            .expect("a layer.zip key");
        let written = [
            folder.staged_manifest_key(&name),
            folder.version_manifest_key(version, &name),
            folder.last_manifest_key(&name),
        ];
        for key in written {
            prop_assert!(key.starts_with(&format!("{dir}/")), "{key}");
            prop_assert!(!key.ends_with(ZIP_FILE_NAME), "{key}");
            prop_assert_ne!(&key, &folder.publish_source_key());
            prop_assert_ne!(&key, &folder.deployment_key(version));
        }
    }

    /// Accepted layer names are what Lambda accepts: a name, or a layer ARN.
    #[test]
    fn accepted_layer_names_are_lambdas(name in prop_oneof![
        "\\PC{0,20}",
        "[a-zA-Z0-9_-]{1,150}",
        "arn:aws[a-z-]{0,4}:lambda:[a-z0-9-]{1,15}:[0-9]{10,13}:layer:[a-zA-Z0-9_:-]{1,20}",
    ]) {
        let plain = |s: &str| !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let accepted = metadata::validate_layer_name(&name).is_ok();
        let arn_shaped = name.split(':').count() == 7
            && name.starts_with("arn:aws")
            && name.split(':').nth(4).is_some_and(|a| a.len() == 12)
            && name.split(':').nth(6).is_some_and(plain);
        prop_assert_eq!(
            accepted,
            name.chars().count() <= 140 && (plain(&name) || arn_shaped),
            "{}", name
        );
    }
}
