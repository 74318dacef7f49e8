//! Change detection: pure decisions from facts the AWS calls gathered.
//!
//! Nothing here calls AWS, so every rule of the contract's steps 2 to 4 is
//! tested directly: which version is the latest, whether an upload is still
//! the current object, whether the lock file changed.

use crate::manifest::ManifestMd5;

/// A published layer version as `ListLayerVersions` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerVersion {
    pub version: i64,
    pub arn: String,
    pub description: String,
    /// ISO 8601, as Lambda reports it.
    pub created: String,
}

/// The newest of `versions`, whatever order they came in.
pub fn newest(versions: &[LayerVersion]) -> Option<&LayerVersion> {
    versions.iter().max_by_key(|v| v.version)
}

/// Whether one page of `ListLayerVersions` already proves which version is
/// the newest. Lambda documents newest-first order; we do not take it on
/// trust: a page that is in strictly descending order, and so is consistent
/// with it, ends the search at its first item; any other page (an emulator
/// listing oldest first, say) makes the caller read every page.
pub fn page_is_newest_first(versions: &[LayerVersion]) -> bool {
    versions.windows(2).all(|w| w[0].version > w[1].version)
}

/// Whether the object the event reported is still the current one, given
/// the current object's (version id, ETag), or `None` when it is gone.
///
/// A late or reordered event for an overwritten zip must neither publish the
/// old bytes nor roll the layer back to the old lock file: checked on the
/// first HEAD, and again (a ranged GET) just before taking the lease to
/// publish. In a
/// versioned bucket the event's version must be the current version;
/// otherwise its ETag the current ETag.
pub fn is_current(
    event_version_id: Option<&str>,
    event_etag: Option<&str>,
    current: Option<(Option<&str>, Option<&str>)>,
) -> bool {
    let Some((current_version, current_etag)) = current else {
        return false;
    };
    match (event_version_id, event_etag) {
        (Some(version), _) => current_version == Some(version),
        (None, Some(etag)) => {
            current_etag.map(|e| e.trim_matches('"')) == Some(etag.trim_matches('"'))
        }
        (None, None) => true,
    }
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
    zip_md5: &ManifestMd5,
    latest: Option<(&'a LayerVersion, Option<&ManifestMd5>)>,
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
            Self::Changed { latest, previous } => {
                write!(
                    f,
                    "the lock file differs from version {latest}'s ({previous})"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: i64) -> LayerVersion {
        LayerVersion {
            version,
            arn: format!("arn:aws:lambda:us-east-1:123456789012:layer:deps:{version}"),
            description: String::new(),
            created: String::new(),
        }
    }

    #[test]
    fn newest_ignores_the_listing_order() {
        assert_eq!(newest(&[]), None);
        assert_eq!(newest(&[v(1), v(3), v(2)]).map(|x| x.version), Some(3));
        assert_eq!(newest(&[v(7), v(5)]).map(|x| x.version), Some(7));
    }

    #[test]
    fn only_a_descending_page_is_trusted() {
        assert!(page_is_newest_first(&[]));
        assert!(page_is_newest_first(&[v(4)]));
        assert!(page_is_newest_first(&[v(9), v(4), v(1)]));
        assert!(!page_is_newest_first(&[v(1), v(2)]));
        assert!(!page_is_newest_first(&[v(3), v(1), v(2)]));
        assert!(!page_is_newest_first(&[v(2), v(2)]));
    }

    #[test]
    fn current_means_same_version_or_same_etag() {
        let now = Some((Some("v2"), Some("e2")));
        assert!(is_current(Some("v2"), Some("e1"), now));
        assert!(!is_current(Some("v1"), Some("e2"), now), "an older version");
        assert!(is_current(None, Some("e2"), Some((None, Some("\"e2\"")))));
        assert!(!is_current(None, Some("e1"), Some((None, Some("e2")))));
        assert!(is_current(None, None, Some((None, None))));
        assert!(!is_current(Some("v2"), Some("e2"), None), "deleted since");
        assert!(!is_current(None, None, None));
    }

    #[test]
    fn change_detection() {
        let a = ManifestMd5::of(b"a");
        let b = ManifestMd5::of(b"b");
        let four = v(4);
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
}
