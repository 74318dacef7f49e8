//! One writer per layer, whatever folder its uploads come from:
//! `layer-autopublish/leases/{layer}.lease` in the upload's bucket, taken
//! with an S3 conditional write on the lease as a listing of it showed it.
//!
//! S3 delivers events at least once, Lambda may run several invocations for
//! one upload at the same time, and several folders may publish to one
//! layer. Each invocation decides from the layer's versions and then one
//! listing of its folder (`facts.rs`), without the lease: an unchanged
//! upload ends there. To write (publish, or repair records) it reads the
//! lease (beside the folder's listing when a publish is likely), takes it
//! with a conditional PUT against what it read: `If-None-Match: *` when
//! there was no lease, `If-Match` on its ETag when it was released or
//! expired; at the same time it reads the versions again, and it decides
//! again on them. Every writer takes the lease before writing and releases
//! it after, so a PUT that succeeds means nobody took it since it was read:
//! whatever another holder published, it published before that read, so
//! before the versions were read again. A refused PUT means "look again".
//!
//! - The lease object is never deleted. Releasing rewrites it (`If-Match`)
//!   with a shorter body, and every body names its holder and the time to
//!   the nanosecond, so the ETag changes at each take and release: a stale
//!   listing can never match again.
//! - A held lease is exactly [`HELD_LEASE_BYTES`] long, so a listing tells
//!   held from released without reading it. It lasts [`LEASE_TTL`] from S3's
//!   own `LastModified`; a crashed holder's lease is taken over after that.
//! - A holder that published a version (it knows which) but could not
//!   finish what follows (records, pointer, sharing, followers, retention,
//!   replicas, event) *hands the lease over*: it rewrites it as exactly
//!   [`HANDED_OVER_LEASE_BYTES`] long, naming the upload and the version.
//!   A delivery of that same upload (Lambda's retry, a duplicate event)
//!   takes it at once and finishes those parts; every other writer waits
//!   for it as for a held lease, until it expires. So Lambda's first retry
//!   finishes the job instead of meeting the function's own lease.
//! - A holder that cannot know what it published (a publish without an
//!   answer, which may still apply) or that crashed keeps the lease: it
//!   expires, and whoever takes it over reads the versions again.

use crate::backoff::Backoff;
use crate::error::{AwsError, Problem};
use crate::layout::{s3_uri, LeaseKey};
use crate::manifest::ManifestMd5;
use crate::ports::{Clock, Folder, ListedObject, ObjectId, SmallObject, WriteCondition};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How long a lease lasts: longer than the function's timeout (120 s in
/// template.yaml), so a live holder never outlives its lease.
pub const LEASE_TTL: Duration = Duration::from_secs(150);

/// How long an invocation waits for another's lease before giving up (and
/// letting Lambda retry the event).
pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(20);

/// The size of a held lease's body (JSON padded with spaces); a released
/// lease's body is shorter.
pub const HELD_LEASE_BYTES: u64 = 512;

/// The size of a handed-over lease's body (JSON padded with spaces): longer
/// than a held one, so a listing tells the two apart without a read.
pub const HANDED_OVER_LEASE_BYTES: u64 = 1024;

/// The ceilings of the first and the longest pause between two looks at a
/// held lease.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// What a held or handed-over lease says, for people reading it (and, for
/// a handed-over one, for the delivery it is handed to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseBody {
    pub holder: String,
    /// Seconds since the Unix epoch, by the holder's clock.
    pub expires_at: u64,
    /// A handed-over lease: the [`upload_identity`] of the upload whose
    /// delivery may take it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_to: Option<String>,
    /// A handed-over lease: the version its holder published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_version: Option<i64>,
}

