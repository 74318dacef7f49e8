//! What became of one upload, for CI to read: a small JSON receipt at a key
//! derived from the upload itself, in its layer's folder, written for every
//! record the function settles and for every failed attempt.
//!
//! The key is `{folder}/.receipts/{id}.json`, `id` being `v-{version id}`
//! in a versioned bucket, else `e-{ETag}`: the uploader knows it from its own
//! `PutObject`'s answer, before any event. `.receipts/` sorts before the
//! version folders (`000001/`…), so the one listing an event makes of the
//! folder, which starts after the latest version's folder, never reads them;
//! and no key there ends in `/layer.zip`, so a receipt triggers nothing.

use crate::domain::dates;
use crate::domain::event::Upload;
use crate::domain::layout::LayerDir;
use crate::domain::outcome::{Outcome, OutcomeKind};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// The folder of a layer's receipts, under the layer's folder.
pub const RECEIPTS_FOLDER: &str = ".receipts";

/// The tag a receipt is written with, which the bucket's lifecycle rule
/// expires receipts by (a rule cannot match a folder in the middle of keys).
pub const RECEIPT_TAG: (&str, &str) = ("layer-autopublish", "receipt");

/// How many times Lambda runs a failed asynchronous event: the first
/// attempt and the template's `MaximumRetryAttempts: 2`.
pub const ATTEMPTS: u32 = 3;

/// How long after its upload a zip without a receipt is left to its event
/// (its delivery, and the invocation's own time) before a sweep settles it.
pub const EVENT_GRACE: Duration = Duration::from_secs(10 * 60);

/// How long after a failed attempt Lambda's next one may still come (about
/// a minute, then two; with the invocation's own time).
pub const RETRY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Whether an `errorType` refuses the upload itself, so that every retry
/// fails the same way; not AWS trouble (`…Error` but `InternalError`,
/// `PublishUnconfirmed`, `Throttled`, `MultipleErrors`), nor a busy layer
/// (`PublishInProgress`).
pub fn is_refusal(error_type: &str) -> bool {
    let aws = error_type.ends_with("Error") && error_type != "InternalError";
    !aws && !matches!(
        error_type,
        "PublishInProgress" | "PublishUnconfirmed" | "Throttled" | "MultipleErrors"
    )
}

/// What a sweep does with an upload, by its receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepVerdict {
    /// Published, unchanged, superseded or ignored: nothing to do.
    Settled,
    /// Refused for good: only a new upload can change that.
    Refused,
    /// Its event, or Lambda's retry, may still come.
    Waiting,
    /// No event settled it: the sweep does, as an event would.
    Settle,
}

/// What a sweep does with an upload made at `uploaded` whose receipt is
/// `receipt`, at `now`.
pub fn sweep_verdict(
    receipt: Option<&Receipt>, uploaded: Option<SystemTime>, now: SystemTime,
) -> SweepVerdict {
    let older_than = |at: Option<SystemTime>, wait: Duration| {
        at.and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age >= wait)
    };
    match receipt {
        None if older_than(uploaded, EVENT_GRACE) => SweepVerdict::Settle,
        None => SweepVerdict::Waiting,
        Some(r) if r.outcome != "failed" => SweepVerdict::Settled,
        Some(r) if r.error_type.as_deref().is_some_and(is_refusal) => SweepVerdict::Refused,
        Some(r) if r.will_retry == Some(true) && !older_than(dates::parse(&r.at), RETRY_WINDOW) => {
            SweepVerdict::Waiting
        }
        Some(_) => SweepVerdict::Settle,
    }
}

/// One receipt, as written (and read back by `layerctl upload --wait`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// `published`, `unchanged`, `superseded`, `ignored`, `would_publish`, or
    /// `failed`.
    pub outcome: String,
    /// The upload, `s3://bucket/key`.
    pub upload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_name: Option<String>,
    /// Published: the new version; unchanged: the version it matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_version_arn: Option<String>,
    /// Why it was skipped, or what failed and how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A failure's stable `errorType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// A failure only: which attempt of this event (1 to [`ATTEMPTS`]). A
    /// settled record's receipt names none: counting would mean reading the
    /// receipt it replaces, a call on every record's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A failure only: whether Lambda runs the event again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_retry: Option<bool>,
    /// When it was written (RFC 3339).
    pub at: String,
    /// The invocation's request id (the same for Lambda's retries of one event).
    pub request_id: String,
}

