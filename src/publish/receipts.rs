//! Writing each upload's receipt (`domain::receipt`) once its record is
//! settled or has failed: after the record, so that it never holds the
//! record up, and whatever happens to it, the record's answer stays what it
//! was (a receipt that cannot be written is a warning in the log).
//!
//! What it costs: one `PutObject` for a settled record; a failure first reads
//! the receipt it replaces (one `GetObject` of a few hundred bytes), to count
//! the attempt.

use super::Publisher;
use crate::domain::dates;
use crate::domain::event::Upload;
use crate::domain::receipt::{attempt_after, receipt_key, Receipt};
use crate::error::AwsError;
use crate::error::RecordError;
use crate::ports::{Clock, Folder, Ports, SmallObject};
use crate::Outcome;
use tracing::warn;

/// A receipt is a few hundred bytes; a larger object there is not one.
const MAX_RECEIPT_BYTES: u64 = 16 * 1024;

/// The receipt at `key`: `None` when there is none, or what is there is
/// not one (too large, not a receipt's JSON). What the function, the sweep
/// and `layerctl upload --wait` read receipts with.
pub async fn read_receipt<F: Folder>(
    aws: &F, bucket: &str, key: &str,
) -> Result<Option<Receipt>, AwsError> {
    Ok(
        match aws.read_small(bucket, key, MAX_RECEIPT_BYTES).await? {
            Some(SmallObject::Read(bytes)) => serde_json::from_slice(&bytes).ok(),
            _ => None,
        },
    )
}

/// Who ran the record, for its receipt.
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    /// Lambda's request id; empty when run locally.
    pub request_id: &'a str,
    /// Whether a failure is run again: by Lambda's retries, or by SQS
    /// delivering a failed message again; false for a local run and a sweep
    /// (the next sweep is not a retry of this one).
    pub retried: bool,
}

impl<A: Ports, C: Clock> Publisher<A, C> {
    /// Writes `upload`'s receipt for `result`, when the upload has one (a
    /// `…/layer.zip` under the configured prefix, with a version or an ETag)
    /// and the run writes at all (not `DRY_RUN`).
    pub async fn write_receipt(
        &self, upload: &Upload, result: Result<&Outcome, &RecordError>, by: Invocation<'_>,
    ) {
        if self.config.dry_run || !self.in_prefix(&upload.key) {
            return;
        }
        let Some(key) = receipt_key(upload) else {
            return;
        };
        let at = dates::format(self.clock.now());
        let receipt = match result {
            Ok(outcome) => Receipt::settled(outcome, at, by.request_id),
            Err(error) => {
                let previous = read_receipt(&self.aws, &upload.bucket, &key)
                    .await
                    .ok()
                    .flatten();
                let attempt = attempt_after(previous.as_ref(), by.request_id);
                Receipt::failed(
                    upload,
                    error.error_type(),
                    error.to_string(),
                    attempt,
                    by.retried,
                    at,
                    by.request_id,
                )
            }
        };
        let Ok(body) = serde_json::to_vec(&receipt) else {
            return;
        };
        if let Err(e) = self.aws.put_receipt(&upload.bucket, &key, body).await {
            warn!(error = %e, receipt = %format!("s3://{}/{key}", upload.bucket), "the upload's receipt was not written; the record's result stands");
        }
    }

    /// Whether `key` is under `ARTIFACTS_PREFIX`, where the function may write.
    fn in_prefix(&self, key: &str) -> bool {
        self.config
            .artifacts_prefix
            .as_deref()
            .is_none_or(|prefix| key.starts_with(prefix))
    }
}