/// The lease as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Never taken for this layer in this bucket.
    Absent,
    /// Released by its last holder.
    Free { etag: String },
    /// Held by another invocation until `expiry`.
    Held { etag: String, expiry: SystemTime },
    /// Handed over until `expiry` by an invocation that published a version
    /// and failed after: a delivery of the same upload takes it at once
    /// (its body says which); any other writer waits, as for a held one.
    HandedOver { etag: String, expiry: SystemTime },
    /// Held by an invocation that crashed or timed out.
    Expired { etag: String },
}

impl LeaseState {
    /// The lease as `listed` (its object in a listing, if any)
    /// shows it at `now`: a held lease is exactly [`HELD_LEASE_BYTES`] long,
    /// a handed-over one [`HANDED_OVER_LEASE_BYTES`], and either lasts `ttl`
    /// from when S3 last wrote it; any other size, an empty object among
    /// them, is a released one, taken only with `If-Match`.
    pub fn of(listed: Option<&ListedObject>, now: SystemTime, ttl: Duration) -> Self {
        let Some(object) = listed else {
            return Self::Absent;
        };
        let etag = object.etag.clone();
        let handed_over = match object.size {
            HELD_LEASE_BYTES => false,
            HANDED_OVER_LEASE_BYTES => true,
            _ => return Self::Free { etag },
        };
        match object.last_modified.map(|written| written + ttl) {
            Some(expiry) if expiry > now && handed_over => Self::HandedOver { etag, expiry },
            Some(expiry) if expiry > now => Self::Held { etag, expiry },
            _ => Self::Expired { etag },
        }
    }

    /// The condition that takes the lease as it is now; `None` while
    /// another invocation holds it. A handed-over lease is taken with
    /// `If-Match` too: the plan takes it only for the delivery it is
    /// handed to.
    fn take_condition(&self) -> Option<WriteCondition<'_>> {
        match self {
            Self::Absent => Some(WriteCondition::Absent),
            Self::Free { etag } | Self::Expired { etag } | Self::HandedOver { etag, .. } => {
                Some(WriteCondition::ETagIs(etag))
            }
            Self::Held { .. } => None,
        }
    }

    /// Until when another invocation holds (or handed over) the lease.
    fn expiry(&self) -> Option<SystemTime> {
        match self {
            Self::Held { expiry, .. } | Self::HandedOver { expiry, .. } => Some(*expiry),
            _ => None,
        }
    }
}

/// The wait for another invocation's lease: until a deadline, looking again
/// after pauses whose ceiling doubles up to a second.
#[derive(Clone, Debug)]
pub struct Wait {
    deadline: SystemTime,
    pauses: Backoff,
}

impl Wait {
    /// A wait of `wait` from `now`.
    pub fn new(now: SystemTime, wait: Duration) -> Self {
        Self {
            deadline: now + wait,
            pauses: Backoff::new(FIRST_PAUSE, LONGEST_PAUSE),
        }
    }

    pub fn is_over(&self, now: SystemTime) -> bool {
        now >= self.deadline
    }

    /// How long to pause before the next look.
    pub fn next_pause(&mut self, clock: &impl Clock) -> Duration {
        self.pauses.next_pause(clock)
    }
}

/// A lease this invocation holds.
#[derive(Debug)]
pub struct Lease {
    bucket: String,
    key: String,
    etag: String,
    holder: String,
}

/// A stamp no other body of this process (nor, with the pid, of another)
/// repeats: the time to the nanosecond and a counter. It is for uniqueness
/// only, so the process's own clock is the right one.
fn unique_stamp() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}:{nanos}:{n}", std::process::id())
}

/// A name for this invocation's hold, unique to it.
pub fn holder_name(what: &str) -> String {
    format!("{}:{what}", unique_stamp())
}

/// The body of a held lease: exactly [`HELD_LEASE_BYTES`] long, however long
/// the holder's name (its start is kept).
pub fn held_body(holder: &str, expires_at: u64) -> Vec<u8> {
    padded_body(holder, expires_at, None, HELD_LEASE_BYTES)
}

