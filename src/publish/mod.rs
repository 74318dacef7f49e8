//! One record, top to bottom: filter, the zip as it is now, what the upload
//! says about itself, then a loop of look (`facts.rs`) → plan
//! (`decide::plan`, pure) → act, until the plan says the record is done.
//!
//! Every AWS call goes through the ports (`ports.rs`), wrapped for each record
//! so that a throttled call is waited out (`throttles.rs`); every decision comes
//! from `decide.rs`, the lease from `lease.rs`; this module sequences them,
//! does what the plan says, and logs one line per decision. Once a record is
//! settled or has failed, its receipt is written (`receipts.rs`).

use crate::config::Config;
use crate::domain::decide::{self, Step, Write};
use crate::domain::event::Upload;
use crate::domain::layer_zip::{self, LOCAL_FILE_HEADER};
use crate::domain::layout::{
    console_url_of_layer_version, console_url_of_object, LayerDir, LeaseKey,
};
use crate::domain::lease_state::LeaseState;
use crate::domain::outcome::{Outcome, OutcomeKind};
use crate::domain::settings::Settings;
use crate::error::Problem;
use crate::metrics::{self, MetricsLog, RecordMetrics};
use crate::ports::{Clock, LayerVersion, Ports, SystemClock};
use crate::throttles::Patient;
use checked::CheckedUpload;
use facts::Look;
use futures_util::future::OptionFuture;
use lease::{Claim, Lease, Take, Wait};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{info, info_span, Instrument};

pub mod checked;
pub(crate) mod facts;
pub mod lease;
pub mod receipts;
mod replicate;
pub mod snapshot;
pub mod sweep;
pub(crate) mod write;
pub mod zip_check;

/// Runs the steps with one set of clients, one clock and one configuration.
#[derive(Clone, Debug)]
pub struct Publisher<A, C = SystemClock> {
    pub(crate) aws: A,
    pub(crate) clock: C,
    pub(crate) config: Arc<Config>,
    /// For the console links in the logs.
    region: Arc<str>,
    /// Where each record's metric line goes.
    metrics: MetricsLog,
}

/// Why a record's steps failed, and what becomes of the lease it holds, if
/// any. Every step returns `Result<_, Failed>`; a plain [`Problem`] (or an
/// AWS call's error) converts to one that releases the lease, so `?` works
/// wherever nothing is left half done. A success always releases it.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) problem: Problem,
    pub(crate) lease: LeaseEnd,
}

impl Failed {
    /// A failure that leaves the lease as `lease` says.
    fn leaving(problem: Problem, lease: LeaseEnd) -> Self {
        Self { problem, lease }
    }

    /// A publish that made no version this record knows of but may still
    /// apply: the lease is kept until it expires.
    pub(crate) fn may_still_apply(problem: Problem) -> Self {
        Self::leaving(problem, LeaseEnd::KeepUntilExpiry)
    }
}

/// A failure that leaves nothing half done: the lease released.
impl<E: Into<Problem>> From<E> for Failed {
    fn from(problem: E) -> Self {
        Self::leaving(problem.into(), LeaseEnd::Release)
    }
}

/// What becomes of the lease once the record is done (see `lease.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaseEnd {
    /// Given back: nothing is left half done.
    Release,
    /// Left to expire: a publish may still apply, so nobody may act on the
    /// versions read before it until then.
    KeepUntilExpiry,
    /// Handed over to this upload's next delivery, which finishes
    /// `version`: what followed its publish failed.
    HandOver { version: i64 },
}

/// The zip as checked just before a publish.
#[derive(Debug)]
enum ZipChecked {
    /// Replaced since the event: this record's answer (boxed: the larger).
    Superseded(Box<Outcome>),
    /// It passed: the settings to publish with.
    Ready(Settings),
}

/// What one record's metric line needs beyond its result.
#[derive(Debug, Default)]
struct Measured {
    /// The layer it named, once known.
    layer: Option<String>,
    publish_took: Option<Duration>,
}

/// How long before Lambda's deadline a record stops looking for a publish
/// that got no answer: time left to record what it finds, or to fail
/// cleanly.
const ANSWER_MARGIN: Duration = Duration::from_secs(20);

/// The function's timeout in `template.yaml`, assumed when the invocation
/// names no deadline (`layerctl invoke`, tests).
const ASSUMED_TIMEOUT: Duration = Duration::from_secs(120);

