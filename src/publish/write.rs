//! Under the lease, what the plan's writes do: step 5, publish, and step 6,
//! record (the lock file's copies and `deployment.json`); or, for a version
//! that has this lock file already, repair its missing records. Also the
//! outcomes these steps answer.

use super::{Failed, LeaseEnd, Publisher};
use crate::backoff::Backoff;
use crate::domain::decide::{self, PublishReason, Records, Write};
use crate::domain::manifest::{self, ManifestMd5};
use crate::domain::outcome::{Adopted, Deployment, Outcome, OutcomeKind};
use crate::domain::outcome::{FollowerResult, Replica};
use crate::error::Problem;
use crate::lifecycle::announce::announce;
use crate::lifecycle::{followers, pointer, retention, sharing};
use crate::ports::{Clock, LayerVersion, NewVersion, Ports, PublishRequest, WriteCondition};
use crate::publish::checked::CheckedUpload;
use crate::publish::facts::{self, Look, StagedLock};
use std::time::Duration;
use tracing::info;

/// How many times one record sends `PublishLayerVersion` at most, each after
/// finding that the one before did not apply.
const PUBLISH_ATTEMPTS: u32 = 3;

/// The ceilings of the pauses between two looks for a publish that got no
/// answer.
const UNCONFIRMED_FIRST_PAUSE: Duration = Duration::from_secs(1);
const UNCONFIRMED_LONGEST_PAUSE: Duration = Duration::from_secs(8);

/// What became of the lock file's copies after a publish.
enum Kept {
    /// These were written (or all already existed).
    Written(Vec<&'static str>),
    /// None could be: a newer upload replaced the zip and the lock file
    /// while this one was being recorded; `reason` says so.
    Replaced { reason: String },
}

/// What the lifecycle parts after a publish did.
struct AfterPublish {
    followers: Vec<FollowerResult>,
    deleted_versions: Vec<i64>,
    replicas: Vec<Replica>,
}

impl<A: Ports, C: Clock> Publisher<A, C> {
    /// Under the lease: step 5, publish, then step 6, record. Once the
    /// version is known, a failure hands the lease over to this upload's
    /// next delivery (Lambda's retry finishes at once), unless a publish in
    /// another region may still apply: then the lease is kept until it
    /// expires.
    pub(super) async fn publish(
        &self, checked: &CheckedUpload<'_>, staged: &Option<StagedLock>, listed: Option<i64>,
        publish_took: &mut Option<Duration>,
    ) -> Result<Outcome, Failed> {
        let upload = checked.upload;
        let config = &self.config;
        let Some(source_key) = self.publish_source(checked).await? else {
            let reason = "the zip was overwritten or deleted after it was checked, before its \
                          copy to publish from was made; the newer upload has its own event";
            return Ok(super::skip(OutcomeKind::Superseded, upload, reason));
        };
        let description = manifest::describe(&config.layer_description, &checked.md5);
        let source = (upload.bucket.as_str(), source_key.as_str());
        let request = self.publish_request(checked, source, checked.object_version(), &description);
        let sent = self.clock.now();
        let new = self
            .publish_once(&self.aws, checked, &request, listed)
            .await?;
        *publish_took = self.clock.now().duration_since(sent).ok();
        // From here on a version exists, and this record knows which.
        let result: Result<Outcome, Problem> = async {
            let sha256 = new.code_sha256.as_deref();
            decide::check_published_bytes(checked.head.sha256.as_deref(), &new.version, sha256)?;
            let kept = staged
                .is_some()
                .then(|| named_lock_file(checked, &new.version));
            let outcome = outcome(OutcomeKind::Published, checked, &new.version, kept);
            let outcome = Outcome {
                code_sha256: new.code_sha256.clone(),
                declared: checked.settings.declared.clone(),
                ..outcome
            };
            // The lock file copies, and the lifecycle then the record: at
            // once. Each record is checked on its own by the next look, so
            // the deployment record need not wait for the copies; it does
            // wait for the lifecycle, which runs again only while it is
            // missing (`repair`).
            let copies = async {
                match staged {
                    Some(staged) => {
                        let none = Records::default();
                        self.keep_lock_file(checked, staged, new.version.version, none)
                            .await
                    }
                    None => Ok(Kept::Written(Vec::new())),
                }
            };
            let record = async {
                let after = self.after_publish(checked, &new.version).await?;
                let outcome = Outcome {
                    deleted_versions: after.deleted_versions,
                    followers: after.followers,
                    replicas: after.replicas,
                    ..outcome
                };
                announce(&self.aws, self.config.event_bus.as_deref(), &outcome).await?;
                self.put_deployment(checked, &new.version, &outcome).await?;
                Ok::<_, Problem>(outcome)
            };
            // Both run to the end, whichever fails: nothing is left half sent.
            let (copies, record) = tokio::join!(copies, record);
            let mut outcome = record?;
            if let Kept::Replaced { reason } = copies? {
                outcome.manifest_key = None;
                outcome.reason = Some(reason);
            }
            self.log_decision(&outcome, checked);
            Ok(outcome)
        }
        .await;
        result.map_err(|problem| {
            let lease = match problem.may_still_publish() {
                true => LeaseEnd::KeepUntilExpiry,
                false => LeaseEnd::HandOver {
                    version: new.version.version,
                },
            };
            Failed::leaving(problem, lease)
        })
    }

