//! The steps of the contract for one uploaded object, in order: filter, the
//! zip, consistency, change detection, publish, record.
//!
//! Decisions come from `decide`, AWS calls from `aws`; this module sequences
//! them, builds the outcome, and logs one line per decision.

use crate::aws::{Aws, ObjectHead, PublishRequest, SmallObject};
use crate::config::Config;
use crate::decide::{self, Decision, LayerVersion, PublishReason};
use crate::error::RecordError;
use crate::event::Upload;
use crate::layer_zip::{self, LOCAL_FILE_HEADER};
use crate::layout::{console_url_of_layer_version, console_url_of_object, LayerDir};
use crate::lease::{self, Lease, LeaseState};
use crate::manifest::{self, ManifestMd5};
use crate::metadata::{self, Md5Problem};
use crate::snapshot::FolderSnapshot;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

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
    /// Why a record was ignored or superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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

impl Outcome {
    fn skipped(kind: OutcomeKind, upload: &Upload, reason: impl Into<String>) -> Self {
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
            reason: Some(reason.into()),
        }
    }
}

/// Runs the steps with one set of clients and one configuration.
#[derive(Clone, Debug)]
pub struct Publisher {
    aws: Aws,
    config: Config,
    /// For the console links in the logs.
    region: String,
    /// How long to wait for another invocation's lease.
    lease_wait: Duration,
    /// How long a lease lasts from when S3 wrote it.
    lease_ttl: Duration,
}

/// What steps 2 and 3 established about the upload, from its HEAD alone.
struct CheckedUpload<'a> {
    upload: &'a Upload,
    dir: LayerDir,
    head: ObjectHead,
    md5: ManifestMd5,
    manifest: String,
    layer: String,
}

/// The staged lock file, known to have the upload's MD5.
#[derive(Clone, Debug)]
struct StagedLock {
    key: String,
    etag: String,
}

/// The layer and the folder as read, in this order: the layer's versions,
/// then one listing of the folder (see `lease.rs` for why the order matters).
struct View {
    latest: Option<LayerVersion>,
    recorded: Option<ManifestMd5>,
    snapshot: FolderSnapshot,
    /// `None` when no lock file is staged.
    staged: Option<StagedLock>,
}

/// Which records of the latest version exist.
struct Records {
    version_copy: bool,
    /// `last-{manifest}` holds this lock file.
    last_is_latest: bool,
    deployment: bool,
}

impl Records {
    /// Nothing to repair: every record that can be written exists. Without
    /// a staged lock file only the deployment record can be written.
    fn complete(&self, staged: Option<&StagedLock>) -> bool {
        self.deployment && (staged.is_none() || (self.version_copy && self.last_is_latest))
    }
}

/// What the decision asks to write.
enum Next<'v> {
    Publish(PublishReason),
    /// The latest version has this lock file; some of its records are missing.
    Repair(&'v LayerVersion, Records),
}

/// The result of a write under the lease, and what to do with the lease.
struct Written {
    result: Result<Outcome, RecordError>,
    /// A version was published but its records are not all written: keep
    /// the lease until it expires (see `lease.rs`).
    keep_lease: bool,
}

impl Written {
    fn released(result: Result<Outcome, RecordError>) -> Self {
        Self {
            result,
            keep_lease: false,
        }
    }
}

impl CheckedUpload<'_> {
    fn zip_uri(&self) -> String {
        self.upload.s3_uri()
    }

    /// The object version to publish from: the event's, else the one HEAD saw.
    fn object_version(&self) -> Option<&str> {
        self.upload
            .version_id
            .as_deref()
            .or(self.head.version_id.as_deref())
    }
}

impl Publisher {
    pub fn new(aws: Aws, config: Config, region: impl Into<String>) -> Self {
        Self {
            aws,
            config,
            region: region.into(),
            lease_wait: lease::DEFAULT_LEASE_WAIT,
            lease_ttl: lease::LEASE_TTL,
        }
    }

