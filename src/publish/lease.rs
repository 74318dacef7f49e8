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
use crate::domain::layout::{s3_uri, LeaseKey};
use crate::domain::lease_state::{
    handed_over_body, held_body, LeaseBody, LeaseState, HANDED_OVER_LEASE_BYTES,
};
use crate::domain::manifest::ManifestMd5;
use crate::error::{AwsError, Problem};
use crate::ports::{Clock, Folder, SmallObject, WriteCondition};
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

/// The ceilings of the first and the longest pause between two looks at a
/// held lease.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

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

/// One record's dealings with the layer's lease between its looks: its
/// name as a holder, the takes whose answer said "not taken" although they
/// may have applied (their ETags), and the hand-over it read.
#[derive(Debug)]
pub struct Claim {
    /// One name for this record's takes.
    pub holder: String,
    attempts: Vec<String>,
    /// A lease handed over (by its ETag), and the version it is to finish
    /// when handed to this upload. Read once per hand-over seen, and again
    /// at the next look when the read failed.
    handed: Option<(String, Option<i64>)>,
}

impl Claim {
    /// The claim of the record of the zip at `zip_uri`.
    pub fn new(zip_uri: &str) -> Self {
        Self {
            holder: holder_name(zip_uri),
            attempts: Vec::new(),
            handed: None,
        }
    }

    /// What the lease as `state` shows means to this record, which does not
    /// hold it: whether it is handed over to this upload (its
    /// `identity`), and whether it is this record's own, held under one of
    /// its takes whose answer was lost (see [`is_own`]).
    pub async fn assess<F: Folder>(
        &mut self, folder: &F, lease: &LeaseKey, state: &LeaseState, identity: &str,
        etags_are_md5: bool,
    ) -> (bool, bool) {
        let handed_over = match state {
            LeaseState::HandedOver { etag, .. } => {
                if self.handed.as_ref().map(|(seen, _)| seen) != Some(etag) {
                    let read = handed_to(folder, lease, identity).await;
                    self.handed = read.map(|version| (etag.clone(), version));
                }
                self.handed_version().is_some()
            }
            _ => false,
        };
        let own = is_own(
            folder,
            lease,
            state,
            &self.attempts,
            &self.holder,
            etags_are_md5,
        )
        .await;
        (handed_over, own)
    }

    /// The version a lease handed over to this upload is to finish.
    pub fn handed_version(&self) -> Option<i64> {
        self.handed.as_ref().and_then(|(_, version)| *version)
    }

    /// A take answered "not taken": its ETag, when it may have applied.
    pub fn not_taken(&mut self, attempt: Option<String>) {
        self.attempts.extend(attempt);
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
    use crate::domain::lease_state::HELD_LEASE_BYTES;

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
    fn the_wait_doubles_its_pauses_ceilings_up_to_a_second_and_ends_at_its_deadline() {
        let start = UNIX_EPOCH + Duration::from_secs(1000);
        let mut wait = Wait::new(start, Duration::from_secs(20));
        let clock = crate::adapters::fake::ManualClock::default();
        let ceilings = [50, 100, 200, 400, 800, 1000, 1000];
        for ceiling in ceilings {
            let pause = wait.next_pause(&clock).as_millis();
            assert!(pause <= ceiling, "{pause} > {ceiling}");
        }
        assert!(!wait.is_over(start + Duration::from_millis(19_999)));
        assert!(wait.is_over(start + Duration::from_secs(20)));
    }
}