    /// The key Lambda takes the zip from: exactly the bytes that were
    /// checked. In a versioned bucket the publish names the object version,
    /// so the zip's own key. In an unversioned one the key's bytes may change
    /// while Lambda reads them, so a server-side copy to
    /// `{dir}/publish-source.zip`, made only if the zip still has the ETag
    /// that was checked (`x-amz-copy-source-if-match`), and written by no one
    /// else (the lease is held). `None`: S3 refused the copy, the zip is no
    /// longer the checked one.
    async fn publish_source(&self, checked: &CheckedUpload<'_>) -> Result<Option<String>, Problem> {
        let upload = checked.upload;
        if checked.object_version().is_some() {
            return Ok(Some(upload.key.clone()));
        }
        let Some(etag) = checked.event_object().etag else {
            let why = "S3 answered the zip's HEAD without an ETag to pin its copy to";
            return Err(Problem::Internal(why.into()));
        };
        let to = checked.dir.publish_source_key();
        let copied = self
            .aws
            .copy_if(&upload.bucket, &upload.key, &to, &etag)
            .await?;
        Ok(copied.then_some(to))
    }

    /// What `PublishLayerVersion` is sent, at home or in another region:
    /// the object at `(bucket, key)` (its version when given), with the
    /// configured settings and `description` (the marker at its end).
    pub(crate) fn publish_request<'a>(
        &'a self, checked: &'a CheckedUpload<'_>, (bucket, key): (&'a str, &'a str),
        object_version: Option<&'a str>, description: &'a str,
    ) -> PublishRequest<'a> {
        let declared = &checked.settings.declared;
        PublishRequest {
            layer_name: &checked.layer,
            bucket,
            key,
            object_version,
            description,
            compatible_runtimes: &declared.runtimes,
            compatible_architectures: &declared.architectures,
            license_info: declared.license.as_deref(),
        }
    }

    /// One version for this lock file, whatever the answers: after a failure
    /// that may have applied (no answer, a 5xx), the latest version is read;
    /// one newer than `listed` (the latest read before) carrying this lock
    /// file's marker is the one this publish made (the description is the
    /// commit record). Otherwise, after a 5xx nothing applied, and it is
    /// published again, [`PUBLISH_ATTEMPTS`] times at most. After no answer
    /// at all (a timeout, a dropped connection) the call may still be
    /// applying, so it is never sent again: the versions are looked at
    /// again, after pauses that double from 1 s to 8 s, until the record's
    /// `answer_by`; a version found is this publish's, and none found is
    /// `PublishUnconfirmed`.
    pub(crate) async fn publish_once(
        &self, aws: &A, checked: &CheckedUpload<'_>, request: &PublishRequest<'_>,
        listed: Option<i64>,
    ) -> Result<NewVersion, Failed> {
        let mut attempts = 1;
        let mut look_pauses = Backoff::new(UNCONFIRMED_FIRST_PAUSE, UNCONFIRMED_LONGEST_PAUSE);
        let unknown = |e| Failed::may_still_apply(Problem::from(e));
        loop {
            let error = match aws.publish(request).await {
                Ok(new) => return Ok(new),
                // Refused before applying, a throttle too: the ports waited
                // it out (`throttles.rs`) until the record's time ran short.
                Err(e) if !e.may_have_applied() => return Err(e.into()),
                Err(e) => e,
            };
            loop {
                let recent = aws.recent_versions(&checked.layer).await;
                let latest = recent.map_err(unknown)?.into_iter().next();
                let ours = latest.filter(|v| {
                    Some(v.version) > listed && manifest::carries(&v.description, &checked.md5)
                });
                if let Some(version) = ours {
                    info!(layer = %checked.layer, version = version.version, error = %error, "the publish applied although its answer was lost");
                    let sha256 = aws.version_sha256(&checked.layer, version.version).await;
                    let code_sha256 = sha256.map_err(unknown)?;
                    return Ok(NewVersion {
                        version,
                        code_sha256,
                    });
                }
                // Answered: nothing applied, and nothing will.
                if error.answered {
                    break;
                }
                // No answer: the call may still apply. Look again while
                // there is time; never send it again.
                let pause = look_pauses.next_pause(&self.clock);
                if self.clock.now() + pause > checked.answer_by {
                    let layer = checked.layer.clone();
                    let error = Box::new(error);
                    let unconfirmed = Problem::PublishUnconfirmed { layer, error };
                    return Err(Failed::may_still_apply(unconfirmed));
                }
                info!(layer = %checked.layer, error = %error, pause_ms = pause.as_millis() as u64, "the publish got no answer and no version carries the marker yet: looking again");
                self.clock.sleep(pause).await;
            }
            if attempts >= PUBLISH_ATTEMPTS {
                return Err(error.into());
            }
            attempts += 1;
            info!(layer = %checked.layer, error = %error, "the publish did not apply: publishing again");
        }
    }

    /// The latest version has this lock file: publish nothing, and repair
    /// whatever records a crash (or an older tool) left missing. A missing
    /// deployment record is written as an adopted version's; but with
    /// `finish` (a failed delivery of this very upload published `latest`
    /// and handed the lease over) as its publish's, and the answer is
    /// `published`: this delivery finishes that publish.
    pub(super) async fn repair(
        &self, checked: &CheckedUpload<'_>, look: &Look, latest: &LayerVersion, records: Records,
        finish: bool,
    ) -> Result<Outcome, Problem> {
        let staged = &look.staged;
        // What the version declares is what Lambda keeps, whatever this
        // upload's settings say: its records and its followers go by it.
        let checked = &checked.declaring(&latest.declared);
        // A version of ours without its deployment record may be one whose
        // content failed the checksum check: look before recording it.
        let code_sha256 = if records.deployment {
            None
        } else {
            let sha256 = self
                .aws
                .version_sha256(&checked.layer, latest.version)
                .await?;
            // Only a version this upload may have published must hold its
            // bytes: an older one came from another build of the lock file.
            let ours = decide::may_hold_the_uploads_bytes(latest, checked.head.last_modified);
            if ours && manifest::md5_from_description(&latest.description).is_some() {
                let uploaded = checked.head.sha256.as_deref();
                decide::check_published_bytes(uploaded, latest, sha256.as_deref())?;
            }
            sha256
        };
        let mut repaired: Vec<&str> = Vec::new();
        let mut kept = kept_lock_file(checked, latest, records, look.kept_elsewhere.as_deref());
        let mut replaced = None;
        if let Some(staged) = staged {
            match self
                .keep_lock_file(checked, staged, latest.version, records)
                .await?
            {
                Kept::Written(written) => {
                    repaired = written;
                    kept = kept.or_else(|| Some(named_lock_file(checked, latest)));
                }
                Kept::Replaced { reason } => replaced = Some(reason),
            }
        }
        let kind = match finish {
            true => OutcomeKind::Published,
            false => OutcomeKind::Unchanged,
        };
        let mut outcome = outcome(kind, checked, latest, kept.clone());
        outcome.reason = replaced;
        if !records.deployment {
            // What a publish does after its lock file copies, before its
            // record: the record's absence says it may not have been done.
            let after = self.after_publish(checked, latest).await?;
            // Where the other regions stand is this record's answer too.
            outcome.replicas = after.replicas.clone();
            // A version this function published (its marker) may not have
            // been announced yet; another tool's is not announced.
            let published = Outcome {
                outcome: OutcomeKind::Published,
                code_sha256: code_sha256.clone(),
                declared: latest.declared.clone(),
                reason: None,
                deleted_versions: after.deleted_versions,
                followers: after.followers,
                replicas: after.replicas.clone(),
                ..outcome.clone()
            };
            if manifest::md5_from_description(&latest.description).is_some() {
                announce(&self.aws, self.config.event_bus.as_deref(), &published).await?;
            }
            if finish {
                self.put_deployment(checked, latest, &published).await?;
                repaired.push("deployment record");
                outcome = Outcome {
                    reason: outcome.reason,
                    ..published
                };
            } else {
                let adopted = Adopted {
                    outcome: Adopted::OUTCOME.to_owned(),
                    layer_name: checked.layer.clone(),
                    layer_version: latest.version,
                    layer_version_arn: latest.arn.clone(),
                    description: latest.description.clone(),
                    manifest_md5: checked.md5.to_string(),
                    manifest_key: kept,
                    code_sha256,
                    declared: latest.declared.clone(),
                    published_at: latest.created.clone(),
                    adopted_at: crate::domain::dates::format(self.clock.now()),
                    replicas: after.replicas,
                };
                self.put_record(checked, latest, adopted.to_json()).await?;
                repaired.push("deployment record (adopted)");
            }
        }
        if !repaired.is_empty() {
            info!(layer = %checked.layer, version = latest.version, repaired = ?repaired, finished = finish, "repaired the records of the latest version");
        }
        self.log_decision(&outcome, checked);
        Ok(outcome)
    }

    /// The lifecycle parts that follow a publish: the latest pointer beside
    /// sharing then the followers, then retention; the other regions (each
    /// with its own pointer, sharing and retention) beside all of it; the
    /// event comes after, with what these did. Each is idempotent, so a
    /// redelivery that finds the version's record missing runs them all
    /// again.
    async fn after_publish(
        &self, checked: &CheckedUpload<'_>, version: &LayerVersion,
    ) -> Result<AfterPublish, Problem> {
        // Retention keeps the version the pointer names, and comes after
        // the followers moved off the versions it deletes; followers come
        // after sharing (one in another account needs it). The pointer, and
        // sharing then the followers, run at once; the other regions beside
        // all of it. Each part runs to its end, whichever fails.
        let home = async {
            let (aws, config, layer) = (&self.aws, &self.config, checked.layer.as_str());
            let template = config.latest_parameter.as_deref();
            let pointer = pointer::move_pointer(aws, template, layer, version);
            let followers = async {
                sharing::share(aws, &config.share_with, layer, version).await?;
                let declared = &checked.settings.declared;
                let clock = &self.clock;
                followers::move_followers(aws, clock, &config.followers, version, declared).await
            };
            let (pointed, followers) = tokio::join!(pointer, followers);
            let (pointed, followers) = (pointed?, followers?);
            let prune = config.prune_records.then_some(&checked.dir);
            let keep = config.keep_versions;
            let deleted = retention::retain(aws, keep, prune, layer, version, pointed).await?;
            Ok::<_, Problem>((followers, deleted))
        };
        let (home, replicas) = tokio::join!(home, self.replicate(checked, version));
        let (followers, deleted_versions) = home?;
        let replicas = replicas?;
        Ok(AfterPublish {
            followers,
            deleted_versions,
            replicas,
        })
    }

    /// Step 6's lock file copies that `existing` lacks: `{NNNNNN}/{manifest}`
    /// and `last-{manifest}`, server-side copies of the staged file made only
    /// while it is still the one checked, at once. Returns what it wrote; or,
    /// when S3 refused a copy because a newer upload replaced the lock file
    /// *and* the zip meanwhile (that upload's own event publishes next), why
    /// none could be kept. A lock file replaced while the zip stayed is
    /// `InconsistentManifest`.
    async fn keep_lock_file(
        &self, checked: &CheckedUpload<'_>, staged: &StagedLock, version: i64, existing: Records,
    ) -> Result<Kept, Problem> {
        let dir = &checked.dir;
        let copies = [
            (
                existing.version_copy,
                dir.version_manifest_key(version, &checked.manifest),
                "version lock file",
            ),
            (
                existing.last_is_latest,
                dir.last_manifest_key(&checked.manifest),
                "last- lock file",
            ),
        ];
        // Both copies at once: neither depends on the other.
        let missing = copies.into_iter().filter(|(exists, ..)| !exists);
        let each = missing.map(|(_, to, what)| async move {
            let copied = self
                .aws
                .copy_if(dir.bucket(), &staged.key, &to, &staged.etag)
                .await;
            (copied, what)
        });
        let mut written = Vec::new();
        let mut refused = false;
        for (copied, what) in futures_util::future::join_all(each).await {
            match copied? {
                true => written.push(what),
                false => refused = true,
            }
        }
        if !refused {
            return Ok(Kept::Written(written));
        }
        // Only on this path: is the zip still the one checked?
        let upload = checked.upload;
        let now = self.aws.head(&upload.bucket, &upload.key).await?;
        let zip_now = now.as_ref().map(|head| &head.id);
        if decide::superseded(&checked.event_object(), zip_now).is_some() {
            let reason = format!(
                "version {version}'s lock file could not be kept: a newer upload replaced the \
                 zip and the lock file while this one was being recorded, and its own event \
                 publishes next"
            );
            info!(version, lock_file = %dir.s3_uri(&staged.key), "lock file not kept: a newer upload replaced it");
            return Ok(Kept::Replaced { reason });
        }
        let found = match facts::read_lock_file(&self.aws, dir, &staged.key).await? {
            Some(bytes) => format!("has MD5 {}", ManifestMd5::of(&bytes)),
            None => "is gone".to_owned(),
        };
        Err(Problem::InconsistentManifest {
            manifest: dir.s3_uri(&staged.key),
            expected: checked.md5.to_string(),
            found,
        })
    }

    async fn put_deployment(
        &self, checked: &CheckedUpload<'_>, version: &LayerVersion, outcome: &Outcome,
    ) -> Result<(), Problem> {
        let deployment = Deployment {
            outcome: Outcome {
                outcome: OutcomeKind::Published,
                reason: None,
                ..outcome.clone()
            },
            published_at: version.created.clone(),
            source_version_id: checked.object_version().map(str::to_owned),
            source_etag: checked.head.id.etag.clone(),
        };
        self.put_record(checked, version, deployment.to_json())
            .await
    }

    /// Writes `{NNNNNN}/deployment.json`.
    async fn put_record(
        &self, checked: &CheckedUpload<'_>, version: &LayerVersion,
        body: Result<Vec<u8>, serde_json::Error>,
    ) -> Result<(), Problem> {
        let body = body.map_err(|e| Problem::Internal(format!("writing deployment.json: {e}")))?;
        let key = checked.dir.deployment_key(version.version);
        self.aws
            .put(
                checked.dir.bucket(),
                &key,
                body,
                "application/json",
                WriteCondition::Always,
            )
            .await?;
        Ok(())
    }

    /// The latest version has this lock file and every record.
    pub(super) fn unchanged(
        &self, checked: &CheckedUpload<'_>, latest: &LayerVersion, records: Records,
        kept_elsewhere: Option<&str>,
    ) -> Outcome {
        let kept = kept_lock_file(checked, latest, records, kept_elsewhere);
        let outcome = outcome(OutcomeKind::Unchanged, checked, latest, kept);
        self.log_decision(&outcome, checked);
        outcome
    }

    /// A late or repeated event: its upload's lock file became `version`
    /// after the upload was made, and `latest` (another lock file) since.
    pub(super) fn published_since_upload(
        &self, checked: &CheckedUpload<'_>, version: &LayerVersion, latest: &LayerVersion,
    ) -> Outcome {
        let reason = format!(
            "this upload's lock file was published as version {} after the upload was made, \
             and version {} (another lock file) since: a late or repeated event publishes \
             nothing; upload the zip again to make this lock file the latest",
            version.version, latest.version
        );
        let outcome = Outcome {
            reason: Some(reason),
            ..outcome(OutcomeKind::Unchanged, checked, version, None)
        };
        self.log_decision(&outcome, checked);
        outcome
    }

    /// `DRY_RUN`: the decision, reported; nothing written.
    pub(super) async fn report(
        &self, checked: &CheckedUpload<'_>, write: Write<'_>, kept_elsewhere: Option<&str>,
    ) -> Result<Outcome, Problem> {
        Ok(match write {
            Write::Publish(reason) => {
                let config = &self.config;
                let (keep, pointer) = (config.keep_versions, config.latest_parameter.as_deref());
                let would_delete =
                    retention::would_delete(&self.aws, keep, pointer, &checked.layer).await?;
                would_publish(checked, &reason, &would_delete)
            }
            Write::Repair { latest, records } => Outcome {
                reason: Some("dry run: would repair the version's records".into()),
                ..self.unchanged(checked, latest, records, kept_elsewhere)
            },
        })
    }
}

