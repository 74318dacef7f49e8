//! Every decision of one record, pure: nothing here calls AWS or waits, so
//! each rule is tested directly.
//!
//! - [`superseded`]: is the object the event reported still the current one?
//! - [`decide`]: change detection, the upload's lock file MD5 against the
//!   latest version's.
//! - [`plan`]: from what one look at the layer and the folder found
//!   ([`Facts`]) and how far this record got ([`Progress`]), the next
//!   [`Step`]: unchanged, check the zip, take the lease, wait, give up,
//!   publish or repair.
//! - [`check_published_bytes`]: did Lambda take the bytes that were uploaded?

use crate::domain::dates;
use crate::domain::lease_state::LeaseState;
use crate::domain::manifest::{self, ManifestMd5};
use crate::domain::values::{LayerVersion, ObjectId};
use crate::error::Problem;
use std::time::SystemTime;

/// Why the event's object is no longer the current one, or `None` when it
/// is. `event` is what the event reported (its ETag completed from the first
/// HEAD where the event had none); `current` what S3 answers now (`None`:
/// deleted).
///
/// A late or reordered event for an overwritten zip must neither publish the
/// old bytes nor roll the layer back to the old lock file: checked on the
/// first HEAD, and again (a ranged GET, beside the folder's listing) before
/// taking the lease to publish. In a versioned bucket the event's version
/// must be the current version; otherwise its ETag the current ETag.
pub fn superseded(event: &ObjectId, current: Option<&ObjectId>) -> Option<String> {
    let still_current = current.is_some_and(|now| match (&event.version_id, &event.etag) {
        (Some(version), _) => now.version_id.as_ref() == Some(version),
        (None, Some(etag)) => now.etag.as_deref().map(|e| e.trim_matches('"')) == Some(etag),
        (None, None) => true,
    });
    if still_current {
        return None;
    }
    let seen = |id: &ObjectId| {
        format!(
            "version {}, ETag {}",
            id.version_id.as_deref().unwrap_or("-"),
            id.etag.as_deref().unwrap_or("-")
        )
    };
    let now = current.map_or_else(
        || "deleted now".to_owned(),
        |id| format!("{} now", seen(id)),
    );
    Some(format!(
        "the object was overwritten or deleted since this event ({now}, {} in the event); a \
         newer upload has its own event",
        seen(event)
    ))
}

/// Why a new version is to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishReason {
    /// The layer has no version yet.
    FirstVersion,
    /// The latest version's lock file MD5 is recorded nowhere.
    NothingRecorded { latest: i64 },
    /// The lock file differs from the latest version's.
    Changed { latest: i64, previous: ManifestMd5 },
}

/// The outcome of change detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    Publish(PublishReason),
    /// The latest version was built from the same lock file.
    Unchanged(&'a LayerVersion),
}

/// Step 4: compare the zip's lock file with the latest version's, given the
/// latest version and the lock file MD5 recorded for it.
pub fn decide<'a>(
    zip_md5: &ManifestMd5, latest: Option<(&'a LayerVersion, Option<&ManifestMd5>)>,
) -> Decision<'a> {
    match latest {
        None => Decision::Publish(PublishReason::FirstVersion),
        Some((latest, None)) => Decision::Publish(PublishReason::NothingRecorded {
            latest: latest.version,
        }),
        Some((latest, Some(recorded))) if recorded == zip_md5 => Decision::Unchanged(latest),
        Some((latest, Some(recorded))) => Decision::Publish(PublishReason::Changed {
            latest: latest.version,
            previous: recorded.clone(),
        }),
    }
}

impl std::fmt::Display for PublishReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FirstVersion => write!(f, "the layer has no version yet"),
            Self::NothingRecorded { latest } => write!(
                f,
                "version {latest} records no lock file MD5 (no marker, no stored lock file)"
            ),
            Self::Changed { latest, previous } => write!(
                f,
                "the lock file differs from version {latest}'s ({previous})"
            ),
        }
    }
}