impl<A: Ports> Publisher<A, SystemClock> {
    /// A publisher on the system clock, writing no metric lines (the
    /// function turns them on: `with_metrics`).
    pub fn new(aws: A, config: Config, region: impl Into<String>) -> Self {
        Self::with_clock(aws, SystemClock, config, region)
    }
}

impl<A: Ports, C: Clock> Publisher<A, C> {
    /// A publisher on `clock`, writing no metric lines.
    pub fn with_clock(aws: A, clock: C, config: Config, region: impl Into<String>) -> Self {
        Self {
            aws,
            clock,
            config: Arc::new(config),
            region: Arc::from(region.into()),
            metrics: MetricsLog::Off,
        }
    }

    /// The same, its metric lines going to `metrics`.
    pub fn with_metrics(self, metrics: MetricsLog) -> Self {
        Self { metrics, ..self }
    }

    /// All steps for one record, in a log span that names its zip; the
    /// invocation must answer by `deadline` (Lambda's), when known.
    pub async fn process(
        &self, upload: &Upload, deadline: Option<SystemTime>,
    ) -> Result<Outcome, Problem> {
        let zip = upload.s3_uri();
        let span = info_span!("record", zip = %zip);
        let started = self.clock.now();
        let deadline = deadline.unwrap_or_else(|| started + ASSUMED_TIMEOUT);
        let answer_by = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline);
        let mut measured = Measured::default();
        // Every call of the record waits out throttles until `answer_by`.
        let patient = self.waiting_out_throttles(answer_by);
        let result = patient
            .steps(upload, answer_by, &mut measured)
            .instrument(span)
            .await;
        let throttles = patient.aws.tally();
        let now = self.clock.now();
        let took = now.duration_since(started).unwrap_or_default();
        let record = RecordMetrics::of(
            &zip,
            &result,
            measured.layer.as_deref(),
            self.config.layer_name.as_deref(),
            took,
            measured.publish_took,
        )
        .throttled(throttles.throttled(), throttles.waited());
        self.metrics
            .write(&metrics::line(&self.config.metrics_namespace, now, &record));
        result
    }

    /// This publisher for one record: its calls wait out throttles until
    /// `answer_by` (`throttles.rs`).
    fn waiting_out_throttles(&self, answer_by: SystemTime) -> Publisher<Patient<A, C>, C> {
        Publisher {
            aws: Patient::new(self.aws.clone(), self.clock.clone(), answer_by),
            clock: self.clock.clone(),
            config: self.config.clone(),
            region: self.region.clone(),
            metrics: self.metrics,
        }
    }

    async fn steps(
        &self, upload: &Upload, answer_by: SystemTime, measured: &mut Measured,
    ) -> Result<Outcome, Problem> {
        // 1. Filter.
        if !upload.is_object_created() {
            let reason = format!("{} is not an ObjectCreated event", upload.event_name);
            return Ok(skip(OutcomeKind::Ignored, upload, reason));
        }
        if let Some(prefix) = self.config.artifacts_prefix.as_deref() {
            if !upload.key.starts_with(prefix) {
                let reason = format!(
                    "the key is outside ARTIFACTS_PREFIX ({prefix}), where the function may \
                     neither read nor write: upload under that prefix"
                );
                return Ok(skip(OutcomeKind::Ignored, upload, reason));
            }
        }
        let Some(dir) = LayerDir::of_zip_key(&upload.bucket, &upload.key) else {
            return Ok(skip(
                OutcomeKind::Ignored,
                upload,
                "the key is not a layer.zip",
            ));
        };

        // 2. The zip, as it is now: an event whose object was overwritten
        // since is superseded by the newer upload's own event, even when it
        // arrives last. At the same time, in a deployment that serves one
        // layer, that layer's versions (the HEAD tells whether the upload
        // names it), for the first look: one call's wait less on every
        // record. A deployment serving several layers reads none ahead.
        let guess = self.config.read_ahead_layer();
        let (head, guessed_versions) =
            tokio::join!(self.aws.head(&upload.bucket, &upload.key), async {
                match guess {
                    Some(layer) => Some(self.aws.recent_versions(layer).await),
                    None => None,
                }
            });
        let head = match head {
            Ok(head) => head,
            Err(e) if e.is_access_denied() => return Err(self.unread(upload, true).await),
            Err(e) => return Err(e.into()),
        };
        let Some(head) = head else {
            return Err(self.unread(upload, false).await);
        };
        if let Some(reason) = decide::superseded(&upload.object(), Some(&head.id)) {
            return Ok(skip(OutcomeKind::Superseded, upload, reason));
        }

        // 3. What the upload says about itself.
        let checked = CheckedUpload::new(upload, dir, head, &self.config, answer_by)?;
        measured.layer = Some(checked.layer.clone());
        // A guess that failed or named another layer is read again.
        let prefetched = guessed_versions
            .filter(|_| guess == Some(checked.layer.as_str()))
            .and_then(Result::ok);

        // 4 to 6. Look, plan, act, until done. Deciding writes nothing; to
        // write, take the lease against what was read, and look again if
        // that fails.
        let mut lease = None;
        let settled = self
            .settle(&checked, prefetched, &mut lease, &mut measured.publish_took)
            .await;
        let (result, end) = match settled {
            Ok(outcome) => (Ok(outcome), LeaseEnd::Release),
            Err(failed) => (Err(failed.problem), failed.lease),
        };
        if let Some(lease) = lease {
            match end {
                LeaseEnd::Release => lease.release(&self.aws).await,
                LeaseEnd::KeepUntilExpiry => lease.keep_until_expiry(),
                LeaseEnd::HandOver { version } => {
                    let to = checked.identity();
                    lease
                        .hand_over(&self.aws, &to, version, self.clock.now())
                        .await;
                }
            }
        }
        result
    }

    /// Why the zip's HEAD found nothing (404) or was refused (403,
    /// `denied`). A 404 does not say whether the key or the whole bucket is
    /// missing; a 403 does not say whether the key is missing or unreadable:
    /// S3 answers 403 for a missing key to a caller that may not list it
    /// there, and whether the role's `s3:ListBucket`, held under an
    /// `s3:prefix` condition, counts for that is not documented. A listing
    /// of the key, which the role may make under its prefix, tells (only on
    /// this path).
    async fn unread(&self, upload: &Upload, denied: bool) -> Problem {
        let listed = self.aws.list_after(&upload.bucket, &upload.key, None).await;
        let object = format!("{}/{}", upload.bucket, upload.key);
        match listed {
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") => Problem::BucketNotFound {
                bucket: upload.bucket.clone(),
            },
            Ok(objects) if denied && objects.iter().any(|o| o.key == upload.key) => {
                Problem::LayerZipUnreadable {
                    refused: "its HEAD",
                    why: "A listing of its key shows it exists: the role may not read it.",
                    object,
                }
            }
            Err(_) if denied => Problem::LayerZipUnreadable {
                refused: "its HEAD and the listing of its key",
                why: "It may be missing (S3 answers 403, not 404, for a missing key to a \
                      caller that may not list it) or there and unreadable: nothing here \
                      tells which.",
                object,
            },
            _ => Problem::LayerZipNotFound,
        }
    }

    /// Steps 4 to 6 for a checked upload; a lease taken is left in `lease`,
    /// and how long a publish took in `publish_took`.
    async fn settle(
        &self, checked: &CheckedUpload<'_>, prefetched: Option<Vec<LayerVersion>>,
        lease: &mut Option<Lease>, publish_took: &mut Option<Duration>,
    ) -> Result<Outcome, Failed> {
        let mut wait = Wait::new(self.clock.now(), lease::DEFAULT_LEASE_WAIT);
        let mut progress = decide::Progress {
            dry_run: self.config.dry_run,
            ..Default::default()
        };
        // When the versions already read make a publish likely, the layer's
        // lease and the zip's first bytes are read ahead, beside the first
        // look at the folder: the writes that follow need both, and neither
        // waits for the other. Otherwise the lease is read once the plan
        // says to write.
        let lease_key = checked.lease_key();
        let likely = prefetched
            .as_deref()
            .is_some_and(|recent| decide::likely_to_publish(&checked.md5, recent));
        let read_ahead = likely && !self.config.dry_run;
        let now = self.clock.now();
        let first = facts::look(&self.aws, checked, None, now, None, prefetched);
        let zip_start = OptionFuture::from(likely.then(|| self.check_current_zip(checked)));
        let lease_ahead =
            OptionFuture::from(read_ahead.then(|| lease::read(&self.aws, &lease_key, now)));
        let (first, mut zip_checked, lease_ahead) = tokio::join!(first, zip_start, lease_ahead);
        let mut look = first?;
        // A read ahead that failed is only a guess lost: the plan reads the
        // lease when it needs it.
        look.facts.lease = lease_ahead.and_then(Result::ok);
        let mut claim = Claim::new(&checked.upload.s3_uri());
        // The version a hand-over taken by this record is to finish.
        let mut finishing: Option<i64> = None;
        // The settings the zip's checks resolved, for the publish.
        let mut ready: Option<Settings> = None;
        loop {
            progress.holding_lease = lease.is_some();
            (progress.lease_handed_over, progress.lease_is_own) = match (&lease, &look.facts.lease)
            {
                (None, Some(state)) => {
                    let (identity, etags_are_md5) = (checked.identity(), !checked.head.kms);
                    let folder = &self.aws;
                    claim
                        .assess(folder, &lease_key, state, &identity, etags_are_md5)
                        .await
                }
                _ => (false, false),
            };
            progress.wait_over = wait.is_over(self.clock.now());
            let mut look_again = true;
            match decide::plan(&checked.md5, &look.facts, progress) {
                Step::ReadVersionsAgain => progress.versions_read_again = true,
                Step::Unchanged { latest, records } => {
                    let kept = look.kept_elsewhere.as_deref();
                    return Ok(self.unchanged(checked, latest, records, kept));
                }
                Step::PublishedSinceUpload { version, latest } => {
                    return Ok(self.published_since_upload(checked, version, latest));
                }
                Step::CheckZip => {
                    let zip = match zip_checked.take() {
                        Some(read_with_the_first_look) => read_with_the_first_look,
                        None => self.check_current_zip(checked).await,
                    };
                    match zip? {
                        ZipChecked::Superseded(outcome) => return Ok(*outcome),
                        ZipChecked::Ready(settings) => ready = Some(settings),
                    }
                    progress.zip_checked = true;
                    look_again = false;
                }
                Step::Report(write) => {
                    let kept = look.kept_elsewhere.as_deref();
                    let checked = &checked.with_settings(ready.take());
                    return Ok(self.report(checked, write, kept).await?);
                }
                Step::ReadLease => {
                    let state = lease::read(&self.aws, &lease_key, self.clock.now()).await?;
                    look.facts.lease = Some(state);
                    look_again = false;
                }
                Step::TakeLease => {
                    // The versions are read again at the same time: whatever
                    // another holder published, it published before releasing
                    // the lease as it was read, so before this read begins.
                    // A take that succeeds means nobody took it since: the
                    // plan decides again on these versions, holding it.
                    let state = look.facts.lease.clone();
                    // Taking a lease handed over to this upload: the version
                    // it is to finish.
                    let hand_over = claim
                        .handed_version()
                        .filter(|_| progress.lease_handed_over);
                    let take = self.take_lease(&lease_key, &state, &claim.holder);
                    let (taken, again) = tokio::join!(take, self.look(checked, None, Some(look)));
                    look = match again {
                        Ok(again) => again,
                        Err(problem) => {
                            let mut end = LeaseEnd::Release;
                            if let Ok(Take::Taken(taken)) = taken {
                                // A hand-over taken stays one for the next delivery.
                                if let Some(version) = hand_over {
                                    end = LeaseEnd::HandOver { version };
                                }
                                *lease = Some(taken);
                            }
                            return Err(Failed::leaving(problem, end));
                        }
                    };
                    look_again = false;
                    match taken {
                        Ok(Take::Taken(taken)) => {
                            finishing = hand_over;
                            *lease = Some(taken);
                        }
                        // Another invocation wrote it since it was read (its
                        // write was likely a take), or the answer was lost:
                        // pause, then look again.
                        Ok(Take::NotTaken { attempt }) => {
                            claim.not_taken(attempt);
                            progress.lease_refused = true;
                            look.facts.lease = state;
                        }
                        Err(problem) => return Err(problem.into()),
                    }
                }
                Step::OwnLease => {
                    if let Some(LeaseState::Held { etag, .. }) = &look.facts.lease {
                        info!(lease = %lease_key.s3_uri(), "the lease is this invocation's own: a take whose answer was lost had applied");
                        *lease = Some(Lease::new(&lease_key, etag.clone(), &claim.holder));
                        look_again = false;
                    }
                }
                Step::Wait => {
                    self.clock.sleep(wait.next_pause(&self.clock)).await;
                    progress.lease_refused = false;
                }
                Step::GiveUp => {
                    let now = self.clock.now();
                    let state = look.facts.lease.as_ref().unwrap_or(&LeaseState::Absent);
                    let problem = lease::in_progress(&self.aws, &lease_key, state, now).await;
                    return Err(problem.into());
                }
                Step::Write(Write::Repair { latest, records }) => {
                    // Finishing what a failed delivery of this upload left:
                    // its version's outcome, and handed over again on failure.
                    let finish = finishing == Some(latest.version);
                    let repaired = self.repair(checked, &look, latest, records, finish).await;
                    return repaired.map_err(|problem| match finish {
                        true => Failed::leaving(
                            problem,
                            LeaseEnd::HandOver {
                                version: latest.version,
                            },
                        ),
                        false => problem.into(),
                    });
                }
                Step::Write(Write::Publish(reason)) => {
                    info!(layer = %checked.layer, reason = %reason, "publishing a new layer version");
                    let listed = look.facts.latest.as_ref().map(|v| v.version);
                    // With the settings the checks resolved.
                    let checked = &checked.with_settings(ready.take());
                    return self
                        .publish(checked, &look.staged, listed, publish_took)
                        .await;
                }
            }
            if look_again {
                // Once the lease was read, each look reads it again, and the
                // folder's listing only if the versions changed.
                let lease_was_read = look.facts.lease.is_some();
                let with_lease = (lease_was_read && lease.is_none()).then_some(&lease_key);
                let before = with_lease.and(Some(look));
                look = self.look(checked, with_lease, before).await?;
            }
        }
    }

    async fn look(
        &self, checked: &CheckedUpload<'_>, lease: Option<&LeaseKey>, before: Option<Look>,
    ) -> Result<Look, Problem> {
        facts::look(&self.aws, checked, lease, self.clock.now(), before, None).await
    }

    async fn take_lease(
        &self, lease: &LeaseKey, state: &Option<LeaseState>, holder: &str,
    ) -> Result<Take, Problem> {
        let Some(state) = state else {
            return Err(Problem::Internal("the lease was to be taken unread".into()));
        };
        let now = self.clock.now();
        Ok(lease::take(&self.aws, lease, holder, state, now).await?)
    }

    /// Just before publishing, at once: one ranged GET of the current
    /// object's first bytes (the `superseded` outcome when the zip was
    /// overwritten since the event, an error when it is not a zip), and the
    /// checks on the zip's directory (`zip_check.rs`): the settings to
    /// publish with, or why the layer would break.
    async fn check_current_zip(&self, checked: &CheckedUpload<'_>) -> Result<ZipChecked, Problem> {
        let upload = checked.upload;
        let n = LOCAL_FILE_HEADER.len() as u64;
        let (start, directory) = tokio::join!(
            self.aws.read_start(&upload.bucket, &upload.key, n),
            zip_check::read_facts(&self.aws, checked)
        );
        let start = start?.ok_or(Problem::LayerZipNotFound)?;
        if let Some(reason) = decide::superseded(&checked.event_object(), Some(&start.id)) {
            return Ok(ZipChecked::Superseded(Box::new(skip(
                OutcomeKind::Superseded,
                upload,
                reason,
            ))));
        }
        layer_zip::check_start(&start.bytes)?;
        let Some((facts, read)) = directory? else {
            let reason = "the zip was overwritten or deleted while its directory was read; the \
                          newer upload has its own event";
            return Ok(ZipChecked::Superseded(Box::new(skip(
                OutcomeKind::Superseded,
                upload,
                reason,
            ))));
        };
        Ok(ZipChecked::Ready(zip_check::check(
            &facts,
            &checked.settings,
            read,
        )?))
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

/// An outcome that publishes nothing, logged.
pub(super) fn skip(kind: OutcomeKind, upload: &Upload, reason: impl Into<String>) -> Outcome {
    let outcome = Outcome::skipped(kind, upload, reason);
    info!(
        outcome = outcome.outcome.as_str(),
        reason = outcome.reason.as_deref().unwrap_or_default(),
        "record skipped"
    );
    outcome
}