/// The body of a lease handed over to the delivery of the upload `to` (its
/// [`upload_identity`]) to finish `version`: exactly
/// [`HANDED_OVER_LEASE_BYTES`] long.
pub fn handed_over_body(holder: &str, expires_at: u64, to: &str, version: i64) -> Vec<u8> {
    let handed = format!(
        ",\"handed_to\":{},\"layer_version\":{version}",
        Value::from(to)
    );
    padded_body(holder, expires_at, Some(&handed), HANDED_OVER_LEASE_BYTES)
}

/// A lease body of exactly `size` bytes: JSON naming `holder` (cut short
/// until it fits, its start kept), then `extra` fields, padded with spaces.
fn padded_body(holder: &str, expires_at: u64, extra: Option<&str>, size: u64) -> Vec<u8> {
    let limit = size as usize;
    let extra = extra.unwrap_or_default();
    let mut holder = holder.to_owned();
    loop {
        // `Value`'s Display writes a string as JSON, escaped; it cannot fail.
        let json = format!(
            "{{\"holder\":{},\"expires_at\":{expires_at}{extra}}}",
            Value::from(holder.as_str())
        );
        let mut bytes = json.into_bytes();
        if bytes.len() <= limit {
            bytes.resize(limit, b' ');
            return bytes;
        }
        let keep = holder.chars().count().saturating_sub(bytes.len() - limit);
        holder = holder.chars().take(keep).collect();
    }
}

/// What names one upload to a handed-over lease, in a fixed length however
/// long its key: the MD5 of its S3 URI and its object version (versioned
/// bucket) or ETag. A duplicate event or Lambda's retry carries the same.
pub fn upload_identity(zip_uri: &str, object: &ObjectId) -> String {
    let which = match (&object.version_id, &object.etag) {
        (Some(version), _) => format!("version {version}"),
        (None, Some(etag)) => format!("etag {}", etag.trim_matches('"')),
        (None, None) => String::new(),
    };
    ManifestMd5::of(format!("{zip_uri} {which}").as_bytes()).to_string()
}

/// The body of a released lease: shorter than a held one, and new each time.
fn released_body(holder: &str) -> Vec<u8> {
    let by: String = holder.chars().take(200).collect();
    format!(
        "{{\"released_by\":{},\"released\":{}}}",
        Value::from(by),
        Value::from(unique_stamp())
    )
    .into_bytes()
}

/// What a take of the lease came to.
#[derive(Debug)]
pub enum Take {
    Taken(Lease),
    /// Not taken as far as the answer tells: refused, or the answer was lost.
    /// The write may still have applied (a lost answer; an SDK retry of an
    /// applied write refused against it): `attempt` is the ETag the lease
    /// then has, the MD5 of the body written. `None`: no write was made.
    NotTaken {
        attempt: Option<String>,
    },
}

/// The lease's state at `now`: one listing of its key (which, unlike a
/// HEAD, says when S3 last wrote it).
pub async fn read<F: Folder>(
    folder: &F, lease: &LeaseKey, now: SystemTime,
) -> Result<LeaseState, AwsError> {
    let listed = folder.list_after(&lease.bucket, &lease.key, None).await?;
    let object = listed.iter().find(|o| o.key == lease.key);
    Ok(LeaseState::of(object, now, LEASE_TTL))
}