/// Where the receipt of `upload` goes: `None` for anything but a
/// `…/layer.zip`, or an upload the event names neither a version nor an
/// ETag of.
pub fn receipt_key(upload: &Upload) -> Option<String> {
    let dir = LayerDir::of_zip_key(&upload.bucket, &upload.key)?;
    let id = match (&upload.version_id, &upload.etag) {
        (Some(version), _) if !version.is_empty() && version != "null" => {
            format!("v-{}", key_safe(version))
        }
        (_, Some(etag)) if !etag.is_empty() => format!("e-{}", key_safe(etag)),
        _ => return None,
    };
    Some(format!("{}{RECEIPTS_FOLDER}/{id}.json", dir.prefix()))
}

/// Whether `key` (or an `s3://` URI) is a receipt's: its folder is the
/// receipts' folder.
pub fn is_receipt_key(key: &str) -> bool {
    key.rsplit('/').nth(1) == Some(RECEIPTS_FOLDER)
}

/// Version ids and ETags are letters, digits, `.`, `_` and `-`; anything
/// else becomes `_`, so that an id can never leave the receipts' folder.
fn key_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Which attempt this is: the one after `previous` when it was this event's
/// (Lambda keeps an event's request id across its retries), else the first.
pub fn attempt_after(previous: Option<&Receipt>, request_id: &str) -> u32 {
    match previous {
        Some(p)
            if !request_id.is_empty() && p.request_id == request_id && p.outcome == "failed" =>
        {
            p.attempt.unwrap_or(1).saturating_add(1)
        }
        _ => 1,
    }
}

impl Receipt {
    /// A settled record's receipt.
    pub fn settled(outcome: &Outcome, at: String, request_id: &str) -> Self {
        Self {
            outcome: outcome.outcome.as_str().to_owned(),
            upload: format!("s3://{}/{}", outcome.bucket, outcome.key),
            layer_name: outcome.layer_name.clone(),
            layer_version: outcome.layer_version,
            layer_version_arn: outcome.layer_version_arn.clone(),
            message: match outcome.outcome {
                OutcomeKind::Published | OutcomeKind::Unchanged => None,
                _ => outcome.reason.clone(),
            },
            error_type: None,
            attempt: None,
            will_retry: None,
            at,
            request_id: request_id.to_owned(),
        }
    }

