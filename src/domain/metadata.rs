//! The user metadata an uploader puts on `layer.zip`, and the rules for the
//! names it may carry (shared with the configuration, which supplies defaults).

use crate::domain::manifest::ManifestMd5;
use std::collections::HashMap;

/// Metadata keys for the lock file's MD5: ours, then the one
/// `aws_lambda_artifact_builder` writes.
pub const MANIFEST_MD5_KEYS: [&str; 2] = ["manifest-md5", "manifest_md5"];
pub const MANIFEST_NAME_KEY: &str = "manifest-name";
pub const LAYER_NAME_KEY: &str = "layer-name";

/// Longest lock file name accepted; S3 keys are at most 1024 bytes and the
/// name is used inside several of them.
const MAX_MANIFEST_NAME_BYTES: usize = 255;

/// Lambda's limit on a layer name or ARN.
const MAX_LAYER_NAME_CHARS: usize = 140;

/// Why the `manifest-md5` metadata cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Md5Problem {
    Missing,
    NotAnMd5(String),
}

/// Looks a metadata key up regardless of case (S3 lower-cases user metadata
/// names, other tools might not).
pub(crate) fn lookup<'a>(metadata: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Whether the upload names its lock file (`manifest-name`); the seed's
/// uploads never do.
pub fn names_manifest(metadata: &HashMap<String, String>) -> bool {
    lookup(metadata, MANIFEST_NAME_KEY).is_some()
}

/// The lock file's MD5 as the uploader recorded it.
pub fn manifest_md5(metadata: &HashMap<String, String>) -> Result<ManifestMd5, Md5Problem> {
    let value = MANIFEST_MD5_KEYS
        .iter()
        .find_map(|key| lookup(metadata, key))
        .ok_or(Md5Problem::Missing)?;
    ManifestMd5::parse(value).ok_or_else(|| Md5Problem::NotAnMd5(value.to_owned()))
}

/// The lock file name: from the metadata when present, else `default`.
/// Returns the offending value and the reason when it is not a plain file name.
pub fn manifest_name(
    metadata: &HashMap<String, String>, default: &str,
) -> Result<String, (String, String)> {
    match lookup(metadata, MANIFEST_NAME_KEY) {
        Some(name) => validate_manifest_name(name)
            .map(|()| name.to_owned())
            .map_err(|why| (name.to_owned(), why)),
        None => Ok(default.to_owned()),
    }
}

/// The layer to publish to: from the metadata when present, else `default`.
pub fn layer_name(
    metadata: &HashMap<String, String>, default: Option<&str>,
) -> Result<Option<String>, (String, String)> {
    match lookup(metadata, LAYER_NAME_KEY) {
        Some(name) => validate_layer_name(name)
            .map(|()| Some(name.to_owned()))
            .map_err(|why| (name.to_owned(), why)),
        None => Ok(default.map(str::to_owned)),
    }
}

/// A lock file name must be a plain file name, because the function writes
/// `{dir}/{name}`-derived keys: no folders, no way out of `{dir}`, and no name
/// whose copies could collide with the trigger or the files the function
/// writes (the deployment record, the copy Lambda takes).
pub fn validate_manifest_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > MAX_MANIFEST_NAME_BYTES {
        return Err(format!(
            "it is {} bytes long; at most {MAX_MANIFEST_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    if name.contains(['/', '\\']) {
        return Err(
            "it contains a path separator; give a plain file name such as requirements.txt".into(),
        );
    }
    if name.contains("..") {
        return Err("it contains '..'; give a plain file name such as requirements.txt".into());
    }
    if name.chars().any(char::is_control) {
        return Err("it contains control characters".into());
    }
    if name.ends_with(crate::domain::layout::ZIP_FILE_NAME) {
        return Err(format!(
            "it ends with '{}', so its copies would trigger the function again",
            crate::domain::layout::ZIP_FILE_NAME
        ));
    }
    for own in [
        crate::domain::layout::DEPLOYMENT_FILE_NAME,
        crate::domain::layout::PUBLISH_SOURCE_FILE_NAME,
    ] {
        if name == own {
            return Err(format!("'{own}' is the name of a file the function writes"));
        }
    }
    Ok(())
}

/// A layer name as Lambda accepts it: `[A-Za-z0-9_-]+`, or a layer ARN
/// (`arn:aws:lambda:<region>:<account>:layer:<name>`), at most 140 characters.
pub fn validate_layer_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.chars().count() > MAX_LAYER_NAME_CHARS {
        return Err(format!(
            "it is longer than Lambda's {MAX_LAYER_NAME_CHARS} characters"
        ));
    }
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if plain(name) {
        return Ok(());
    }
    let parts: Vec<&str> = name.split(':').collect();
    let is_arn = matches!(
        parts.as_slice(),
        ["arn", partition, "lambda", region, account, "layer", layer]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && plain(layer)
    );
    if is_arn {
        Ok(())
    } else {
        Err("use letters, digits, '-' and '_' only, or a layer ARN".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const DIGEST: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn md5_from_either_key() {
        for key in ["manifest-md5", "manifest_md5", "Manifest-MD5"] {
            let found = manifest_md5(&meta(&[(key, DIGEST)]));
            assert_eq!(
                found.map(|m| m.to_string()),
                Ok(DIGEST.to_string()),
                "{key}"
            );
        }
    }

    #[test]
    fn md5_missing_or_malformed() {
        assert_eq!(manifest_md5(&meta(&[])), Err(Md5Problem::Missing));
        assert_eq!(
            manifest_md5(&meta(&[("manifest-md5", "abc")])),
            Err(Md5Problem::NotAnMd5("abc".into()))
        );
    }

    #[test]
    fn names_default_when_absent() {
        assert_eq!(
            manifest_name(&meta(&[]), "requirements.txt"),
            Ok("requirements.txt".into())
        );
        assert_eq!(
            manifest_name(&meta(&[("manifest-name", "uv.lock")]), "requirements.txt"),
            Ok("uv.lock".into())
        );
        assert_eq!(layer_name(&meta(&[]), None), Ok(None));
        assert_eq!(
            layer_name(&meta(&[]), Some("deps")),
            Ok(Some("deps".into()))
        );
        assert_eq!(
            layer_name(&meta(&[("layer-name", "other")]), Some("deps")),
            Ok(Some("other".into()))
        );
    }

    #[test]
    fn manifest_names_that_would_escape_or_recurse_are_refused() {
        for bad in [
            "",
            "../requirements.txt",
            "a/b.txt",
            "a\\b",
            "..",
            "x\n",
            "layer.zip",
            "my-layer.zip",
            "deployment.json",
            "publish-source.zip",
        ] {
            assert!(validate_manifest_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_manifest_name(&"a".repeat(256)).is_err());
        for good in ["requirements.txt", "poetry.lock", "uv.lock", "Pipfile.lock"] {
            assert_eq!(validate_manifest_name(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn layer_names_follow_lambdas_pattern() {
        for good in [
            "deps",
            "my_layer-2",
            "arn:aws:lambda:eu-west-1:123456789012:layer:deps",
            "arn:aws-cn:lambda:cn-north-1:123456789012:layer:deps",
        ] {
            assert_eq!(validate_layer_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "my layer",
            "../x",
            "deps:3",
            "arn:aws:lambda:eu-west-1:1234:layer:deps",
            "arn:aws:s3:eu-west-1:123456789012:layer:deps",
        ] {
            assert!(validate_layer_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_layer_name(&"a".repeat(141)).is_err());
    }
}