    /// Waits at most `wait` for another invocation's lease (tests shorten it).
    pub fn with_lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = wait;
        self
    }

    /// Leases last `ttl` (tests shorten it to see one expire).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// All steps for one record.
    pub async fn process(&self, upload: &Upload) -> Result<Outcome, RecordError> {
        // 1. Filter.
        if !upload.is_object_created() {
            return Ok(self.skip(
                OutcomeKind::Ignored,
                upload,
                format!("{} is not an ObjectCreated event", upload.event_name),
            ));
        }
        let Some(dir) = LayerDir::of_zip_key(&upload.bucket, &upload.key) else {
            return Ok(self.skip(OutcomeKind::Ignored, upload, "the key is not a layer.zip"));
        };
        let zip_uri = upload.s3_uri();

        // 2. The zip, as it is now: an event whose object was overwritten
        // since (another version, another ETag) is superseded by the newer
        // upload's own event, even when it arrives last.
        let head = self
            .aws
            .head_object(&upload.bucket, &upload.key, None)
            .await
            .map_err(RecordError::aws(&zip_uri))?
            .ok_or_else(|| RecordError::LayerZipNotFound {
                zip: zip_uri.clone(),
            })?;
        if let Some(superseded) = self.superseded(upload, upload.etag.as_deref(), Some(&head)) {
            return Ok(superseded);
        }

        // 3. What the upload says about itself.
        let checked = self.check(upload, dir, head)?;

        // 4 to 6. Decide from what is there, writing nothing; to write, take
        // the lease against what was read, and look again if that fails.
        let give_up = tokio::time::Instant::now() + self.lease_wait;
        let mut pause = Duration::from_millis(50);
        let mut versions_read_again = false;
        let mut held: Option<Lease> = None;
        loop {
            let view = self.look(&checked).await?;
            // Records of a version the list of versions did not show: it was
            // read before another invocation published. Read it again, once
            // (a version deleted by hand would leave its records behind).
            let missed =
                view.snapshot.newest_recorded_version() > view.latest.as_ref().map(|v| v.version);
            if missed && !versions_read_again {
                versions_read_again = true;
                continue;
            }
            let next = match decide::decide(
                &checked.md5,
                view.latest.as_ref().map(|v| (v, view.recorded.as_ref())),
            ) {
                Decision::Publish(reason) => Next::Publish(reason),
                Decision::Unchanged(latest) => {
                    let records = self.records_of(&checked, &view, latest).await?;
                    if records.complete(view.staged.as_ref()) {
                        if let Some(lease) = held.take() {
                            lease.release(&self.aws).await;
                        }
                        return Ok(self.unchanged_outcome(&checked, latest, &records));
                    }
                    Next::Repair(latest, records)
                }
            };
            if matches!(next, Next::Publish(_)) {
                // The zip is still the event's, and is a zip: checked before
                // the lease (and in a dry run), so that refusing it writes
                // nothing at all.
                if let Some(refused) = self.check_current_zip(&checked).await? {
                    if let Some(lease) = held.take() {
                        lease.release(&self.aws).await;
                    }
                    return Ok(refused);
                }
            }
            if self.config.dry_run {
                return Ok(self.dry_run(&checked, next));
            }
            let lease = match held.take() {
                Some(lease) => lease,
                None => {
                    let state = view.snapshot.lease(SystemTime::now(), self.lease_ttl);
                    let taken = lease::take(
                        &self.aws,
                        checked.dir.bucket(),
                        &checked.dir.lease_key(),
                        &lease::holder_name(&checked.zip_uri()),
                        &state,
                        self.lease_ttl,
                    )
                    .await
                    .map_err(RecordError::aws(&checked.zip_uri()))?;
                    match (taken, &state) {
                        // Its crashed holder may have published: decide again under it.
                        (Some(lease), LeaseState::Expired { .. }) => {
                            held = Some(lease);
                            versions_read_again = true;
                            continue;
                        }
                        (Some(lease), _) => lease,
                        // Held by another, or written by another since the
                        // listing: look again, within the wait.
                        (None, _) => {
                            if tokio::time::Instant::now() >= give_up {
                                return Err(self.publish_in_progress(&checked, &state).await);
                            }
                            if matches!(state, LeaseState::Held { .. }) {
                                tokio::time::sleep(pause).await;
                                pause = (pause * 2).min(Duration::from_secs(1));
                            }
                            continue;
                        }
                    }
                }
            };
            let written = match next {
                Next::Repair(latest, records) => {
                    Written::released(self.repair(&checked, &view, latest, records).await)
                }
                Next::Publish(reason) => {
                    info!(zip = %checked.zip_uri(), layer = %checked.layer, reason = %reason, "publishing a new layer version");
                    self.publish(&checked, &view).await
                }
            };
            if written.keep_lease {
                lease.keep_until_expiry();
            } else {
                lease.release(&self.aws).await;
            }
            return written.result;
        }
    }

    /// Reads, in this order, the layer's latest version and the folder.
    async fn look(&self, checked: &CheckedUpload<'_>) -> Result<View, RecordError> {
        let zip = checked.zip_uri();
        let latest = self
            .aws
            .latest_layer_version(&checked.layer)
            .await
            .map_err(RecordError::aws(&zip))?;
        let dir = &checked.dir;
        let start_after = FolderSnapshot::start_after(dir, latest.as_ref().map(|v| v.version));
        let objects = self
            .aws
            .list_objects_after(dir.bucket(), &dir.prefix(), start_after.as_deref())
            .await
            .map_err(RecordError::aws(&zip))?;
        let snapshot = FolderSnapshot::new(
            dir.clone(),
            latest.as_ref().map(|v| v.version),
            objects,
            !checked.head.kms,
        );
        let staged = self.staged_lock(checked, &snapshot).await?;
        let recorded = match &latest {
            Some(version) => self.recorded_md5(checked, &snapshot, version).await?,
            None => None,
        };
        Ok(View {
            latest,
            recorded,
            snapshot,
            staged,
        })
    }

    /// Step 3's second half: the staged lock file must have the upload's
    /// MD5 (from its ETag when that is one; read otherwise).
    async fn staged_lock(
        &self,
        checked: &CheckedUpload<'_>,
        snapshot: &FolderSnapshot,
    ) -> Result<Option<StagedLock>, RecordError> {
        let zip = checked.zip_uri();
        let dir = &checked.dir;
        let key = dir.staged_manifest_key(&checked.manifest);
        let listed = if snapshot.covers(&key) {
            snapshot.get(&key).map(|o| (o.etag.clone(), o.size))
        } else {
            // A name sorting before the version folders: not in the listing.
            self.aws
                .head_object(dir.bucket(), &key, None)
                .await
                .map_err(RecordError::aws(&zip))?
                .map(|head| (head.etag.unwrap_or_default(), head.size))
        };
        let Some((etag, size)) = listed else {
            warn!(
                zip = %zip,
                manifest = %dir.s3_uri(&key),
                "no staged lock file: the version is still published and recorded, \
                 but its lock file cannot be kept; upload the lock file before the zip to keep it"
            );
            return Ok(None);
        };
        let limit = manifest::MAX_MANIFEST_BYTES;
        if size > limit {
            return Err(RecordError::ManifestTooLarge {
                zip,
                manifest: dir.s3_uri(&key),
                size,
                limit,
            });
        }
        let actual = match snapshot.md5_of(&key).or_else(|| {
            (!checked.head.kms)
                .then(|| ManifestMd5::parse(&etag))
                .flatten()
        }) {
            Some(md5) => md5,
            None => match self.read_lock_file(&zip, dir, &key).await? {
                Some(bytes) => ManifestMd5::of(&bytes),
                None => return Ok(None),
            },
        };
        if actual != checked.md5 {
            return Err(RecordError::InconsistentManifest {
                zip,
                manifest: dir.s3_uri(&key),
                expected: checked.md5.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(StagedLock { key, etag }))
    }

    /// The lock file MD5 of a published version: from its description's
    /// marker, else (versions published by other tools) from its kept lock
    /// file.
    async fn recorded_md5(
        &self,
        checked: &CheckedUpload<'_>,
        snapshot: &FolderSnapshot,
        version: &LayerVersion,
    ) -> Result<Option<ManifestMd5>, RecordError> {
        if let Some(md5) = manifest::md5_from_description(&version.description) {
            return Ok(Some(md5));
        }
        let key = checked
            .dir
            .version_manifest_key(version.version, &checked.manifest);
        if !snapshot.exists(&key) {
            return Ok(None);
        }
        if let Some(md5) = snapshot.md5_of(&key) {
            return Ok(Some(md5));
        }
        let stored = self
            .read_lock_file(&checked.zip_uri(), &checked.dir, &key)
            .await?;
        Ok(stored.map(|bytes| ManifestMd5::of(&bytes)))
    }

    /// Which records of `latest` exist, from the listing.
    async fn records_of(
        &self,
        checked: &CheckedUpload<'_>,
        view: &View,
        latest: &LayerVersion,
    ) -> Result<Records, RecordError> {
        let dir = &checked.dir;
        let snapshot = &view.snapshot;
        let last_key = dir.last_manifest_key(&checked.manifest);
        let last_md5 = match snapshot.md5_of(&last_key) {
            Some(md5) => Some(md5),
            None if snapshot.exists(&last_key) => self
                .read_lock_file(&checked.zip_uri(), dir, &last_key)
                .await?
                .map(|bytes| ManifestMd5::of(&bytes)),
            None => None,
        };
        Ok(Records {
            version_copy: snapshot
                .exists(&dir.version_manifest_key(latest.version, &checked.manifest)),
            last_is_latest: last_md5.as_ref() == Some(&checked.md5),
            deployment: snapshot.exists(&dir.deployment_key(latest.version)),
        })
    }

    /// `DRY_RUN`: the decision, reported; nothing written.
    fn dry_run(&self, checked: &CheckedUpload<'_>, next: Next<'_>) -> Outcome {
        match next {
            Next::Publish(reason) => {
                let mut outcome = Outcome::skipped(
                    OutcomeKind::WouldPublish,
                    checked.upload,
                    format!("dry run: {reason}"),
                );
                outcome.layer_name = Some(checked.layer.clone());
                outcome.manifest_md5 = Some(checked.md5.to_string());
                info!(outcome = outcome.outcome.as_str(), zip = %checked.zip_uri(), layer = %checked.layer, reason = %reason, "dry run: would publish");
                outcome
            }
            Next::Repair(latest, records) => {
                let mut outcome = self.unchanged_outcome(checked, latest, &records);
                outcome.reason = Some("dry run: would repair the version's records".into());
                outcome
            }
        }
    }

    /// Why this invocation gives up: another holds the lease.
    async fn publish_in_progress(
        &self,
        checked: &CheckedUpload<'_>,
        state: &LeaseState,
    ) -> RecordError {
        let key = checked.dir.lease_key();
        let holder = lease::holder_of(&self.aws, checked.dir.bucket(), &key)
            .await
            .map(|body| body.holder)
            .unwrap_or_else(|| "unknown".into());
        let seconds_left = match state {
            LeaseState::Held { expiry, .. } => expiry
                .duration_since(SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or_default(),
            _ => 0,
        };
        RecordError::PublishInProgress {
            zip: checked.zip_uri(),
            lease: checked.dir.s3_uri(&key),
            holder,
            seconds_left,
        }
    }

    /// The `superseded` outcome when the object the event reported is no
    /// longer `current` (another version or ETag, or deleted), else `None`.
    fn superseded(
        &self,
        upload: &Upload,
        event_etag: Option<&str>,
        current: Option<&ObjectHead>,
    ) -> Option<Outcome> {
        let now = current.map(|c| (c.version_id.as_deref(), c.etag.as_deref()));
        if decide::is_current(upload.version_id.as_deref(), event_etag, now) {
            return None;
        }
        let seen = |version: Option<&str>, etag: Option<&str>| {
            format!(
                "version {}, ETag {}",
                version.unwrap_or("-"),
                etag.unwrap_or("-")
            )
        };
        let now = match now {
            Some((version, etag)) => format!("{} now", seen(version, etag)),
            None => "deleted now".to_owned(),
        };
        Some(self.skip(
            OutcomeKind::Superseded,
            upload,
            format!(
                "the object was overwritten or deleted since this event ({now}, {} in the \
                 event); a newer upload has its own event",
                seen(upload.version_id.as_deref(), event_etag),
            ),
        ))
    }

    fn skip(&self, kind: OutcomeKind, upload: &Upload, reason: impl Into<String>) -> Outcome {
        let outcome = Outcome::skipped(kind, upload, reason);
        info!(
            outcome = outcome.outcome.as_str(),
            zip = %upload.s3_uri(),
            reason = outcome.reason.as_deref().unwrap_or_default(),
            "record skipped"
        );
        outcome
    }

    /// Step 3: the metadata and size, from the HEAD.
    fn check<'a>(
        &self,
        upload: &'a Upload,
        dir: LayerDir,
        head: ObjectHead,
    ) -> Result<CheckedUpload<'a>, RecordError> {
        let zip = upload.s3_uri();
        let md5 = metadata::manifest_md5(&head.metadata).map_err(|problem| {
            RecordError::MissingManifestMd5 {
                zip: zip.clone(),
                problem: match problem {
                    Md5Problem::Missing => "it has no manifest-md5 user metadata".into(),
                    Md5Problem::NotAnMd5(value) => {
                        format!("its manifest-md5 metadata {value:?} is not an MD5 (32 hex digits)")
                    }
                },
            }
        })?;
        let invalid = |key: &'static str| {
            let zip = zip.clone();
            move |(value, problem): (String, String)| RecordError::InvalidMetadata {
                zip,
                key,
                value,
                problem,
            }
        };
        let manifest = metadata::manifest_name(&head.metadata, &self.config.manifest_name)
            .map_err(invalid(metadata::MANIFEST_NAME_KEY))?;
        let layer = metadata::layer_name(&head.metadata, self.config.layer_name.as_deref())
            .map_err(invalid(metadata::LAYER_NAME_KEY))?
            .ok_or_else(|| RecordError::MissingLayerName { zip: zip.clone() })?;
        layer_zip::check_size(head.size).map_err(|problem| RecordError::of_zip(&zip, problem))?;
        Ok(CheckedUpload {
            upload,
            dir,
            head,
            md5,
            manifest,
            layer,
        })
    }

    /// A lock file's bytes (`None` when absent), refusing one too large to
    /// be a lock file. Only where an ETag is not an MD5.
    async fn read_lock_file(
        &self,
        zip: &str,
        dir: &LayerDir,
        key: &str,
    ) -> Result<Option<Vec<u8>>, RecordError> {
        let limit = manifest::MAX_MANIFEST_BYTES;
        match self
            .aws
            .get_small_object(dir.bucket(), key, limit)
            .await
            .map_err(RecordError::aws(zip))?
        {
            Some(SmallObject::Read { bytes }) => Ok(Some(bytes)),
            Some(SmallObject::TooLarge { size }) => Err(RecordError::ManifestTooLarge {
                zip: zip.to_owned(),
                manifest: dir.s3_uri(key),
                size,
                limit,
            }),
            None => Ok(None),
        }
    }

    /// When the upload carried a SHA-256, the version's content must be
    /// exactly those bytes: anything else (an overwrite racing the publish,
    /// a corrupted read) must not be recorded as this lock file's version.
    fn check_published_bytes(
        &self,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
        code_sha256: Option<&str>,
    ) -> Result<(), RecordError> {
        match (checked.head.sha256.as_deref(), code_sha256) {
            (Some(uploaded), Some(published)) if uploaded != published => {
                Err(RecordError::ChecksumMismatch {
                    zip: checked.zip_uri(),
                    version_arn: version.arn.clone(),
                    published: published.to_owned(),
                    uploaded: uploaded.to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Just before publishing, one ranged GET of the current object: the
    /// `superseded` outcome when the zip was overwritten since the event, an
    /// error when it is not a zip, else `None`.
    async fn check_current_zip(
        &self,
        checked: &CheckedUpload<'_>,
    ) -> Result<Option<Outcome>, RecordError> {
        let upload = checked.upload;
        let zip = checked.zip_uri();
        let start = self
            .aws
            .read_start(&upload.bucket, &upload.key, LOCAL_FILE_HEADER.len() as u64)
            .await
            .map_err(RecordError::aws(&zip))?
            .ok_or_else(|| RecordError::LayerZipNotFound { zip: zip.clone() })?;
        let current = ObjectHead {
            etag: start.etag.clone(),
            version_id: start.version_id.clone(),
            ..ObjectHead::default()
        };
        let event_etag = upload.etag.as_deref().or(checked.head.etag.as_deref());
        if let Some(superseded) = self.superseded(upload, event_etag, Some(&current)) {
            return Ok(Some(superseded));
        }
        layer_zip::check_start(&start.bytes)
            .map_err(|problem| RecordError::of_zip(&zip, problem))?;
        Ok(None)
    }

    /// Under the lease: steps 5 and 6.
    async fn publish(&self, checked: &CheckedUpload<'_>, view: &View) -> Written {
        let upload = checked.upload;
        let description = manifest::describe(&self.config.layer_description, &checked.md5);
        let request = PublishRequest {
            layer_name: &checked.layer,
            bucket: &upload.bucket,
            key: &upload.key,
            object_version: checked.object_version(),
            description: &description,
            compatible_runtimes: &self.config.compatible_runtimes,
            compatible_architectures: &self.config.compatible_architectures,
            license_info: self.config.license_info.as_deref(),
        };
        let new = match self.aws.publish_layer_version(&request).await {
            Ok(new) => new,
            Err(e) => return Written::released(Err(RecordError::aws(&checked.zip_uri())(e))),
        };
        // From here on a version exists: a failure keeps the lease.
        let result = async {
            self.check_published_bytes(checked, &new.version, new.code_sha256.as_deref())?;
            let outcome = self.outcome(
                OutcomeKind::Published,
                checked,
                &new.version,
                view.staged.is_some(),
                new.code_sha256.clone(),
            );
            self.record(checked, view, &new.version, &outcome).await?;
            self.log_decision(&outcome, checked);
            Ok(outcome)
        }
        .await;
        Written {
            keep_lease: result.is_err(),
            result,
        }
    }

    /// Step 6: keep the lock file per version and as `last-` (server-side
    /// copies of the staged file, only if it is still the one checked), and
    /// write the deployment record.
    async fn record(
        &self,
        checked: &CheckedUpload<'_>,
        view: &View,
        version: &LayerVersion,
        outcome: &Outcome,
    ) -> Result<(), RecordError> {
        if let Some(staged) = &view.staged {
            let dir = &checked.dir;
            self.copy_lock(
                checked,
                staged,
                &dir.version_manifest_key(version.version, &checked.manifest),
            )
            .await?;
            self.copy_lock(checked, staged, &dir.last_manifest_key(&checked.manifest))
                .await?;
        }
        self.put_deployment(checked, version, outcome).await
    }

    async fn copy_lock(
        &self,
        checked: &CheckedUpload<'_>,
        staged: &StagedLock,
        to: &str,
    ) -> Result<(), RecordError> {
        let dir = &checked.dir;
        let copied = self
            .aws
            .copy_object_if(dir.bucket(), &staged.key, to, &staged.etag)
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))?;
        if copied {
            Ok(())
        } else {
            Err(RecordError::InconsistentManifest {
                zip: checked.zip_uri(),
                manifest: dir.s3_uri(&staged.key),
                expected: checked.md5.to_string(),
                actual: "unknown: it was replaced while this upload was being recorded".into(),
            })
        }
    }

    async fn put_deployment(
        &self,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
        outcome: &Outcome,
    ) -> Result<(), RecordError> {
        let deployment = Deployment {
            outcome: Outcome {
                outcome: OutcomeKind::Published,
                reason: None,
                ..outcome.clone()
            },
            published_at: version.created.clone(),
            source_version_id: checked.object_version().map(str::to_owned),
            source_etag: checked.head.etag.clone(),
        };
        // Serialising plain strings and numbers cannot fail; should it ever,
        // the record is written without pretty-printing rather than lost.
        let body = serde_json::to_vec_pretty(&deployment)
            .or_else(|_| serde_json::to_vec(&deployment))
            .unwrap_or_default();
        self.aws
            .put_object(
                checked.dir.bucket(),
                &checked.dir.deployment_key(version.version),
                body,
                "application/json",
            )
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))
    }

    /// The latest version has this lock file: publish nothing, and repair
    /// whatever records a crash (or an older tool) left missing.
    async fn repair(
        &self,
        checked: &CheckedUpload<'_>,
        view: &View,
        latest: &LayerVersion,
        mut records: Records,
    ) -> Result<Outcome, RecordError> {
        let dir = &checked.dir;
        // A version of ours without its deployment record may be one whose
        // content failed the checksum check: look before recording it.
        let code_sha256 = if records.deployment {
            None
        } else {
            let code_sha256 = self
                .aws
                .layer_version_sha256(&checked.layer, latest.version)
                .await
                .map_err(RecordError::aws(&checked.zip_uri()))?;
            if manifest::md5_from_description(&latest.description).is_some() {
                self.check_published_bytes(checked, latest, code_sha256.as_deref())?;
            }
            code_sha256
        };
        let mut repaired: Vec<&str> = Vec::new();
        if let Some(staged) = &view.staged {
            if !records.version_copy {
                let key = dir.version_manifest_key(latest.version, &checked.manifest);
                self.copy_lock(checked, staged, &key).await?;
                records.version_copy = true;
                repaired.push("version lock file");
            }
            if !records.last_is_latest {
                self.copy_lock(checked, staged, &dir.last_manifest_key(&checked.manifest))
                    .await?;
                repaired.push("last- lock file");
            }
        }
        let outcome = self.unchanged_outcome(checked, latest, &records);
        if !records.deployment {
            let record = Outcome {
                code_sha256,
                ..outcome.clone()
            };
            self.put_deployment(checked, latest, &record).await?;
            repaired.push("deployment record");
        }
        if !repaired.is_empty() {
            info!(zip = %checked.zip_uri(), layer = %checked.layer, version = latest.version, repaired = ?repaired, "repaired the records of the latest version");
        }
        Ok(outcome)
    }

    /// The result for an upload whose lock file the latest version has.
    fn unchanged_outcome(
        &self,
        checked: &CheckedUpload<'_>,
        latest: &LayerVersion,
        records: &Records,
    ) -> Outcome {
        // Where the version's lock file is kept, whether staged now or not.
        let outcome = self.outcome(
            OutcomeKind::Unchanged,
            checked,
            latest,
            records.version_copy,
            None,
        );
        self.log_decision(&outcome, checked);
        outcome
    }

    /// The outcome for `version`; `lock_file_kept` when the folder holds
    /// (or will, once recorded) its `{NNNNNN}/{manifest}`.
    fn outcome(
        &self,
        kind: OutcomeKind,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
        lock_file_kept: bool,
        code_sha256: Option<String>,
    ) -> Outcome {
        Outcome {
            outcome: kind,
            bucket: checked.upload.bucket.clone(),
            key: checked.upload.key.clone(),
            layer_name: Some(checked.layer.clone()),
            layer_version: Some(version.version),
            layer_version_arn: Some(version.arn.clone()),
            manifest_md5: Some(checked.md5.to_string()),
            manifest_key: lock_file_kept.then(|| {
                checked
                    .dir
                    .version_manifest_key(version.version, &checked.manifest)
            }),
            code_sha256,
            reason: None,
        }
    }

    /// The one log line of a publish/unchanged decision, with the console
    /// links the seed's publish step prints.
    fn log_decision(&self, outcome: &Outcome, checked: &CheckedUpload<'_>) {
        let version = outcome.layer_version.unwrap_or_default();
        let layer_console = console_url_of_layer_version(&self.region, &checked.layer, version);
        let manifest_console = outcome
            .manifest_key
            .as_deref()
            .map(|key| console_url_of_object(&self.region, checked.dir.bucket(), key))
            .unwrap_or_default();
        info!(
            outcome = outcome.outcome.as_str(),
            zip = %checked.zip_uri(),
            layer = %checked.layer,
            version,
            arn = outcome.layer_version_arn.as_deref().unwrap_or_default(),
            manifest_md5 = %checked.md5,
            layer_console = %layer_console,
            manifest_console = %manifest_console,
            "layer decision"
        );
    }
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