/// A dry run's `would_publish`, logged, with the versions retention would
/// then delete (numbers and ARNs, and said in its reason).
pub(super) fn would_publish(
    checked: &CheckedUpload<'_>, reason: &PublishReason, would_delete: &[LayerVersion],
) -> Outcome {
    let numbers: Vec<i64> = would_delete.iter().map(|v| v.version).collect();
    let reason_text = match numbers.as_slice() {
        [] => format!("dry run: {reason}"),
        versions => format!("dry run: {reason}; retention would then delete versions {versions:?}"),
    };
    let mut outcome = Outcome::skipped(OutcomeKind::WouldPublish, checked.upload, reason_text);
    outcome.layer_name = Some(checked.layer.clone());
    outcome.manifest_md5 = Some(checked.md5.to_string());
    outcome.declared = checked.settings.declared.clone();
    outcome.would_delete_arns = would_delete.iter().map(|v| v.arn.clone()).collect();
    outcome.would_delete_versions = numbers;
    info!(outcome = outcome.outcome.as_str(), layer = %checked.layer, reason = %reason, would_delete = ?outcome.would_delete_versions, "dry run: would publish");
    outcome
}

/// `{NNNNNN}/{manifest}` of `version`, under the upload's lock file name.
fn named_lock_file(checked: &CheckedUpload<'_>, version: &LayerVersion) -> String {
    checked
        .dir
        .version_manifest_key(version.version, &checked.manifest)
}