    /// A failed attempt's receipt: Lambda runs the event again until its
    /// last attempt. `retried` is false where nothing retries (a local run,
    /// a sweep).
    pub fn failed(
        upload: &Upload, error_type: &str, message: String, attempt: u32, retried: bool,
        at: String, request_id: &str,
    ) -> Self {
        Self {
            outcome: "failed".to_owned(),
            upload: upload.s3_uri(),
            layer_name: None,
            layer_version: None,
            layer_version_arn: None,
            message: Some(message),
            error_type: Some(error_type.to_owned()),
            attempt: Some(attempt),
            will_retry: Some(retried && attempt < ATTEMPTS),
            at,
            request_id: request_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_settles_only_what_no_event_will() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ago = |minutes: u64| Some(now - Duration::from_secs(minutes * 60));
        let receipt =
            |outcome: &str, error_type: Option<&str>, will_retry, minutes_ago: u64| Receipt {
                outcome: outcome.into(),
                upload: "s3://b/p/layer.zip".into(),
                layer_name: None,
                layer_version: None,
                layer_version_arn: None,
                message: None,
                error_type: error_type.map(str::to_owned),
                attempt: Some(1),
                will_retry,
                at: dates::format(now - Duration::from_secs(minutes_ago * 60)),
                request_id: "r".into(),
            };
        use SweepVerdict::*;
        assert_eq!(
            sweep_verdict(None, ago(1), now),
            Waiting,
            "its event may come"
        );
        assert_eq!(sweep_verdict(None, ago(11), now), Settle, "no event came");
        assert_eq!(sweep_verdict(None, None, now), Waiting);
        for settled in ["published", "unchanged", "superseded", "ignored"] {
            assert_eq!(
                sweep_verdict(Some(&receipt(settled, None, None, 60)), ago(61), now),
                Settled
            );
        }
        let refused = receipt("failed", Some("MissingManifestMd5"), Some(true), 1);
        assert_eq!(sweep_verdict(Some(&refused), ago(2), now), Refused);
        let retrying = receipt("failed", Some("S3Error"), Some(true), 1);
        assert_eq!(sweep_verdict(Some(&retrying), ago(2), now), Waiting);
        let stale = receipt("failed", Some("S3Error"), Some(true), 30);
        assert_eq!(sweep_verdict(Some(&stale), ago(31), now), Settle);
        let gave_up = receipt("failed", Some("LambdaError"), Some(false), 1);
        assert_eq!(sweep_verdict(Some(&gave_up), ago(5), now), Settle);
        let busy = receipt("failed", Some("PublishInProgress"), Some(false), 1);
        assert_eq!(sweep_verdict(Some(&busy), ago(5), now), Settle);
    }

    #[test]
    fn refusals_are_the_uploads_own_problems() {
        for refusal in [
            "MissingManifestMd5",
            "LayerNotAllowed",
            "LayerIncompatible",
            "InternalError",
        ] {
            assert!(is_refusal(refusal), "{refusal}");
        }
        for trouble in [
            "S3Error",
            "LambdaError",
            "PublishInProgress",
            "Throttled",
            "PublishUnconfirmed",
        ] {
            assert!(!is_refusal(trouble), "{trouble}");
        }
    }

    fn upload(key: &str, version_id: Option<&str>, etag: Option<&str>) -> Upload {
        Upload {
            event_name: "ObjectCreated:Put".into(),
            bucket: "b".into(),
            key: key.into(),
            version_id: version_id.map(str::to_owned),
            etag: etag.map(str::to_owned),
        }
    }

    #[test]
    fn the_key_comes_from_the_upload_and_stays_in_its_folder() {
        let key = |k, v, e| receipt_key(&upload(k, v, e));
        assert_eq!(
            key(
                "p/app/layer.zip",
                Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
                Some("abc")
            ),
            Some("p/app/.receipts/v-3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY.json".into())
        );
        assert_eq!(
            key(
                "p/app/layer.zip",
                None,
                Some("d41d8cd98f00b204e9800998ecf8427e-3")
            ),
            Some("p/app/.receipts/e-d41d8cd98f00b204e9800998ecf8427e-3.json".into())
        );
        // An unversioned bucket's events say "null" for the version.
        assert_eq!(
            key("layer.zip", Some("null"), Some("abc")),
            Some(".receipts/e-abc.json".into())
        );
        assert_eq!(
            key("p/app/layer.zip", Some("../../x/y"), None),
            Some("p/app/.receipts/v-.._.._x_y.json".into())
        );
        assert_eq!(key("p/app/requirements.txt", Some("v"), None), None);
        assert_eq!(key("p/app/layer.zip", None, None), None);
    }

    #[test]
    fn a_receipt_key_is_one_in_a_receipts_folder() {
        let key = receipt_key(&upload("p/app/layer.zip", Some("v"), None)).unwrap_or_default();
        assert!(is_receipt_key(&key));
        assert!(is_receipt_key(&format!("s3://b/{key}")));
        assert!(is_receipt_key(".receipts/e-abc.json"));
        assert!(!is_receipt_key("p/app/layer.zip"));
        assert!(!is_receipt_key("p/x.receipts/e-abc.json"));
        assert!(!is_receipt_key("p/.receipts"));
    }

    #[test]
    fn the_receipts_sort_before_every_version_folder() {
        assert!(format!("{RECEIPTS_FOLDER}/").as_str() < "000001/");
        assert!(!receipt_key(&upload("p/layer.zip", Some("v"), None))
            .unwrap_or_default()
            .ends_with("/layer.zip"));
    }

    #[test]
    fn a_retry_of_the_same_event_counts_on() {
        let failed = |attempt, request_id: &str| {
            Receipt::failed(
                &upload("p/layer.zip", Some("v"), None),
                "S3Error",
                "m".into(),
                attempt,
                true,
                "t".into(),
                request_id,
            )
        };
        assert_eq!(attempt_after(None, "r1"), 1);
        assert_eq!(attempt_after(Some(&failed(1, "r1")), "r1"), 2);
        assert_eq!(attempt_after(Some(&failed(2, "r1")), "r1"), 3);
        // Another event (CI uploaded again, a replay): a first attempt.
        assert_eq!(attempt_after(Some(&failed(2, "r1")), "r2"), 1);
        assert_eq!(attempt_after(Some(&failed(1, "")), ""), 1);
        assert_eq!(failed(2, "r").will_retry, Some(true));
        assert_eq!(failed(3, "r").will_retry, Some(false));
        let local = Receipt::failed(
            &upload("p/layer.zip", None, Some("e")),
            "S3Error",
            "m".into(),
            1,
            false,
            "t".into(),
            "",
        );
        assert_eq!(local.will_retry, Some(false));
    }
}
