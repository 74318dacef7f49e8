//! Metrics without a call: one CloudWatch Embedded Metric Format (EMF) line
//! per record on the function's log. CloudWatch Logs turns each into
//! metrics in `METRICS_NAMESPACE` (default `LayerAutopublish`), so alarms and
//! dashboards need no `PutMetricData` right and the record no extra call.
//!
//! Per record: `Records` (a count, 1) dimensioned by `Layer` and `Outcome`
//! (`published`, `unchanged`, `superseded`, `ignored`, `would_publish`, or
//! `failed`), a failed one also by `Layer`, `Outcome` and `ErrorType`; its
//! `RecordDuration`; for a publish, `PublishDuration`: from sending
//! `PublishLayerVersion` until the version was known; and when its calls
//! were throttled, `Throttles` (answers) and `ThrottleWait` (the pauses).

use crate::domain::outcome::Outcome;
use crate::error::Problem;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "LayerAutopublish";

/// The `Layer` of a record that names none (not a layer zip, or refused
/// before its layer was known).
pub const NO_LAYER: &str = "(none)";

/// Where the metric lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsLog {
    /// The function's log: stdout, which Lambda sends to CloudWatch Logs.
    Stdout,
    /// Nowhere (the in-process tests and `layerctl invoke`, whose
    /// output is read by people).
    Off,
}

/// What one record came to, for its metric line.
#[derive(Clone, Debug)]
pub struct RecordMetrics<'a> {
    pub zip: &'a str,
    pub layer: &'a str,
    /// The outcome's name, or `failed`.
    pub outcome: &'a str,
    pub error_type: Option<&'a str>,
    pub took: Duration,
    pub publish_took: Option<Duration>,
    /// Throttled answers the record's calls met, and how long it paused
    /// for them.
    pub throttled: u32,
    pub throttle_wait: Duration,
}

impl<'a> RecordMetrics<'a> {
    /// The metrics of a record's `result`, with the layer it named (else
    /// `default_layer`).
    pub fn of(
        zip: &'a str, result: &'a Result<Outcome, Problem>, layer: Option<&'a str>,
        default_layer: Option<&'a str>, took: Duration, publish_took: Option<Duration>,
    ) -> Self {
        let (outcome, error_type) = match result {
            Ok(outcome) => (outcome.outcome.as_str(), None),
            Err(problem) => ("failed", Some(problem.error_type())),
        };
        Self {
            zip,
            layer: layer.or(default_layer).unwrap_or(NO_LAYER),
            outcome,
            error_type,
            took,
            publish_took,
            throttled: 0,
            throttle_wait: Duration::ZERO,
        }
    }

    /// The same, with the throttles its calls met.
    pub fn throttled(self, throttled: u32, throttle_wait: Duration) -> Self {
        Self {
            throttled,
            throttle_wait,
            ..self
        }
    }
}

/// The `_aws` member of an EMF line: when, and which of its fields are
/// metrics of `namespace`, under which `dimensions`.
fn directive(
    namespace: &str, at: SystemTime, dimensions: Vec<Value>, metrics: Vec<Value>,
) -> Value {
    let timestamp = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": namespace,
            "Dimensions": dimensions,
            "Metrics": metrics,
        }],
    })
}

/// One EMF line (JSON, no newline) for `record` at `at`.
pub fn line(namespace: &str, at: SystemTime, record: &RecordMetrics<'_>) -> String {
    let mut dimensions = vec![json!(["Layer", "Outcome"])];
    if record.error_type.is_some() {
        dimensions.push(json!(["Layer", "Outcome", "ErrorType"]));
    }
    let mut metrics = vec![
        json!({"Name": "Records", "Unit": "Count"}),
        json!({"Name": "RecordDuration", "Unit": "Milliseconds"}),
    ];
    if record.publish_took.is_some() {
        metrics.push(json!({"Name": "PublishDuration", "Unit": "Milliseconds"}));
    }
    if record.throttled > 0 {
        metrics.push(json!({"Name": "Throttles", "Unit": "Count"}));
        metrics.push(json!({"Name": "ThrottleWait", "Unit": "Milliseconds"}));
    }
    let mut line = json!({
        "_aws": directive(namespace, at, dimensions, metrics),
        "Layer": record.layer,
        "Outcome": record.outcome,
        "Records": 1,
        "RecordDuration": millis(record.took),
        "zip": record.zip,
    });
    if let Value::Object(fields) = &mut line {
        if let Some(error_type) = record.error_type {
            fields.insert("ErrorType".into(), error_type.into());
        }
        if let Some(took) = record.publish_took {
            fields.insert("PublishDuration".into(), millis(took).into());
        }
        if record.throttled > 0 {
            fields.insert("Throttles".into(), record.throttled.into());
            fields.insert("ThrottleWait".into(), millis(record.throttle_wait).into());
        }
    }
    line.to_string()
}

