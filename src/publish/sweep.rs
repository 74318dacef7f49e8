//! The sweep (`SweepSchedule`): every `layer.zip` under the prefix that no
//! event settled, settled the way an event would settle it.
//!
//! An event can be lost: Lambda drops one its asynchronous queue cannot keep
//! up with or one past the maximum event age, a stack update can replace the
//! trigger while CI uploads, a failed event may wait in the queue unreplayed.
//! The sweep reads S3 first: one listing of the prefix (every zip, and which
//! receipts exist), then, per zip, its HEAD in a versioned bucket (the
//! receipt's key is its version) and its receipt when there is one
//! (`domain::receipt::sweep_verdict` decides), [`READS_AT_ONCE`] zips at a
//! time, the newest upload first: an event missed is most likely a recent
//! upload's, and a prefix too large for one run is read from its newest end
//! at each run. Only the uploads it settles reach Lambda's control plane,
//! one after another, through the same path as an event's
//! (`Publisher::process`): the layer's lease keeps the publish exactly once
//! when the late event comes at the same time. It stops before the
//! invocation's deadline; what is left, the next run finds again.

use super::receipts::{read_receipt, Invocation};
use super::Publisher;
use crate::domain::event::Upload;
use crate::domain::layout::LayerDir;
use crate::domain::metadata;
use crate::domain::receipt::{receipt_key, sweep_verdict, Receipt, SweepVerdict};
use crate::error::AwsError;
use crate::error::{Problem, RecordError};
use crate::ports::{Clock, Folder, ListedObject, Ports};
use crate::Outcome;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tracing::info;

/// The time a settle may take: none starts with less left.
const SETTLE_TIME: Duration = Duration::from_secs(30);
/// How many zips' HEADs and receipts are read at once: S3 reads, a few
/// hundred bytes each, never Lambda's control plane.
pub const READS_AT_ONCE: usize = 8;

/// What one sweep did, for its log line.
#[derive(Debug, Default)]
pub struct Swept {
    /// The `layer.zip` uploads found under the prefix.
    pub uploads: usize,
    pub settled_before: usize,
    pub refused: usize,
    pub waiting: usize,
    /// What the sweep settled, and what failed doing it.
    pub outcomes: Vec<Outcome>,
    pub failed: Vec<RecordError>,
    /// Left for the next run: the deadline came first.
    pub left: usize,
}

impl<A: Ports, C: Clock> Publisher<A, C> {
    /// Sweeps `bucket` under `ARTIFACTS_PREFIX` until `deadline`.
    pub async fn sweep(
        &self, bucket: &str, deadline: SystemTime, by: Invocation<'_>,
    ) -> Result<Swept, Problem> {
        let prefix = self.config.artifacts_prefix.clone().unwrap_or_default();
        let listed = self.aws.list_after(bucket, &prefix, None).await?;
        let listing = Listing::of(&listed);
        let zips = listing.zips(bucket);
        let manifest = &self.config.manifest_name;
        let mut swept = Swept {
            uploads: zips.len(),
            ..Swept::default()
        };
        // By index: a closure over `&ListedObject` would make the handler's
        // future not `Send` (rustc cannot see it for every lifetime).
        let mut reads = futures_util::stream::iter(0..zips.len())
            .map(|i| read_receipt_of(&self.aws, bucket, zips[i], &listing, manifest))
            .buffered(READS_AT_ONCE);
        let mut done = 0;
        while let Some(found) = reads.next().await {
            if deadline
                .duration_since(self.clock.now())
                .map_or(true, |left| left < SETTLE_TIME)
            {
                break;
            }
            done += 1;
            let Some(found) = found? else {
                continue;
            };
            if found.recorded {
                swept.settled_before += 1;
                continue;
            }
            let (upload, receipt, uploaded) = (found.upload, found.receipt, found.uploaded);
            match sweep_verdict(receipt.as_ref(), uploaded, self.clock.now()) {
                SweepVerdict::Settled => swept.settled_before += 1,
                SweepVerdict::Refused => swept.refused += 1,
                SweepVerdict::Waiting => swept.waiting += 1,
                SweepVerdict::Settle => {
                    let result = Box::pin(self.process(&upload, Some(deadline))).await;
                    match result {
                        Ok(outcome) => {
                            Box::pin(self.write_receipt(&upload, Ok(&outcome), by)).await;
                            swept.outcomes.push(outcome);
                        }
                        Err(problem) => {
                            let error = RecordError {
                                zip: upload.s3_uri(),
                                problem,
                            };
                            Box::pin(self.write_receipt(&upload, Err(&error), by)).await;
                            swept.failed.push(error);
                        }
                    }
                }
            }
        }
        swept.left = zips.len() - done;
        info!(
            bucket,
            prefix = %prefix,
            uploads = swept.uploads,
            settled_before = swept.settled_before,
            refused = swept.refused,
            waiting = swept.waiting,
            settled_now = swept.outcomes.len(),
            failed = swept.failed.len(),
            left_for_next_run = swept.left,
            "sweep"
        );
        self.metrics.write(&crate::metrics::sweep_line(
            &self.config.metrics_namespace,
            self.clock.now(),
            swept.uploads,
            swept.outcomes.len(),
            swept.failed.len(),
            swept.left,
        ));
        Ok(swept)
    }
}

