//! The layer's lease as data, pure: what a listing of it shows
//! ([`LeaseState`]) and the bodies its holders write (held: exactly
//! [`HELD_LEASE_BYTES`], handed over: exactly [`HANDED_OVER_LEASE_BYTES`], so
//! a listing tells them apart without a read). How it is read, taken,
//! released and handed over is `publish/lease.rs`.

use crate::domain::manifest::ManifestMd5;
use crate::domain::values::{ListedObject, ObjectId, WriteCondition};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The size of a held lease's body (JSON padded with spaces); a released
/// lease's body is shorter.
pub const HELD_LEASE_BYTES: u64 = 512;

/// The size of a handed-over lease's body (JSON padded with spaces): longer
/// than a held one, so a listing tells the two apart without a read.
pub const HANDED_OVER_LEASE_BYTES: u64 = 1024;

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
    pub fn take_condition(&self) -> Option<WriteCondition<'_>> {
        match self {
            Self::Absent => Some(WriteCondition::Absent),
            Self::Free { etag } | Self::Expired { etag } | Self::HandedOver { etag, .. } => {
                Some(WriteCondition::ETagIs(etag))
            }
            Self::Held { .. } => None,
        }
    }

    /// Until when another invocation holds (or handed over) the lease.
    pub fn expiry(&self) -> Option<SystemTime> {
        match self {
            Self::Held { expiry, .. } | Self::HandedOver { expiry, .. } => Some(*expiry),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

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
}