/// What a sweep (`publish/sweep.rs`) found and did, as one EMF line:
/// `SweepUploads` (every `layer.zip` under the prefix), `SweepSettled`
/// (settled by this run), `SweepFailed` and `SweepLeft` (left for the next
/// run); each upload it settled also has its own record line.
pub fn sweep_line(
    namespace: &str, at: SystemTime, uploads: usize, settled: usize, failed: usize, left: usize,
) -> String {
    let names = ["SweepUploads", "SweepSettled", "SweepFailed", "SweepLeft"];
    let metrics: Vec<Value> = names
        .iter()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    json!({
        "_aws": directive(namespace, at, vec![json!([])], metrics),
        "SweepUploads": uploads,
        "SweepSettled": settled,
        "SweepFailed": failed,
        "SweepLeft": left,
    })
    .to_string()
}

fn millis(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

impl MetricsLog {
    /// Writes `line` as one line of the log, in one write so that it never
    /// interleaves with a log line. A log that cannot be written loses the
    /// metric, never the record.
    pub fn write(self, line: &str) {
        if self == Self::Off {
            return;
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let _ignored = std::io::stdout().lock().write_all(&bytes);
    }
}

/// Whether `namespace` is one CloudWatch takes: 1 to 255 characters of
/// letters, digits and `.-_/#: `, not starting with `AWS/` (AWS's own).
pub fn validate_namespace(namespace: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if namespace.is_empty() || namespace.chars().count() > 255 {
        return Err("a CloudWatch namespace is 1 to 255 characters".into());
    }
    if let Some(bad) = namespace.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{bad:?} is not allowed: use letters, digits and . - _ / # : or spaces"
        ));
    }
    if namespace.starts_with("AWS/") {
        return Err("namespaces starting with AWS/ are AWS's own".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_counts_what_it_found_settled_failed_and_left() {
        let parsed: Value =
            serde_json::from_str(&sweep_line("Ns", UNIX_EPOCH, 500, 2, 1, 3)).unwrap();
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(directive["Metrics"].as_array().map(Vec::len), Some(4));
        assert_eq!(
            (
                &parsed["SweepUploads"],
                &parsed["SweepSettled"],
                &parsed["SweepFailed"],
                &parsed["SweepLeft"]
            ),
            (&json!(500), &json!(2), &json!(1), &json!(3))
        );
    }

    #[test]
    fn a_failed_record_is_counted_by_outcome_and_by_error_type() {
        let record = RecordMetrics {
            zip: "s3://b/app/layer.zip",
            layer: "deps",
            outcome: "failed",
            error_type: Some("S3Error"),
            took: Duration::from_millis(1500),
            publish_took: None,
            throttled: 0,
            throttle_wait: Duration::ZERO,
        };
        let at = UNIX_EPOCH + Duration::from_millis(1_795_435_200_123);
        let parsed: Value = serde_json::from_str(&line("Ns", at, &record)).unwrap();
        assert_eq!(parsed["_aws"]["Timestamp"], 1_795_435_200_123_u64);
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(
            directive["Dimensions"],
            json!([["Layer", "Outcome"], ["Layer", "Outcome", "ErrorType"]])
        );
        assert_eq!(parsed["ErrorType"], "S3Error");
        assert_eq!(parsed["RecordDuration"], 1500.0);
        assert!(parsed.get("PublishDuration").is_none());
        assert!(parsed.get("Throttles").is_none(), "only when throttled");
    }

    #[test]
    fn a_throttled_record_counts_its_throttles_and_their_pauses() {
        let result = Err(Problem::Internal("x".into()));
        let record = RecordMetrics::of(
            "s3://b/layer.zip",
            &result,
            Some("deps"),
            None,
            Duration::ZERO,
            None,
        )
        .throttled(7, Duration::from_millis(9250));
        let parsed: Value = serde_json::from_str(&line("Ns", UNIX_EPOCH, &record)).unwrap();
        let names: Vec<&Value> = parsed["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["Name"])
            .collect();
        assert!(names.contains(&&json!("Throttles")) && names.contains(&&json!("ThrottleWait")));
        assert_eq!(parsed["Throttles"], 7);
        assert_eq!(parsed["ThrottleWait"], 9250.0);
    }

    #[test]
    fn namespaces_are_checked_as_cloudwatch_does() {
        assert!(validate_namespace(DEFAULT_NAMESPACE).is_ok());
        assert!(validate_namespace("Team/Layers: prod").is_ok());
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("AWS/Lambda").is_err());
        assert!(validate_namespace("bad{ns}").is_err());
        assert!(validate_namespace(&"n".repeat(256)).is_err());
    }
}
