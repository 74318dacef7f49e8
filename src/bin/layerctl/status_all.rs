//! `layerctl status --all --s3-dir s3://bucket/prefix/`: every layer folder
//! under the prefix and where its latest upload stands, from the
//! function's receipts (`domain::receipt`), as the sweep reads them: one
//! listing, then per `layer.zip` its HEAD in a versioned bucket and its
//! receipt. For a person; `--json` for a script.

use crate::failure::Failure;
use crate::report::Report;
use futures_util::StreamExt;
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::dates;
use layer_autopublish::domain::layout::LayerDir;
use layer_autopublish::domain::receipt::{sweep_verdict, Receipt, SweepVerdict};
use layer_autopublish::ports::Folder;
use layer_autopublish::publish::sweep::{read_receipt_of, Listing, READS_AT_ONCE};
use serde::Serialize;
use std::time::SystemTime;

/// One layer folder's latest upload.
#[derive(Debug, Serialize)]
struct FolderState {
    folder: String,
    /// `published`, `unchanged`, `superseded`, `refused`, `failed`
    /// (Lambda retries), `gave-up` (every attempt failed: the sweep or a
    /// replay settles it), `pending` (no receipt yet), `recorded` (no
    /// receipt, its lock file the folder's latest: settled before receipts).
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    uploaded: Option<String>,
}

/// A receipt and the time, as one state.
fn state_of(receipt: Option<&Receipt>, uploaded: Option<SystemTime>, now: SystemTime) -> String {
    match (receipt, sweep_verdict(receipt, uploaded, now)) {
        (None, _) => "pending".into(),
        (Some(r), SweepVerdict::Settled) => r.outcome.clone(),
        (Some(_), SweepVerdict::Refused) => "refused".into(),
        (Some(_), SweepVerdict::Waiting) => "failed".into(),
        (Some(_), SweepVerdict::Settle) => "gave-up".into(),
    }
}

pub async fn run(aws: &Aws, report: &Report, s3_dir: &str) -> Result<(), Failure> {
    let root = LayerDir::from_s3_uri(s3_dir).map_err(Failure::Rejected)?;
    let bucket = root.bucket().to_owned();
    let listed = aws.list_after(&bucket, &root.prefix(), None).await?;
    let listing = Listing::of(&listed);
    let mut zips = listing.zips(&bucket);
    // A person reads them by folder.
    zips.sort_by(|a, b| a.key.cmp(&b.key));
    let manifest = crate::defaults::manifest_name();
    let now = SystemTime::now();
    let mut folders = Vec::new();
    let mut reads = futures_util::stream::iter(0..zips.len())
        .map(|i| read_receipt_of(aws, &bucket, zips[i], &listing, &manifest))
        .buffered(READS_AT_ONCE);
    for zip in &zips {
        let Some(found) = reads.next().await.transpose()? else {
            break;
        };
        let Some(found) = found else {
            continue;
        };
        let receipt = found.receipt;
        let dir = zip.key.strip_suffix("layer.zip").unwrap_or(&zip.key);
        folders.push(FolderState {
            folder: format!("s3://{bucket}/{dir}"),
            state: if found.recorded {
                "recorded".into()
            } else {
                state_of(receipt.as_ref(), found.uploaded, now)
            },
            layer_version_arn: receipt.as_ref().and_then(|r| r.layer_version_arn.clone()),
            detail: receipt
                .as_ref()
                .and_then(|r| match (&r.error_type, &r.message) {
                    (Some(error_type), Some(message)) => Some(format!("{error_type}: {message}")),
                    (None, Some(message)) => Some(message.clone()),
                    _ => None,
                }),
            uploaded: zip.last_modified.map(dates::format),
        });
    }
    if folders.is_empty() {
        report.line(format!("no layer.zip under {s3_dir}"));
    }
    for f in &folders {
        report.line(format!(
            "{:<10} {}  {}",
            f.state,
            f.folder,
            f.layer_version_arn
                .as_deref()
                .or(f.detail.as_deref())
                .unwrap_or_else(|| f.uploaded.as_deref().unwrap_or(""))
        ));
    }
    report.result(&folders);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_receipt_reads_as_one_state() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let receipt = |outcome: &str, error_type: Option<&str>, will_retry| Receipt {
            outcome: outcome.into(),
            error_type: error_type.map(str::to_owned),
            will_retry,
            at: dates::format(now),
            ..Receipt::default()
        };
        let uploaded = Some(now);
        assert_eq!(state_of(None, uploaded, now), "pending");
        assert_eq!(
            state_of(Some(&receipt("published", None, None)), uploaded, now),
            "published"
        );
        assert_eq!(
            state_of(
                Some(&receipt("failed", Some("MissingManifestMd5"), Some(true))),
                uploaded,
                now
            ),
            "refused"
        );
        assert_eq!(
            state_of(
                Some(&receipt("failed", Some("S3Error"), Some(true))),
                uploaded,
                now
            ),
            "failed"
        );
        assert_eq!(
            state_of(
                Some(&receipt("failed", Some("S3Error"), Some(false))),
                uploaded,
                now
            ),
            "gave-up"
        );
    }
}
