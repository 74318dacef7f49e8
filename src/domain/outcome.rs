//! What the function answers for each record, and what it keeps in a
//! version's `deployment.json`.

use crate::domain::event::Upload;
use serde::{Deserialize, Serialize};

/// What happened to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    Published,
    Unchanged,
    Ignored,
    Superseded,
    /// A dry run (`DRY_RUN=true`) found that this upload would publish.
    #[serde(rename = "would_publish")]
    WouldPublish,
}

impl OutcomeKind {
    /// The name used in the JSON result and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Unchanged => "unchanged",
            Self::Ignored => "ignored",
            Self::Superseded => "superseded",
            Self::WouldPublish => "would_publish",
        }
    }
}

/// The result of one record, as returned and logged (and, for a published
/// version, kept in its `deployment.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub outcome: OutcomeKind,
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_version_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_md5: Option<String>,
    /// Where the version's lock file is kept; absent when it could not be
    /// kept (no staged lock file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sha256: Option<String>,
    /// What a version this record published declares: its runtimes,
    /// architectures and licence (`compatible_runtimes`, ...).
    #[serde(flatten, default)]
    pub declared: crate::domain::declared::Declared,
    /// Why a record was ignored or superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Versions retention (`KEEP_VERSIONS`) deleted after this publish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_versions: Vec<i64>,
    /// A dry run (`would_publish`): the versions retention would delete
    /// after the publish, oldest first, and their ARNs in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub would_delete_versions: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub would_delete_arns: Vec<String>,
    /// What happened to each function of `FOLLOWERS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<FollowerResult>,
    /// The version in each region of `REPLICATE_TO`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
}

impl Outcome {
    /// A record that publishes nothing, for `reason`.
    pub fn skipped(kind: OutcomeKind, upload: &Upload, reason: impl Into<String>) -> Self {
        Self {
            outcome: kind,
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            layer_name: None,
            layer_version: None,
            layer_version_arn: None,
            manifest_md5: None,
            manifest_key: None,
            code_sha256: None,
            declared: Default::default(),
            reason: Some(reason.into()),
            deleted_versions: Vec::new(),
            would_delete_versions: Vec::new(),
            would_delete_arns: Vec::new(),
            followers: Vec::new(),
            replicas: Vec::new(),
        }
    }
}

/// `{NNNNNN}/deployment.json`: the outcome of the publish, plus when and
/// from which object version it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The version's creation time, as Lambda reports it.
    pub published_at: String,
    pub source_version_id: Option<String>,
    pub source_etag: Option<String>,
}

/// `{NNNNNN}/deployment.json` of a version found without one: published by
/// another tool (the seed), or by this function before a crash lost the
/// record. It says what is known of the version and when it was adopted,
/// and names no source object: the upload at hand may never have been what
/// Lambda took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adopted {
    /// Always `adopted`.
    pub outcome: String,
    pub layer_name: String,
    pub layer_version: i64,
    pub layer_version_arn: String,
    /// The version's description (this function's marker, or another
    /// tool's text).
    pub description: String,
    /// The lock file MD5 the version is known by.
    pub manifest_md5: String,
    /// Where the version's lock file is kept, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sha256: Option<String>,
    /// What the version declares, as Lambda reports it.
    #[serde(flatten, default)]
    pub declared: crate::domain::declared::Declared,
    /// The version's creation time, as Lambda reports it.
    pub published_at: String,
    /// When this function wrote the record.
    pub adopted_at: String,
    /// The version in each region of `REPLICATE_TO`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
}

impl Adopted {
    pub const OUTCOME: &'static str = "adopted";

    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(self)
    }
}

impl Deployment {
    /// The record's bytes: pretty JSON. Its fields are strings, numbers and
    /// options, which always serialise; a failure would be a bug, and is
    /// returned as such rather than writing an empty record.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(self)
    }
}

/// What happened to one follower, in the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FollowerResult {
    pub function: String,
    /// `moved`, `up_to_date`, `not_using`, `busy` (another update kept it
    /// busy for the whole wait) or `failed`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FollowerResult {
    /// Whether a redelivery has something left to do for it.
    pub fn unfinished(&self) -> bool {
        matches!(self.result.as_str(), "busy" | "failed")
    }
}

/// What happened in one region, kept in the outcome and `deployment.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub region: String,
    /// `published`, or `unchanged`: the region's latest version already
    /// had this lock file (a redelivery after a partial failure).
    pub outcome: String,
    pub layer_version: i64,
    pub layer_version_arn: String,
    /// Versions retention (`KEEP_VERSIONS`) deleted in that region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_versions: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_outcome_names_are_the_json_ones() {
        for kind in [
            OutcomeKind::Published,
            OutcomeKind::Unchanged,
            OutcomeKind::Ignored,
            OutcomeKind::Superseded,
            OutcomeKind::WouldPublish,
        ] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::from(kind.as_str()));
        }
    }
}