/// A version older than the latest that carries this upload's lock file
/// marker and was created after the upload was made (`uploaded`, S3's
/// `LastModified`): the upload has had its version, and another lock file
/// was published since (from this folder or another). A late or repeated
/// event for it must not publish the lock file again; a new upload of it (a
/// deliberate return to it) is newer than that version and does. `recent`
/// is newest first; the latest is not looked at (the same lock file there
/// is plainly unchanged). `None` when the upload's time is unknown.
pub fn published_since_upload<'a>(
    zip_md5: &ManifestMd5, recent: &'a [LayerVersion], uploaded: Option<SystemTime>,
) -> Option<&'a LayerVersion> {
    let uploaded = uploaded?;
    recent.iter().skip(1).find(|version| {
        manifest::carries(&version.description, zip_md5)
            && created_since(version, uploaded) == Some(true)
    })
}

/// Whether `version` was created at or after `uploaded` (S3's
/// `LastModified`, whole seconds); `None` when Lambda's date cannot be read.
fn created_since(version: &LayerVersion, uploaded: SystemTime) -> Option<bool> {
    dates::parse(&version.created).map(|created| created >= uploaded)
}

/// Whether versions just read (`recent`, newest first) make a publish
/// likely: the layer has none, or its latest carries another lock file's
/// marker. A guess for reading ahead what a write needs, never a decision
/// (`plan` decides, from the whole look).
pub fn likely_to_publish(zip_md5: &ManifestMd5, recent: &[LayerVersion]) -> bool {
    match recent.first() {
        None => true,
        Some(latest) => manifest::md5_from_description(&latest.description)
            .is_some_and(|recorded| recorded != *zip_md5),
    }
}

/// Which records of the latest version exist, for this upload's lock file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// `{NNNNNN}/{manifest}`.
    pub version_copy: bool,
    /// `last-{manifest}` holds this lock file.
    pub last_is_latest: bool,
    /// `{NNNNNN}/deployment.json`.
    pub deployment: bool,
}

impl Records {
    /// Nothing to repair: every record that can be written exists. Without
    /// a staged lock file only the deployment record can be written.
    pub fn complete(&self, lock_file_staged: bool) -> bool {
        self.deployment && (!lock_file_staged || (self.version_copy && self.last_is_latest))
    }
}

/// What one look at the layer and then the folder found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub latest: Option<LayerVersion>,
    /// See [`published_since_upload`].
    pub published_since_upload: Option<LayerVersion>,
    /// The lock file MD5 recorded for the latest version.
    pub recorded: Option<ManifestMd5>,
    /// The latest version's records; read only when its lock file is the
    /// upload's (otherwise there is nothing to repair).
    pub records: Records,
    /// The newest version whose deployment record the folder holds.
    pub newest_recorded: Option<i64>,
    /// A lock file with the upload's MD5 is staged beside the zip.
    pub lock_file_staged: bool,
    /// The layer's lease, read only when the record is to write (or likely
    /// to publish): how to take it.
    pub lease: Option<LeaseState>,
}

/// How far one record got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The versions were read again (once is enough: a version deleted by
    /// hand would leave its records behind forever).
    pub versions_read_again: bool,
    /// The current object is still the event's, and a zip.
    pub zip_checked: bool,
    /// This invocation holds the layer's lease.
    pub holding_lease: bool,
    /// The lease the listing shows held is this invocation's own: a take
    /// whose answer was lost or refused had applied.
    pub lease_is_own: bool,
    /// The lease is handed over to this upload's deliveries: a failed
    /// delivery of it published a version and left the rest to finish.
    pub lease_handed_over: bool,
    /// S3 refused the last take of the lease: another invocation wrote it
    /// since the listing.
    pub lease_refused: bool,
    /// The wait for another invocation's lease is over.
    pub wait_over: bool,
    /// `DRY_RUN`: report what would be written.
    pub dry_run: bool,
}

/// What to write under the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write<'f> {
    Publish(PublishReason),
    /// The latest version has this lock file; some of its records are missing.
    Repair {
        latest: &'f LayerVersion,
        records: Records,
    },
}

