//! The steps of the contract for one uploaded object, in order: filter, the
//! zip, consistency, change detection, publish, record.
//!
//! Decisions come from `decide`, AWS calls from `aws`; this module sequences
//! them, builds the outcome, and logs one line per decision.

use crate::aws::{Aws, ObjectHead, PublishRequest, SmallObject};
use crate::config::Config;
use crate::decide::{self, Decision, LayerVersion};
use crate::error::RecordError;
use crate::event::Upload;
use crate::layer_zip::{self, LOCAL_FILE_HEADER};
use crate::layout::{console_url_of_layer_version, console_url_of_object, LayerDir};
use crate::lease::{self, Lease, LeaseError};
use crate::manifest::{self, ManifestMd5};
use crate::metadata::{self, Md5Problem};
use serde::{Deserialize, Serialize};
use std::time::Duration;
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
}

/// What steps 2 and 3 established about the upload.
struct CheckedUpload<'a> {
    upload: &'a Upload,
    dir: LayerDir,
    head: ObjectHead,
    md5: ManifestMd5,
    manifest: String,
    layer: String,
    /// The staged lock file, known to match `md5`; `None` when not staged.
    staged: Option<Vec<u8>>,
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
    fn complete(&self, checked: &CheckedUpload<'_>) -> bool {
        self.deployment && (checked.staged.is_none() || (self.version_copy && self.last_is_latest))
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
        }
    }

    /// Waits at most `wait` for another invocation's lease (tests shorten it).
    pub fn with_lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = wait;
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
        let aws_error = RecordError::aws(&zip_uri);

        // 2. The zip, as it is now: an event whose object was overwritten
        // since (another version, another ETag) is superseded by the newer
        // upload's own event, even when it arrives last.
        let head = self
            .aws
            .head_object(&upload.bucket, &upload.key, None)
            .await
            .map_err(aws_error)?
            .ok_or_else(|| RecordError::LayerZipNotFound {
                zip: zip_uri.clone(),
            })?;
        if let Some(superseded) = self.superseded(upload, upload.etag.as_deref(), Some(&head)) {
            return Ok(superseded);
        }

        // 3. Consistency.
        let checked = self.check(upload, dir, head).await?;
        if self.config.dry_run {
            return self.dry_run(&checked).await;
        }

        // 4. Change detection. Most deliveries change nothing: find that out
        // without the lease, writing nothing.
        let (latest, recorded) = self.latest_and_recorded(&checked).await?;
        if let Decision::Unchanged(latest) = decide::decide(
            &checked.md5,
            latest.as_ref().map(|v| (v, recorded.as_ref())),
        ) {
            let records = self.records_of(&checked, latest).await?;
            if records.complete(&checked) {
                return Ok(self.unchanged_outcome(&checked, latest, &records));
            }
        }

        // Publishing or repairing writes: one writer per folder, deciding
        // again under the lease, since another may have written meanwhile.
        let lease = self.take_lease(&checked).await?;
        let result = self.decide_and_write(&checked).await;
        lease.release(&self.aws).await;
        result
    }

    /// Steps 4 to 6 as reads only: what would be published or repaired.
    async fn dry_run(&self, checked: &CheckedUpload<'_>) -> Result<Outcome, RecordError> {
        let (latest, recorded) = self.latest_and_recorded(checked).await?;
        match decide::decide(
            &checked.md5,
            latest.as_ref().map(|v| (v, recorded.as_ref())),
        ) {
            Decision::Publish(reason) => {
                self.check_is_zip(checked).await?;
                let mut outcome = Outcome::skipped(
                    OutcomeKind::WouldPublish,
                    checked.upload,
                    format!("dry run: {reason}"),
                );
                outcome.layer_name = Some(checked.layer.clone());
                outcome.manifest_md5 = Some(checked.md5.to_string());
                info!(outcome = outcome.outcome.as_str(), zip = %checked.zip_uri(), layer = %checked.layer, reason = %reason, "dry run: would publish");
                Ok(outcome)
            }
            Decision::Unchanged(latest) => {
                let records = self.records_of(checked, latest).await?;
                let mut outcome = self.unchanged_outcome(checked, latest, &records);
                if !records.complete(checked) {
                    outcome.reason = Some("dry run: would repair the version's records".into());
                }
                Ok(outcome)
            }
        }
    }

    /// The latest version of the layer and the lock file MD5 recorded for it.
    async fn latest_and_recorded(
        &self,
        checked: &CheckedUpload<'_>,
    ) -> Result<(Option<LayerVersion>, Option<ManifestMd5>), RecordError> {
        let latest = self
            .aws
            .latest_layer_version(&checked.layer)
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))?;
        let recorded = match &latest {
            Some(version) => self.recorded_md5(checked, version).await?,
            None => None,
        };
        Ok((latest, recorded))
    }

    async fn take_lease(&self, checked: &CheckedUpload<'_>) -> Result<Lease, RecordError> {
        let key = checked.dir.lease_key();
        let holder = format!(
            "{}:{}:{}",
            std::process::id(),
            lease::now_secs(),
            checked.upload.s3_uri()
        );
        lease::acquire(
            &self.aws,
            checked.dir.bucket(),
            &key,
            &holder,
            self.lease_wait,
        )
        .await
        .map_err(|e| match e {
            LeaseError::Held { holder, expires_at } => RecordError::PublishInProgress {
                zip: checked.zip_uri(),
                lease: checked.dir.s3_uri(&key),
                holder,
                seconds_left: expires_at.saturating_sub(lease::now_secs()),
            },
            LeaseError::Aws(source) => RecordError::aws(&checked.zip_uri())(source),
        })
    }

    /// Under the lease: is this upload still the current object, then steps
    /// 4 to 6 (or the repairs of an unchanged version).
    async fn decide_and_write(&self, checked: &CheckedUpload<'_>) -> Result<Outcome, RecordError> {
        let upload = checked.upload;
        let current = self
            .aws
            .head_object(&upload.bucket, &upload.key, None)
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))?;
        let event_etag = upload.etag.as_deref().or(checked.head.etag.as_deref());
        if let Some(superseded) = self.superseded(upload, event_etag, current.as_ref()) {
            return Ok(superseded);
        }
        let (latest, recorded) = self.latest_and_recorded(checked).await?;
        match decide::decide(
            &checked.md5,
            latest.as_ref().map(|v| (v, recorded.as_ref())),
        ) {
            Decision::Unchanged(latest) => self.repair(checked, latest).await,
            Decision::Publish(reason) => {
                info!(zip = %checked.zip_uri(), layer = %checked.layer, reason = %reason, "publishing a new layer version");
                self.publish(checked).await
            }
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

    /// Step 3: the metadata, and the staged lock file against it.
    async fn check<'a>(
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

        let staged_key = dir.staged_manifest_key(&manifest);
        let staged = self.read_lock_file(&zip, &dir, &staged_key).await?;
        match &staged {
            Some(bytes) => {
                let actual = ManifestMd5::of(bytes);
                if actual != md5 {
                    return Err(RecordError::InconsistentManifest {
                        zip,
                        manifest: dir.s3_uri(&staged_key),
                        expected: md5.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
            None => warn!(
                zip = %zip,
                manifest = %dir.s3_uri(&staged_key),
                "no staged lock file: the version is still published and recorded, \
                 but its lock file cannot be kept; upload the lock file before the zip to keep it"
            ),
        }
        Ok(CheckedUpload {
            upload,
            dir,
            head,
            md5,
            manifest,
            layer,
            staged,
        })
    }

    /// The lock file MD5 of a published version: from its description's
    /// marker, else (versions published by other tools) from its stored lock
    /// file.
    async fn recorded_md5(
        &self,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
    ) -> Result<Option<ManifestMd5>, RecordError> {
        if let Some(md5) = manifest::md5_from_description(&version.description) {
            return Ok(Some(md5));
        }
        let key = checked
            .dir
            .version_manifest_key(version.version, &checked.manifest);
        let stored = self
            .read_lock_file(&checked.zip_uri(), &checked.dir, &key)
            .await?;
        Ok(stored.map(|bytes| ManifestMd5::of(&bytes)))
    }

    /// A lock file's bytes (`None` when absent), refusing one too large to
    /// be a lock file.
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
            Some(SmallObject::Read { bytes, .. }) => Ok(Some(bytes)),
            Some(SmallObject::TooLarge { size, .. }) => Err(RecordError::ManifestTooLarge {
                zip: zip.to_owned(),
                manifest: dir.s3_uri(key),
                size,
                limit,
            }),
            None => Ok(None),
        }
    }

    /// The object about to be published starts as a zip archive does (one
    /// ranged GET of its first bytes): Lambda's own error for a non-zip
    /// names neither the object nor the fix.
    async fn check_is_zip(&self, checked: &CheckedUpload<'_>) -> Result<(), RecordError> {
        let zip = checked.zip_uri();
        let upload = checked.upload;
        let first_bytes = self
            .aws
            .read_head_bytes(
                &upload.bucket,
                &upload.key,
                checked.object_version(),
                LOCAL_FILE_HEADER.len() as u64,
            )
            .await
            .map_err(RecordError::aws(&zip))?
            .ok_or_else(|| RecordError::LayerZipNotFound { zip: zip.clone() })?;
        layer_zip::check_start(&first_bytes).map_err(|problem| RecordError::of_zip(&zip, problem))
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

    /// Steps 5 and 6.
    async fn publish(&self, checked: &CheckedUpload<'_>) -> Result<Outcome, RecordError> {
        self.check_is_zip(checked).await?;
        let description = manifest::describe(&self.config.layer_description, &checked.md5);
        let request = PublishRequest {
            layer_name: &checked.layer,
            bucket: &checked.upload.bucket,
            key: &checked.upload.key,
            object_version: checked.object_version(),
            description: &description,
            compatible_runtimes: &self.config.compatible_runtimes,
            compatible_architectures: &self.config.compatible_architectures,
            license_info: self.config.license_info.as_deref(),
        };
        let new = self
            .aws
            .publish_layer_version(&request)
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))?;
        self.check_published_bytes(checked, &new.version, new.code_sha256.as_deref())?;
        let outcome = self.outcome(
            OutcomeKind::Published,
            checked,
            &new.version,
            new.code_sha256.clone(),
        );
        self.record(checked, &new.version, &outcome).await?;
        self.log_decision(&outcome, checked);
        Ok(outcome)
    }

    /// Step 6: keep the lock file per version and as `last-`, and write the
    /// deployment record.
    async fn record(
        &self,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
        outcome: &Outcome,
    ) -> Result<(), RecordError> {
        if let Some(lock) = &checked.staged {
            let dir = &checked.dir;
            self.put(
                checked,
                &dir.version_manifest_key(version.version, &checked.manifest),
                lock.clone(),
                "text/plain",
            )
            .await?;
            self.put(
                checked,
                &dir.last_manifest_key(&checked.manifest),
                lock.clone(),
                "text/plain",
            )
            .await?;
        }
        self.put_deployment(checked, version, outcome).await
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
        self.put(
            checked,
            &checked.dir.deployment_key(version.version),
            body,
            "application/json",
        )
        .await
    }

    async fn put(
        &self,
        checked: &CheckedUpload<'_>,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), RecordError> {
        self.aws
            .put_object(checked.dir.bucket(), key, body, content_type)
            .await
            .map_err(RecordError::aws(&checked.zip_uri()))
    }

    /// Which records of `latest` exist.
    async fn records_of(
        &self,
        checked: &CheckedUpload<'_>,
        latest: &LayerVersion,
    ) -> Result<Records, RecordError> {
        let dir = &checked.dir;
        let bucket = dir.bucket();
        let zip = checked.zip_uri();
        let aws_error = RecordError::aws(&zip);
        let exists = |key: String| async move {
            self.aws
                .head_object(bucket, &key, None)
                .await
                .map(|head| head.is_some())
                .map_err(aws_error)
        };
        let version_copy =
            exists(dir.version_manifest_key(latest.version, &checked.manifest)).await?;
        let deployment = exists(dir.deployment_key(latest.version)).await?;
        let last = self
            .read_lock_file(&zip, dir, &dir.last_manifest_key(&checked.manifest))
            .await?;
        Ok(Records {
            version_copy,
            last_is_latest: last.as_deref().map(ManifestMd5::of).as_ref() == Some(&checked.md5),
            deployment,
        })
    }

    /// The latest version has this lock file: publish nothing, and repair
    /// whatever records a crash (or an older tool) left missing.
    async fn repair(
        &self,
        checked: &CheckedUpload<'_>,
        latest: &LayerVersion,
    ) -> Result<Outcome, RecordError> {
        let dir = &checked.dir;
        let mut records = self.records_of(checked, latest).await?;
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
        if let Some(lock) = &checked.staged {
            if !records.version_copy {
                let key = dir.version_manifest_key(latest.version, &checked.manifest);
                self.put(checked, &key, lock.clone(), "text/plain").await?;
                records.version_copy = true;
                repaired.push("version lock file");
            }
            if !records.last_is_latest {
                let key = dir.last_manifest_key(&checked.manifest);
                self.put(checked, &key, lock.clone(), "text/plain").await?;
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
        // Another invocation may have repaired them while we waited for the lease.
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
        let mut outcome = self.outcome(OutcomeKind::Unchanged, checked, latest, None);
        // Where the version's lock file is kept, whether staged now or not.
        outcome.manifest_key = records.version_copy.then(|| {
            checked
                .dir
                .version_manifest_key(latest.version, &checked.manifest)
        });
        self.log_decision(&outcome, checked);
        outcome
    }

    fn outcome(
        &self,
        kind: OutcomeKind,
        checked: &CheckedUpload<'_>,
        version: &LayerVersion,
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
            manifest_key: checked.staged.as_ref().map(|_| {
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