/// Where the folder keeps `version`'s lock file, if it does: under the
/// upload's name, or the name it was recognised by.
fn kept_lock_file(
    checked: &CheckedUpload<'_>, version: &LayerVersion, records: Records,
    kept_elsewhere: Option<&str>,
) -> Option<String> {
    records
        .version_copy
        .then(|| kept_elsewhere.map_or_else(|| named_lock_file(checked, version), str::to_owned))
}

/// The outcome for `version`; `manifest_key` where the folder keeps (or
/// will, once recorded) its lock file.
pub(super) fn outcome(
    kind: OutcomeKind, checked: &CheckedUpload<'_>, version: &LayerVersion,
    manifest_key: Option<String>,
) -> Outcome {
    Outcome {
        outcome: kind,
        bucket: checked.upload.bucket.clone(),
        key: checked.upload.key.clone(),
        layer_name: Some(checked.layer.clone()),
        layer_version: Some(version.version),
        layer_version_arn: Some(version.arn.clone()),
        manifest_md5: Some(checked.md5.to_string()),
        manifest_key,
        code_sha256: None,
        declared: Default::default(),
        reason: None,
        deleted_versions: Vec::new(),
        would_delete_versions: Vec::new(),
        would_delete_arns: Vec::new(),
        followers: Vec::new(),
        replicas: Vec::new(),
    }
}