/// The next step of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<'f> {
    /// Records of a version newer than the listed latest: another invocation
    /// published after the versions were read. Read them again.
    ReadVersionsAgain,
    /// The latest version has this lock file and every record: done.
    Unchanged {
        latest: &'f LayerVersion,
        records: Records,
    },
    /// The upload's lock file was published after the upload was made, and
    /// another since: a late or repeated event. Done, writing nothing.
    PublishedSinceUpload {
        version: &'f LayerVersion,
        latest: &'f LayerVersion,
    },
    /// Before publishing: is the current object still the event's, and a zip?
    CheckZip,
    /// A dry run: report what would be written, write nothing.
    Report(Write<'f>),
    /// To write, read the layer's lease: how to take it.
    ReadLease,
    /// Take the lease as it was read (and read the versions again).
    TakeLease,
    /// The lease held is this invocation's own: hold it.
    OwnLease,
    /// Another invocation holds the lease: pause, then look again.
    Wait,
    /// The wait is over and the lease is still not ours.
    GiveUp,
    /// Under the lease: write.
    Write(Write<'f>),
}

/// The next step, from what was found and how far the record got.
pub fn plan<'f>(zip_md5: &ManifestMd5, facts: &'f Facts, progress: Progress) -> Step<'f> {
    let listed = facts.latest.as_ref().map(|v| v.version);
    if facts.newest_recorded > listed && !progress.versions_read_again {
        return Step::ReadVersionsAgain;
    }
    let latest = facts.latest.as_ref();
    let write = match decide(zip_md5, latest.map(|v| (v, facts.recorded.as_ref()))) {
        Decision::Publish(reason) => match (&facts.published_since_upload, latest) {
            (Some(version), Some(latest)) => {
                return Step::PublishedSinceUpload { version, latest };
            }
            _ => Write::Publish(reason),
        },
        Decision::Unchanged(latest) if facts.records.complete(facts.lock_file_staged) => {
            return Step::Unchanged {
                latest,
                records: facts.records,
            };
        }
        Decision::Unchanged(latest) => Write::Repair {
            latest,
            records: facts.records,
        },
    };
    // Refusing the zip writes nothing at all, so it comes before the lease
    // (and before a dry run's report).
    if matches!(write, Write::Publish(_)) && !progress.zip_checked {
        return Step::CheckZip;
    }
    if progress.dry_run {
        return Step::Report(write);
    }
    if progress.holding_lease {
        return Step::Write(write);
    }
    let Some(lease) = &facts.lease else {
        return Step::ReadLease;
    };
    if progress.lease_is_own {
        return Step::OwnLease;
    }
    let contended = progress.lease_refused
        || match lease {
            LeaseState::Held { .. } => true,
            LeaseState::HandedOver { .. } => !progress.lease_handed_over,
            LeaseState::Absent | LeaseState::Free { .. } | LeaseState::Expired { .. } => false,
        };
    match (contended, progress.wait_over) {
        (false, _) => Step::TakeLease,
        (true, false) => Step::Wait,
        (true, true) => Step::GiveUp,
    }
}

/// Whether `version` may hold this upload's bytes: it was created at or
/// after the upload (`uploaded`, S3's `LastModified`, to the second), or the
/// upload's time is unknown. An older version was published from another
/// build (another folder's zip, or an earlier zip of this lock file): its
/// bytes differing from this upload's are no fault.
pub fn may_hold_the_uploads_bytes(version: &LayerVersion, uploaded: Option<SystemTime>) -> bool {
    uploaded
        .and_then(|uploaded| created_since(version, uploaded))
        .unwrap_or(true)
}

