//! One writer per zip folder: a short-lived lease object, `{dir}/publish.lease`,
//! taken with an S3 conditional write.
//!
//! S3 delivers events at least once and Lambda may run several invocations
//! for one upload at the same time. Whoever writes the lease with
//! `If-None-Match: *` publishes; the others wait for it to go, then take it
//! in turn and find the version already published. A holder that crashed
//! leaves its lease behind: it names its expiry, and once that has passed the
//! next invocation replaces it with `If-Match` on its ETag, so two takers of
//! one stale lease can never both win.

use crate::aws::{Aws, SmallObject, WriteCondition};
use crate::error::AwsError;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How long a lease lasts: longer than the function's timeout (60 s in
/// template.yaml), so a live holder never outlives its lease.
pub const LEASE_TTL: Duration = Duration::from_secs(90);

/// How long an invocation waits for another's lease before giving up (and
/// letting Lambda retry the event).
pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(20);

/// A lease is a few dozen bytes of JSON; anything larger is not one.
const MAX_LEASE_BYTES: u64 = 4096;

/// What the lease object holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseBody {
    pub holder: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// A lease this invocation holds.
#[derive(Debug)]
pub struct Lease {
    bucket: String,
    key: String,
    etag: String,
}

/// Why no lease was taken.
#[derive(Debug)]
pub enum LeaseError {
    /// Another invocation held it for the whole wait.
    Held {
        holder: String,
        expires_at: u64,
    },
    Aws(AwsError),
}

impl From<AwsError> for LeaseError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether a lease found in S3 may be replaced at `now`: expired, or not a
/// lease this function wrote (nobody can be holding what it cannot read).
pub fn is_stale(bytes: &[u8], now: u64) -> bool {
    match serde_json::from_slice::<LeaseBody>(bytes) {
        Ok(body) => body.expires_at <= now,
        Err(_) => true,
    }
}

/// Takes the lease at `key`, waiting at most `wait` for another holder.
pub async fn acquire(
    aws: &Aws,
    bucket: &str,
    key: &str,
    holder: &str,
    wait: Duration,
) -> Result<Lease, LeaseError> {
    let give_up = tokio::time::Instant::now() + wait;
    let mut pause = Duration::from_millis(50);
    loop {
        let body = LeaseBody {
            holder: holder.to_owned(),
            expires_at: now_secs() + LEASE_TTL.as_secs(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if let Some(etag) = aws
            .put_object_if(bucket, key, bytes.clone(), WriteCondition::Absent)
            .await?
        {
            return Ok(Lease::new(bucket, key, etag));
        }
        let (current, etag) = match aws.get_small_object(bucket, key, MAX_LEASE_BYTES).await? {
            Some(SmallObject::Read { bytes, etag }) => (bytes, etag),
            // Not a lease this function wrote, so nobody holds it.
            Some(SmallObject::TooLarge { etag, .. }) => (Vec::new(), etag),
            None => continue, // released between our two calls: try again at once
        };
        if is_stale(&current, now_secs()) {
            if let Some(etag) = aws
                .put_object_if(bucket, key, bytes, WriteCondition::ETagIs(&etag))
                .await?
            {
                warn!(lease = %crate::layout::s3_uri(bucket, key), "took over an expired lease (its holder crashed or timed out)");
                return Ok(Lease::new(bucket, key, etag));
            }
            continue; // someone else took it over first
        }
        if tokio::time::Instant::now() >= give_up {
            let held: Option<LeaseBody> = serde_json::from_slice(&current).ok();
            return Err(LeaseError::Held {
                holder: held.as_ref().map(|b| b.holder.clone()).unwrap_or_default(),
                expires_at: held.map(|b| b.expires_at).unwrap_or_default(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

impl Lease {
    fn new(bucket: &str, key: &str, etag: String) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag,
        }
    }

    /// Gives the lease back, only if it is still ours (`If-Match`). A lease
    /// that cannot be released expires by itself: this is logged, not failed.
    pub async fn release(self, aws: &Aws) {
        let uri = crate::layout::s3_uri(&self.bucket, &self.key);
        match aws
            .delete_object_if(&self.bucket, &self.key, &self.etag)
            .await
        {
            Ok(true) => info!(lease = %uri, "lease released"),
            Ok(false) => warn!(lease = %uri, "lease was no longer ours at release"),
            Err(e) => warn!(lease = %uri, error = %e, "lease not released; it expires by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_stale_once_expired_or_unreadable() {
        let body = |expires_at| {
            serde_json::to_vec(&LeaseBody {
                holder: "h".into(),
                expires_at,
            })
            .unwrap()
        };
        assert!(!is_stale(&body(100), 99));
        assert!(is_stale(&body(100), 100));
        assert!(is_stale(&body(100), 101));
        assert!(is_stale(b"", 0));
        assert!(is_stale(b"not json", 0));
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