/// Takes `lease` as `state` showed it, at `now`, for [`LEASE_TTL`], in the
/// name of `holder`.
pub async fn take<F: Folder>(
    folder: &F, lease: &LeaseKey, holder: &str, state: &LeaseState, now: SystemTime,
) -> Result<Take, AwsError> {
    let Some(condition) = state.take_condition() else {
        return Ok(Take::NotTaken { attempt: None });
    };
    let uri = lease.s3_uri();
    let expires_at = (now + LEASE_TTL)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = held_body(holder, expires_at);
    let attempt = Some(ManifestMd5::of(&body).to_string());
    let etag = match folder
        .put(
            &lease.bucket,
            &lease.key,
            body,
            "application/json",
            condition,
        )
        .await
    {
        Ok(Some(etag)) => etag,
        Ok(None) => return Ok(Take::NotTaken { attempt }),
        Err(e) if e.may_have_applied() => {
            warn!(lease = %uri, error = %e, "the lease write may have applied: looking again");
            return Ok(Take::NotTaken { attempt });
        }
        Err(e) => return Err(e),
    };
    match state {
        LeaseState::Expired { .. } => {
            warn!(lease = %uri, "took over an expired lease (its holder crashed or timed out)");
        }
        LeaseState::HandedOver { .. } => {
            info!(lease = %uri, "took the lease a failed delivery of this upload handed over");
        }
        _ => {}
    }
    Ok(Take::Taken(Lease::new(lease, etag, holder)))
}

/// Whether the lease as the listing shows it is this invocation's own,
/// written by a take whose answer said otherwise: its ETag is one of the
/// `attempts`; or, where ETags are not MD5s (KMS), its body names `holder`
/// (one read, only then).
pub async fn is_own<F: Folder>(
    folder: &F, lease: &LeaseKey, state: &LeaseState, attempts: &[String], holder: &str,
    etags_are_md5: bool,
) -> bool {
    let LeaseState::Held { etag, .. } = state else {
        return false;
    };
    if attempts.is_empty() {
        return false;
    }
    if etags_are_md5 {
        return attempts.contains(etag);
    }
    holder_of(folder, lease).await.as_deref() == Some(holder)
}

/// What `lease` says, when it can be read.
async fn body_of<F: Folder>(folder: &F, lease: &LeaseKey) -> Option<LeaseBody> {
    match folder
        .read_small(&lease.bucket, &lease.key, HANDED_OVER_LEASE_BYTES)
        .await
    {
        Ok(Some(SmallObject::Read(bytes))) => serde_json::from_slice::<LeaseBody>(&bytes).ok(),
        _ => None,
    }
}

/// Who holds `lease`, when it can be read.
async fn holder_of<F: Folder>(folder: &F, lease: &LeaseKey) -> Option<String> {
    body_of(folder, lease).await.map(|body| body.holder)
}

/// Whom a handed-over `lease` is for, from one read: `Some(Some(version))`
/// when it is handed to the upload `identity` ([`upload_identity`]) to
/// finish `version`; `Some(None)` when to another upload (it is waited
/// for); `None` when it could not be read (read again at the next look).
pub async fn handed_to<F: Folder>(
    folder: &F, lease: &LeaseKey, identity: &str,
) -> Option<Option<i64>> {
    let body = body_of(folder, lease).await?;
    Some(match body.handed_to {
        Some(to) if to == identity => body.layer_version,
        _ => None,
    })
}

/// Why an invocation gives up at `now`: another holds `lease`. The holder
/// is read from the lease for the message (worth one read).
pub async fn in_progress<F: Folder>(
    folder: &F, lease: &LeaseKey, state: &LeaseState, now: SystemTime,
) -> Problem {
    let holder = holder_of(folder, lease).await;
    let seconds_left = state.expiry().map_or(0, |expiry| {
        expiry.duration_since(now).map_or(0, |d| d.as_secs())
    });
    Problem::PublishInProgress {
        lease: lease.s3_uri(),
        holder: holder.unwrap_or_else(|| "unknown".into()),
        seconds_left,
    }
}

impl Lease {
    /// `lease`, held by `holder` under `etag`: just taken, or recognised as
    /// this invocation's own (see [`is_own`]).
    pub fn new(lease: &LeaseKey, etag: String, holder: &str) -> Self {
        Self {
            bucket: lease.bucket.clone(),
            key: lease.key.clone(),
            etag,
            holder: holder.to_owned(),
        }
    }