/// When the upload carried a SHA-256, a version's content must be exactly
/// those bytes: anything else (an overwrite racing the publish, a corrupted
/// read) must not be recorded as this lock file's version.
pub fn check_published_bytes(
    uploaded: Option<&str>, version: &LayerVersion, published: Option<&str>,
) -> Result<(), Problem> {
    match (uploaded, published) {
        (Some(uploaded), Some(published)) if uploaded != published => {
            Err(Problem::ChecksumMismatch {
                version_arn: version.arn.clone(),
                published: published.to_owned(),
                uploaded: uploaded.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn v(version: i64, description: &str) -> LayerVersion {
        LayerVersion {
            version,
            arn: format!("arn:aws:lambda:us-east-1:123456789012:layer:deps:{version}"),
            description: description.into(),
            created: String::new(),
            ..Default::default()
        }
    }

    fn id(version: Option<&str>, etag: Option<&str>) -> ObjectId {
        ObjectId {
            version_id: version.map(str::to_owned),
            etag: etag.map(str::to_owned),
        }
    }

    #[test]
    fn current_means_same_version_or_same_etag() {
        let now = id(Some("v2"), Some("e2"));
        assert_eq!(superseded(&id(Some("v2"), Some("e1")), Some(&now)), None);
        let older = superseded(&id(Some("v1"), Some("e2")), Some(&now)).unwrap();
        assert_eq!(
            older,
            "the object was overwritten or deleted since this event (version v2, ETag e2 now, \
             version v1, ETag e2 in the event); a newer upload has its own event"
        );
        let quoted = id(None, Some("\"e2\""));
        assert_eq!(superseded(&id(None, Some("e2")), Some(&quoted)), None);
        assert!(superseded(&id(None, Some("e1")), Some(&id(None, Some("e2")))).is_some());
        assert_eq!(superseded(&id(None, None), Some(&id(None, None))), None);
        let gone = superseded(&id(Some("v2"), Some("e2")), None).unwrap();
        assert!(
            gone.contains("(deleted now, version v2, ETag e2 in the event)"),
            "{gone}"
        );
    }

    #[test]
    fn change_detection() {
        let a = ManifestMd5::of(b"a");
        let b = ManifestMd5::of(b"b");
        let four = v(4, "");
        assert_eq!(
            decide(&a, None),
            Decision::Publish(PublishReason::FirstVersion)
        );
        assert_eq!(
            decide(&a, Some((&four, None))),
            Decision::Publish(PublishReason::NothingRecorded { latest: 4 })
        );
        assert_eq!(
            decide(&a, Some((&four, Some(&a)))),
            Decision::Unchanged(&four)
        );
        assert_eq!(
            decide(&a, Some((&four, Some(&b)))),
            Decision::Publish(PublishReason::Changed {
                latest: 4,
                previous: b.clone()
            })
        );
    }

    const ALL: Records = Records {
        version_copy: true,
        last_is_latest: true,
        deployment: true,
    };

    #[test]
    fn records_are_complete_when_every_one_that_can_be_written_exists() {
        assert!(ALL.complete(true));
        assert!(!Records {
            last_is_latest: false,
            ..ALL
        }
        .complete(true));
        assert!(!Records {
            version_copy: false,
            ..ALL
        }
        .complete(true));
        let only_deployment = Records {
            deployment: true,
            ..Records::default()
        };
        assert!(
            only_deployment.complete(false),
            "nothing else can be written"
        );
        assert!(!Records::default().complete(false));
    }

    /// The lock file of the tests' uploads, and facts in which the latest
    /// version `latest` has `recorded` with `records`.
    fn md5() -> ManifestMd5 {
        ManifestMd5::of(b"requests==2.32.3\n")
    }

    fn facts(
        latest: Option<LayerVersion>, recorded: Option<ManifestMd5>, records: Records,
    ) -> Facts {
        Facts {
            latest,
            published_since_upload: None,
            recorded,
            records,
            newest_recorded: None,
            lock_file_staged: true,
            lease: Some(LeaseState::Absent),
        }
    }

    fn held() -> Option<LeaseState> {
        Some(LeaseState::Held {
            etag: "e".into(),
            expiry: UNIX_EPOCH + Duration::from_secs(90),
        })
    }

    #[test]
    fn an_unchanged_upload_with_every_record_is_done_without_a_write() {
        let f = facts(Some(v(3, "")), Some(md5()), ALL);
        let step = plan(&md5(), &f, Progress::default());
        assert_eq!(
            step,
            Step::Unchanged {
                latest: &v(3, ""),
                records: ALL
            }
        );
        // Whatever the lease, or none read: deciding needs none.
        for lease in [held(), None] {
            let f = Facts { lease, ..f.clone() };
            assert!(matches!(
                plan(&md5(), &f, Progress::default()),
                Step::Unchanged { .. }
            ));
        }
    }

    #[test]
    fn to_write_the_lease_is_read_before_the_versions_again() {
        let unread = Facts {
            lease: None,
            ..facts(None, None, Records::default())
        };
        let checked = Progress {
            zip_checked: true,
            ..Progress::default()
        };
        assert_eq!(plan(&md5(), &unread, checked), Step::ReadLease);
        let read = facts(None, None, Records::default());
        assert_eq!(plan(&md5(), &read, checked), Step::TakeLease);
    }

    #[test]
    fn a_new_lock_file_checks_the_zip_then_takes_the_lease_then_publishes() {
        let f = facts(None, None, Records::default());
        let mut progress = Progress::default();
        assert_eq!(plan(&md5(), &f, progress), Step::CheckZip);
        progress.zip_checked = true;
        assert_eq!(plan(&md5(), &f, progress), Step::TakeLease);
        progress.holding_lease = true;
        assert_eq!(
            plan(&md5(), &f, progress),
            Step::Write(Write::Publish(PublishReason::FirstVersion))
        );
    }

    #[test]
    fn a_publish_is_likely_with_no_version_or_another_marker_on_the_latest() {
        let other = ManifestMd5::of(b"other lock file");
        assert!(likely_to_publish(&md5(), &[]));
        let marked = |m: &ManifestMd5| v(3, &format!("deps manifest-md5:{m}"));
        assert!(likely_to_publish(&md5(), &[marked(&other), marked(&md5())]));
        assert!(!likely_to_publish(
            &md5(),
            &[marked(&md5()), marked(&other)]
        ));
        // Another tool's version: its kept lock file decides; no guess.
        assert!(!likely_to_publish(&md5(), &[v(3, "built by hand")]));
    }

    #[test]
    fn missing_records_are_repaired_under_the_lease_and_need_no_zip_check() {
        let records = Records {
            last_is_latest: false,
            ..ALL
        };
        let f = facts(Some(v(3, "")), Some(md5()), records);
        assert_eq!(plan(&md5(), &f, Progress::default()), Step::TakeLease);
        let holding = Progress {
            holding_lease: true,
            ..Progress::default()
        };
        assert_eq!(
            plan(&md5(), &f, holding),
            Step::Write(Write::Repair {
                latest: &v(3, ""),
                records
            })
        );
    }

    #[test]
    fn a_dry_run_reports_after_the_zip_check_and_takes_no_lease() {
        let f = facts(Some(v(3, "")), Some(ManifestMd5::of(b"old")), ALL);
        let dry = Progress {
            dry_run: true,
            ..Progress::default()
        };
        assert_eq!(plan(&md5(), &f, dry), Step::CheckZip);
        let checked = Progress {
            zip_checked: true,
            ..dry
        };
        assert!(matches!(
            plan(&md5(), &f, checked),
            Step::Report(Write::Publish(PublishReason::Changed { latest: 3, .. }))
        ));
    }

    #[test]
    fn records_newer_than_the_listed_latest_make_it_read_the_versions_once_more() {
        let f = Facts {
            newest_recorded: Some(4),
            ..facts(Some(v(3, "")), Some(ManifestMd5::of(b"old")), ALL)
        };
        assert_eq!(
            plan(&md5(), &f, Progress::default()),
            Step::ReadVersionsAgain
        );
        let again = Progress {
            versions_read_again: true,
            ..Progress::default()
        };
        assert_eq!(plan(&md5(), &f, again), Step::CheckZip, "only once");
    }

    #[test]
    fn a_held_or_refused_lease_is_waited_for_until_the_wait_is_over() {
        let checked = Progress {
            zip_checked: true,
            ..Progress::default()
        };
        let f = Facts {
            lease: held(),
            ..facts(None, None, Records::default())
        };
        assert_eq!(plan(&md5(), &f, checked), Step::Wait);
        let over = Progress {
            wait_over: true,
            ..checked
        };
        assert_eq!(plan(&md5(), &f, over), Step::GiveUp);

        let free = Facts {
            lease: Some(LeaseState::Free { etag: "e".into() }),
            ..f
        };
        let refused = Progress {
            lease_refused: true,
            ..checked
        };
        assert_eq!(plan(&md5(), &free, refused), Step::Wait);
        assert_eq!(
            plan(
                &md5(),
                &free,
                Progress {
                    wait_over: true,
                    ..refused
                }
            ),
            Step::GiveUp
        );
        // A free lease is taken even once the wait is over, if never refused.
        assert_eq!(plan(&md5(), &free, over), Step::TakeLease);
    }

    #[test]
    fn a_lease_handed_over_to_this_upload_is_taken_at_once_and_waited_for_by_others() {
        let handed = Facts {
            lease: Some(LeaseState::HandedOver {
                etag: "e".into(),
                expiry: UNIX_EPOCH + Duration::from_secs(90),
            }),
            ..facts(Some(v(3, "")), Some(md5()), Records::default())
        };
        let other = Progress::default();
        assert_eq!(plan(&md5(), &handed, other), Step::Wait);
        let over = Progress {
            wait_over: true,
            ..other
        };
        assert_eq!(plan(&md5(), &handed, over), Step::GiveUp);
        let ours = Progress {
            lease_handed_over: true,
            ..other
        };
        assert_eq!(plan(&md5(), &handed, ours), Step::TakeLease);
        let lost_the_race = Progress {
            lease_refused: true,
            ..ours
        };
        assert_eq!(
            plan(&md5(), &handed, lost_the_race),
            Step::Wait,
            "another delivery of the same upload took it first"
        );
    }

    #[test]
    fn a_lease_held_under_its_own_attempt_is_held_not_waited_for() {
        let f = Facts {
            lease: held(),
            ..facts(None, None, Records::default())
        };
        let own = Progress {
            zip_checked: true,
            lease_is_own: true,
            ..Progress::default()
        };
        assert_eq!(plan(&md5(), &f, own), Step::OwnLease);
        let over = Progress {
            wait_over: true,
            ..own
        };
        assert_eq!(
            plan(&md5(), &f, over),
            Step::OwnLease,
            "even once the wait is over"
        );
    }

    #[test]
    fn bytes_lambda_took_must_be_the_uploaded_ones_when_known() {
        let version = v(1, "");
        assert!(check_published_bytes(None, &version, Some("a")).is_ok());
        assert!(check_published_bytes(Some("a"), &version, None).is_ok());
        assert!(check_published_bytes(Some("a"), &version, Some("a")).is_ok());
        let mismatch = check_published_bytes(Some("a"), &version, Some("b")).unwrap_err();
        assert_eq!(mismatch.error_type(), "ChecksumMismatch");
    }

    #[test]
    fn only_a_version_created_since_the_upload_may_hold_its_bytes() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(1_795_435_200 + secs);
        let created = |secs: u64| LayerVersion {
            created: dates::format(at(secs)),
            ..v(1, "")
        };
        assert!(may_hold_the_uploads_bytes(&created(10), Some(at(10))));
        assert!(may_hold_the_uploads_bytes(&created(11), Some(at(10))));
        assert!(!may_hold_the_uploads_bytes(&created(9), Some(at(10))));
        assert!(
            may_hold_the_uploads_bytes(&created(9), None),
            "unknown: checked"
        );
        assert!(
            may_hold_the_uploads_bytes(&v(1, ""), Some(at(10))),
            "no date: checked"
        );
    }

    #[test]
    fn a_lock_file_published_after_its_upload_and_superseded_since_is_not_published_again() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(1_795_435_200 + secs);
        let version = |n: i64, marker: &ManifestMd5, secs: u64| LayerVersion {
            created: dates::format(at(secs)),
            ..v(n, &manifest::describe("", marker))
        };
        let other = ManifestMd5::of(b"other");
        let recent = [version(2, &other, 20), version(1, &md5(), 10)];
        let found = published_since_upload(&md5(), &recent, Some(at(5)));
        assert_eq!(
            found.map(|v| v.version),
            Some(1),
            "uploaded before version 1"
        );
        assert_eq!(
            published_since_upload(&md5(), &recent, Some(at(15))),
            None,
            "uploaded again after it"
        );
        assert_eq!(
            published_since_upload(&md5(), &recent, None),
            None,
            "time unknown"
        );
        assert_eq!(
            published_since_upload(&other, &recent, Some(at(5))),
            None,
            "the latest is not looked at"
        );

        let f = Facts {
            published_since_upload: found.cloned(),
            ..facts(Some(recent[0].clone()), Some(other), ALL)
        };
        assert_eq!(
            plan(&md5(), &f, Progress::default()),
            Step::PublishedSinceUpload {
                version: &recent[1],
                latest: &recent[0]
            }
        );
    }
}