/// One listing of a prefix, by key: what each zip's receipt is looked up
/// in (built once, not once per zip).
pub struct Listing<'a> {
    objects: &'a [ListedObject],
    etags: HashMap<&'a str, &'a str>,
}

impl<'a> Listing<'a> {
    pub fn of(objects: &'a [ListedObject]) -> Self {
        let etags = objects
            .iter()
            .map(|o| (o.key.as_str(), o.etag.as_str()))
            .collect();
        Self { objects, etags }
    }

    /// The `layer.zip` uploads listed, the newest first.
    pub fn zips(&self, bucket: &str) -> Vec<&'a ListedObject> {
        let mut zips: Vec<&ListedObject> = self
            .objects
            .iter()
            .filter(|o| LayerDir::of_zip_key(bucket, &o.key).is_some())
            .collect();
        zips.sort_by_key(|o| std::cmp::Reverse(o.last_modified));
        zips
    }

    fn has(&self, key: &str) -> bool {
        self.etags.contains_key(key)
    }

    /// Whether the zip's lock file (its `manifest-md5`, its `manifest-name`)
    /// is the one the folder recorded last, by the listing's ETag of
    /// `last-{lock file}`.
    fn is_latest_recorded(
        &self, bucket: &str, zip: &ListedObject, head: &crate::ports::ObjectHead,
        default_manifest: &str,
    ) -> bool {
        let Some(dir) = LayerDir::of_zip_key(bucket, &zip.key) else {
            return false;
        };
        let Ok(md5) = metadata::manifest_md5(&head.metadata) else {
            return false;
        };
        let Ok(name) = metadata::manifest_name(&head.metadata, default_manifest) else {
            return false;
        };
        self.etags
            .get(dir.last_manifest_key(&name).as_str())
            .is_some_and(|etag| etag.eq_ignore_ascii_case(md5.as_str()))
    }
}

/// A listed `layer.zip` as its receipt names it, and its receipt if any.
pub struct Found {
    pub upload: Upload,
    pub receipt: Option<Receipt>,
    /// When S3 last wrote the zip.
    pub uploaded: Option<SystemTime>,
    /// With no receipt: its lock file is the folder's latest recorded one
    /// (`last-{lock file}`, whose ETag is its MD5 outside KMS), as an
    /// upload settled before receipts existed has it.
    pub recorded: bool,
}

/// The receipt of the listed `zip`, given the same `listing`: by its ETag
/// when that receipt is there, else, after a HEAD, by its version (a
/// versioned bucket's). `None` when the zip is gone. `default_manifest` is
/// the lock file's name when the zip names none (`MANIFEST_NAME`).
pub async fn read_receipt_of<F: Folder>(
    aws: &F, bucket: &str, zip: &ListedObject, listing: &Listing<'_>, default_manifest: &str,
) -> Result<Option<Found>, AwsError> {
    let mut upload = Upload {
        event_name: "ObjectCreated:Put".into(),
        bucket: bucket.to_owned(),
        key: zip.key.clone(),
        version_id: None,
        etag: Some(zip.etag.clone()),
    };
    let mut uploaded = zip.last_modified;
    let mut recorded = false;
    let mut key = receipt_key(&upload).filter(|key| listing.has(key));
    if key.is_none() {
        let Some(head) = aws.head(bucket, &zip.key).await? else {
            return Ok(None);
        };
        upload.version_id = head.id.version_id.clone();
        upload.etag = head.id.etag.clone().or(upload.etag);
        uploaded = head.last_modified.or(uploaded);
        key = receipt_key(&upload).filter(|key| listing.has(key));
        recorded = key.is_none()
            && !head.kms
            && listing.is_latest_recorded(bucket, zip, &head, default_manifest);
    }
    let receipt = match key {
        Some(key) => read_receipt(aws, bucket, &key).await?,
        None => None,
    };
    Ok(Some(Found {
        upload,
        receipt,
        uploaded,
        recorded,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_upload_is_read_first_and_only_zips_are() {
        let at = |seconds: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
        let object = |key: &str, last_modified| ListedObject {
            key: key.into(),
            etag: "e".into(),
            size: 1,
            last_modified,
        };
        let listed = [
            object("p/a/layer.zip", at(10)),
            object("p/a/requirements.txt", at(40)),
            object("p/b/layer.zip", at(30)),
            object("p/c/layer.zip", None),
            object("p/d/layer.zip", at(20)),
        ];
        let listing = Listing::of(&listed);
        let order: Vec<&str> = listing
            .zips("bucket")
            .iter()
            .map(|o| o.key.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "p/b/layer.zip",
                "p/d/layer.zip",
                "p/a/layer.zip",
                "p/c/layer.zip"
            ]
        );
        assert!(listing.has("p/a/requirements.txt"));
        assert!(!listing.has("p/a"));
    }
}
