//! The lock file ("manifest") as the function sees it: its MD5, and the
//! `manifest-md5:<hex>` marker that ties a layer version to the lock file it
//! was built from.
//!
//! The marker lives in the version's description because that is the one
//! place Lambda returns with every `ListLayerVersions` item: change detection
//! then costs no extra call for versions this function published.

use md5::{Digest, Md5};
use std::fmt;

/// Prefix of the marker at the end of every description this function writes.
pub const MARKER: &str = "manifest-md5:";

/// Lambda's limit on a layer version's description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// The largest lock file the function reads (large `poetry.lock` files are
/// a few MB); a larger object under a lock file's name is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// The most characters of human text that fit beside the marker (and one space).
pub const MAX_HUMAN_DESCRIPTION_CHARS: usize = MAX_DESCRIPTION_CHARS - MARKER.len() - 32 - 1;

/// A lowercase hex MD5 digest of a lock file's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ManifestMd5(String);

impl ManifestMd5 {
    /// The MD5 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Md5::digest(bytes)))
    }

    /// Parses 32 hex digits, ignoring surrounding white space. Upper case is
    /// accepted (some tools print it) and stored as lower case, so two spellings
    /// of one digest compare equal.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Self(text.to_ascii_lowercase()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ManifestMd5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The description of a new layer version: the human text, then the marker.
///
/// The human text is cut (at a character boundary) so the whole stays within
/// Lambda's 256 characters; the marker is never cut, since change detection
/// depends on it.
pub fn describe(human: &str, md5: &ManifestMd5) -> String {
    let human = human.trim();
    let marker = format!("{MARKER}{md5}");
    if human.is_empty() {
        return marker;
    }
    let cut: String = human.chars().take(MAX_HUMAN_DESCRIPTION_CHARS).collect();
    format!("{} {marker}", cut.trim_end())
}

/// The MD5 recorded in a version's description, if it carries a valid marker.
///
/// The last marker wins: a description copied from another version and then
/// re-marked must report the newest digest.
pub fn md5_from_description(description: &str) -> Option<ManifestMd5> {
    let start = description.rfind(MARKER)? + MARKER.len();
    let digest = description.get(start..start + 32)?;
    let rest = &description[start + 32..];
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    ManifestMd5::parse(digest)
}

/// Whether a version's description carries the marker of `md5`: the one
/// test of "this version was published from this lock file".
pub fn carries(description: &str, md5: &ManifestMd5) -> bool {
    md5_from_description(description).as_ref() == Some(md5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_inputs() {
        assert_eq!(
            ManifestMd5::of(b"").as_str(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            ManifestMd5::of(b"requests==2.32.3\n").as_str(),
            "211c06919374057484ac6936024311c6"
        );
    }

    #[test]
    fn parse_accepts_hex_only() {
        let upper = ManifestMd5::parse(" D41D8CD98F00B204E9800998ECF8427E\n");
        assert_eq!(upper, Some(ManifestMd5::of(b"")));
        assert_eq!(ManifestMd5::parse("d41d8cd98f00b204e9800998ecf8427"), None);
        assert_eq!(ManifestMd5::parse("z41d8cd98f00b204e9800998ecf8427e"), None);
        assert_eq!(ManifestMd5::parse(""), None);
        assert_eq!(ManifestMd5::parse("é1d8cd98f00b204e9800998ecf8427e"), None);
    }

    #[test]
    fn describe_round_trips_through_the_marker() {
        let md5 = ManifestMd5::of(b"x");
        for human in ["", "  ", "My layer", "déjà vu"] {
            let text = describe(human, &md5);
            assert_eq!(md5_from_description(&text), Some(md5.clone()), "{text}");
            assert!(text.ends_with(&format!("manifest-md5:{md5}")));
        }
        assert_eq!(describe("", &md5), format!("manifest-md5:{md5}"));
        assert_eq!(describe(" team ", &md5), format!("team manifest-md5:{md5}"));
    }

    #[test]
    fn describe_stays_within_lambdas_limit() {
        let md5 = ManifestMd5::of(b"x");
        let long = "é".repeat(400);
        let text = describe(&long, &md5);
        assert_eq!(text.chars().count(), MAX_DESCRIPTION_CHARS);
        assert_eq!(md5_from_description(&text), Some(md5));
    }

    #[test]
    fn descriptions_without_a_valid_marker_record_nothing() {
        assert_eq!(md5_from_description(""), None);
        assert_eq!(md5_from_description("built by hand"), None);
        assert_eq!(md5_from_description("manifest-md5:"), None);
        assert_eq!(md5_from_description("manifest-md5:not-a-digest"), None);
        let digest = "d41d8cd98f00b204e9800998ecf8427e";
        assert_eq!(
            md5_from_description(&format!("manifest-md5:{digest}ff")),
            None,
            "a longer hex run is not an MD5"
        );
    }

    #[test]
    fn the_last_marker_wins() {
        let old = ManifestMd5::of(b"old");
        let new = ManifestMd5::of(b"new");
        let text = format!("copied from manifest-md5:{old}; manifest-md5:{new}");
        assert_eq!(md5_from_description(&text), Some(new));
    }
}
