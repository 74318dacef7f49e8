//! One writer per zip folder: `{dir}/publish.lease`, taken with an S3
//! conditional write on the lease as the folder's listing showed it.
//!
//! S3 delivers events at least once and Lambda may run several invocations
//! for one upload at the same time. Each decides from the layer's versions
//! and then one listing of the folder (`snapshot.rs`). To write (publish, or
//! repair records) it takes the lease with a conditional PUT against that
//! listing: `If-None-Match: *` when there was no lease, `If-Match` on its
//! ETag when it was released or expired. Every writer takes the lease
//! before writing, so the PUT succeeds only if nobody wrote since the
//! listing, and the decision made from it still holds; a refused PUT means
//! "look again".
//!
//! - The lease object is never deleted. Releasing rewrites it (`If-Match`)
//!   with a shorter body, and every body names its holder and the time to
//!   the nanosecond, so the ETag changes at each take and release: a stale
//!   listing can never match again.
//! - A held lease is exactly [`HELD_LEASE_BYTES`] long, so a listing tells
//!   held from released without reading it. It lasts [`LEASE_TTL`] from S3's
//!   own `LastModified`; a crashed holder's lease is taken over after that.
//! - A holder that published but could not write the records keeps the
//!   lease (it expires): whoever takes it over reads the versions again.

use crate::aws::{Aws, SmallObject, WriteCondition};
use crate::error::AwsError;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How long a lease lasts: longer than the function's timeout (60 s in
/// template.yaml), so a live holder never outlives its lease.
pub const LEASE_TTL: Duration = Duration::from_secs(90);

/// How long an invocation waits for another's lease before giving up (and
/// letting Lambda retry the event).
pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(20);

/// The size of a held lease's body (JSON padded with spaces); a released
/// lease's body is shorter.
pub const HELD_LEASE_BYTES: u64 = 512;

/// What a held lease says, for people reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseBody {
    pub holder: String,
    /// Seconds since the Unix epoch, by the holder's clock.
    pub expires_at: u64,
}

/// The lease as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Never taken in this folder.
    Absent,
    /// Released by its last holder.
    Free { etag: String },
    /// Held by another invocation until `expiry`.
    Held { etag: String, expiry: SystemTime },
    /// Held by an invocation that crashed or timed out.
    Expired { etag: String },
}

/// A lease this invocation holds.
#[derive(Debug)]
pub struct Lease {
    bucket: String,
    key: String,
    etag: String,
    holder: String,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A stamp no other body of this process (nor, with the pid, of another)
/// repeats: the time to the nanosecond and a counter.
fn unique_stamp() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}:{nanos}:{n}", std::process::id())
}

/// A name for this invocation's hold, unique to it.
pub fn holder_name(what: &str) -> String {
    format!("{}:{what}", unique_stamp())
}

/// The body of a held lease: exactly [`HELD_LEASE_BYTES`] long.
pub fn held_body(holder: &str, expires_at: u64) -> Vec<u8> {
    let limit = usize::try_from(HELD_LEASE_BYTES).unwrap_or(512);
    let mut holder = holder.to_owned();
    loop {
        let body = LeaseBody {
            holder: holder.clone(),
            expires_at,
        };
        let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
        if bytes.len() <= limit {
            bytes.resize(limit, b' ');
            return bytes;
        }
        // Too long a name (a very long key): keep its start.
        let keep = holder.chars().count().saturating_sub(bytes.len() - limit);
        holder = holder.chars().take(keep).collect();
    }
}

/// The body of a released lease: shorter than a held one.
fn released_body(holder: &str) -> Vec<u8> {
    let by: String = holder.chars().take(200).collect();
    serde_json::to_vec(&serde_json::json!({ "released_by": by, "released": unique_stamp() }))
        .unwrap_or_default()
}

/// Takes the lease as `state` showed it: `Ok(Some)` when taken, `Ok(None)`
/// when another invocation wrote it since (look again), and `Ok(None)`
/// without a call for a lease another invocation holds.
pub async fn take(
    aws: &Aws,
    bucket: &str,
    key: &str,
    holder: &str,
    state: &LeaseState,
    ttl: Duration,
) -> Result<Option<Lease>, AwsError> {
    let condition = match state {
        LeaseState::Absent => WriteCondition::Absent,
        LeaseState::Free { etag } | LeaseState::Expired { etag } => WriteCondition::ETagIs(etag),
        LeaseState::Held { .. } => return Ok(None),
    };
    let body = held_body(holder, now_secs() + ttl.as_secs());
    let Some(etag) = aws.put_object_if(bucket, key, body, condition).await? else {
        return Ok(None);
    };
    if matches!(state, LeaseState::Expired { .. }) {
        warn!(lease = %crate::layout::s3_uri(bucket, key), "took over an expired lease (its holder crashed or timed out)");
    }
    Ok(Some(Lease {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag,
        holder: holder.to_owned(),
    }))
}

/// Who holds the lease at `key`, when it can be read (for the message of a
/// give-up, so worth one read).
pub async fn holder_of(aws: &Aws, bucket: &str, key: &str) -> Option<LeaseBody> {
    match aws.get_small_object(bucket, key, HELD_LEASE_BYTES).await {
        Ok(Some(SmallObject::Read { bytes })) => serde_json::from_slice(&bytes).ok(),
        _ => None,
    }
}

impl Lease {
    /// Gives the lease back, only if it is still ours (`If-Match`). A lease
    /// that cannot be released expires by itself: this is logged, not failed.
    pub async fn release(self, aws: &Aws) {
        let uri = crate::layout::s3_uri(&self.bucket, &self.key);
        let body = released_body(&self.holder);
        match aws
            .put_object_if(
                &self.bucket,
                &self.key,
                body,
                WriteCondition::ETagIs(&self.etag),
            )
            .await
        {
            Ok(Some(_)) => info!(lease = %uri, "lease released"),
            Ok(None) => warn!(lease = %uri, "lease was no longer ours at release"),
            Err(e) => warn!(lease = %uri, error = %e, "lease not released; it expires by itself"),
        }
    }

    /// Leaves the lease to expire: the folder's records are not complete,
    /// and the next holder must find that out by reading the versions again.
    pub fn keep_until_expiry(self) {
        warn!(lease = %crate::layout::s3_uri(&self.bucket, &self.key), "lease kept until it expires: a version was published but its records are not complete");
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
    fn the_lease_outlives_the_function_timeout() {
        let template = include_str!("../template.yaml");
        let timeout: u64 = template
            .lines()
            .find_map(|l| l.trim().strip_prefix("Timeout:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        assert!(LEASE_TTL.as_secs() > timeout);
        assert!(DEFAULT_LEASE_WAIT.as_secs() < timeout);
    }
}