    /// Gives the lease back, only if it is still ours (`If-Match`). A lease
    /// that cannot be released expires by itself: this is logged, not failed.
    pub async fn release<F: Folder>(self, folder: &F) {
        let uri = s3_uri(&self.bucket, &self.key);
        let body = released_body(&self.holder);
        let condition = WriteCondition::ETagIs(&self.etag);
        match folder
            .put(&self.bucket, &self.key, body, "application/json", condition)
            .await
        {
            Ok(Some(_)) => info!(lease = %uri, "lease released"),
            Ok(None) => warn!(lease = %uri, "lease was no longer ours at release"),
            Err(e) => warn!(lease = %uri, error = %e, "lease not released; it expires by itself"),
        }
    }

    /// Leaves the lease to expire: a publish may still apply, and the next
    /// holder must find that out by reading the versions again.
    pub fn keep_until_expiry(self) {
        warn!(lease = %s3_uri(&self.bucket, &self.key), "lease kept until it expires: a publish may still apply");
    }

    /// Hands the lease over to the next delivery of the upload `to` (its
    /// [`upload_identity`]), to finish `version`, only if it is still ours
    /// (`If-Match`); it lasts [`LEASE_TTL`] from now. A hand-over that
    /// fails leaves the lease held: it expires by itself, as a crashed
    /// holder's does.
    pub async fn hand_over<F: Folder>(self, folder: &F, to: &str, version: i64, now: SystemTime) {
        let uri = s3_uri(&self.bucket, &self.key);
        let expires_at = (now + LEASE_TTL)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let holder = format!(
            "{}, handed over to the next delivery of its upload",
            self.holder
        );
        let body = handed_over_body(&holder, expires_at, to, version);
        let condition = WriteCondition::ETagIs(&self.etag);
        match folder
            .put(&self.bucket, &self.key, body, "application/json", condition)
            .await
        {
            Ok(Some(_)) => {
                warn!(lease = %uri, version, "lease handed over: the next delivery of this upload finishes the version")
            }
            Ok(None) => warn!(lease = %uri, "lease was no longer ours to hand over"),
            Err(e) => {
                warn!(lease = %uri, error = %e, "lease not handed over; it expires by itself")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_and_released_bodies_are_told_apart_by_size() {
        let held = held_body("123:456:s3://b/app/layer.zip", 1000);
        assert_eq!(held.len() as u64, HELD_LEASE_BYTES);
        let read: LeaseBody = serde_json::from_slice(&held).unwrap();
        assert_eq!(read.holder, "123:456:s3://b/app/layer.zip");
        let long = held_body(&"k".repeat(2000), 1000);
        assert_eq!(long.len() as u64, HELD_LEASE_BYTES);
        assert!(serde_json::from_slice::<LeaseBody>(&long).is_ok());
        let released = released_body(&"k".repeat(2000));
        assert!((released.len() as u64) < HELD_LEASE_BYTES);
    }

    #[test]
    fn every_body_is_new_so_etags_never_repeat() {
        let a = holder_name("x");
        let b = holder_name("x");
        assert_ne!(a, b);
        assert_ne!(released_body(&a), released_body(&a));
    }

    #[test]
    fn the_lease_state_comes_from_its_size_and_age() {
        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let lease = |size| ListedObject {
            key: "app/layer/publish.lease".into(),
            etag: "e".into(),
            size,
            last_modified: Some(written),
        };
        let ttl = Duration::from_secs(90);
        assert_eq!(LeaseState::of(None, written, ttl), LeaseState::Absent);
        let free = LeaseState::Free { etag: "e".into() };
        assert_eq!(LeaseState::of(Some(&lease(60)), written, ttl), free);
        assert_eq!(LeaseState::of(Some(&lease(0)), written, ttl), free);
        assert_eq!(
            LeaseState::of(
                Some(&lease(HELD_LEASE_BYTES)),
                written + Duration::from_secs(89),
                ttl
            ),
            LeaseState::Held {
                etag: "e".into(),
                expiry: written + ttl
            }
        );
        assert_eq!(
            LeaseState::of(Some(&lease(HELD_LEASE_BYTES)), written + ttl, ttl),
            LeaseState::Expired { etag: "e".into() }
        );
    }

    #[test]
    fn a_handed_over_lease_is_told_by_its_size_and_names_its_upload_and_version() {
        let to = upload_identity("s3://b/app/layer.zip", &ObjectId::default());
        let body = handed_over_body(&"k".repeat(2000), 1000, &to, 7);
        assert_eq!(body.len() as u64, HANDED_OVER_LEASE_BYTES);
        let read: LeaseBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(read.handed_to.as_deref(), Some(to.as_str()));
        assert_eq!(read.layer_version, Some(7));
        let held: LeaseBody = serde_json::from_slice(&held_body("h", 1)).unwrap();
        assert_eq!((held.handed_to, held.layer_version), (None, None));

        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let listed = ListedObject {
            key: "layer-autopublish/leases/deps.lease".into(),
            etag: "e".into(),
            size: HANDED_OVER_LEASE_BYTES,
            last_modified: Some(written),
        };
        let ttl = Duration::from_secs(150);
        assert_eq!(
            LeaseState::of(Some(&listed), written, ttl),
            LeaseState::HandedOver {
                etag: "e".into(),
                expiry: written + ttl
            }
        );
        assert_eq!(
            LeaseState::of(Some(&listed), written + ttl, ttl),
            LeaseState::Expired { etag: "e".into() },
            "a hand-over nobody took expires like a held lease"
        );
    }

    #[test]
    fn an_upload_is_named_by_its_uri_and_its_version_or_etag() {
        let uri = "s3://b/app/layer.zip";
        let id = |version: Option<&str>, etag: Option<&str>| ObjectId {
            version_id: version.map(str::to_owned),
            etag: etag.map(str::to_owned),
        };
        let by_etag = upload_identity(uri, &id(None, Some("e1")));
        assert_eq!(by_etag, upload_identity(uri, &id(None, Some("\"e1\""))));
        assert_ne!(by_etag, upload_identity(uri, &id(None, Some("e2"))));
        assert_ne!(
            by_etag,
            upload_identity("s3://b/other/layer.zip", &id(None, Some("e1")))
        );
        let by_version = upload_identity(uri, &id(Some("v1"), Some("e1")));
        assert_eq!(
            by_version,
            upload_identity(uri, &id(Some("v1"), Some("e2")))
        );
        assert_ne!(
            by_version,
            upload_identity(uri, &id(Some("v2"), Some("e1")))
        );
        assert_eq!(by_version.len(), 32);
    }

    #[test]
    fn only_a_held_lease_cannot_be_taken() {
        let etag = || "e".to_owned();
        assert_eq!(
            LeaseState::Absent.take_condition(),
            Some(WriteCondition::Absent)
        );
        for state in [
            LeaseState::Free { etag: etag() },
            LeaseState::Expired { etag: etag() },
        ] {
            assert_eq!(state.take_condition(), Some(WriteCondition::ETagIs("e")));
        }
        let held = LeaseState::Held {
            etag: etag(),
            expiry: UNIX_EPOCH,
        };
        assert_eq!(held.take_condition(), None);
    }

    #[test]
    fn the_wait_doubles_its_pauses_ceilings_up_to_a_second_and_ends_at_its_deadline() {
        let start = UNIX_EPOCH + Duration::from_secs(1000);
        let mut wait = Wait::new(start, Duration::from_secs(20));
        let clock = crate::fake::ManualClock::default();
        let ceilings = [50, 100, 200, 400, 800, 1000, 1000];
        for ceiling in ceilings {
            let pause = wait.next_pause(&clock).as_millis();
            assert!(pause <= ceiling, "{pause} > {ceiling}");
        }
        assert!(!wait.is_over(start + Duration::from_millis(19_999)));
        assert!(wait.is_over(start + Duration::from_secs(20)));
    }
}
