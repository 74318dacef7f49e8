//! The S3 keys of the contract, all relative to the folder `{dir}` of an
//! uploaded `{dir}/layer.zip`, and the console links the logs carry.
//!
//! ```text
//! {dir}/layer.zip                  the upload (the trigger)
//! {dir}/{manifest}                 the staged lock file the zip was built from
//! {dir}/{NNNNNN}/{manifest}        the lock file of version N
//! {dir}/{NNNNNN}/deployment.json   the deployment record of version N
//! {dir}/last-{manifest}            the lock file of the latest version
//! {dir}/publish-source.zip         unversioned buckets: the checked zip, copied
//!                                  to publish from
//! ```
//!
//! and, outside every folder, one lease per layer:
//!
//! ```text
//! layer-autopublish/leases/{layer}.lease   held by the one invocation writing
//!                                          for the layer, from any folder
//! ```

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters: what a console link's
/// query value must encode.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`UNRESERVED`] but `/` too: how S3 encodes a key in a notification and
/// in `x-amz-copy-source`.
pub const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The file name whose creation triggers the function.
pub const ZIP_FILE_NAME: &str = "layer.zip";

/// Where a bucket keeps its layers' leases (see `lease.rs`): outside every
/// folder, and no key under it ends in `layer.zip`.
pub const LEASES_PREFIX: &str = "layer-autopublish/leases/";

/// The file name of the copy of the checked zip that a publish from an
/// unversioned bucket is made from (see `publish/write.rs`).
pub const PUBLISH_SOURCE_FILE_NAME: &str = "publish-source.zip";

/// The file name of a version's deployment record.
pub const DEPLOYMENT_FILE_NAME: &str = "deployment.json";

/// The folder of one uploaded `layer.zip`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerDir {
    bucket: String,
    /// Without a trailing slash; empty when the zip sits at the bucket's root.
    dir: String,
}

impl LayerDir {
    /// The folder of `key` when its file name is exactly `layer.zip`; `None`
    /// for any other key, which the function must ignore (its own writes among
    /// them, so it can never trigger itself).
    pub fn of_zip_key(bucket: &str, key: &str) -> Option<Self> {
        let (dir, file) = match key.rsplit_once('/') {
            Some((dir, file)) => (dir, file),
            None => ("", key),
        };
        (file == ZIP_FILE_NAME).then(|| Self {
            bucket: bucket.to_owned(),
            dir: dir.to_owned(),
        })
    }

    /// The folder an `s3://bucket/dir` URI names; a trailing `/` or
    /// `/layer.zip` is accepted.
    pub fn from_s3_uri(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{uri:?} is not an s3:// URI (s3://bucket/path/to/layer)"))?;
        let (bucket, dir) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!(
                "{uri:?} names no bucket (s3://bucket/path/to/layer)"
            ));
        }
        let dir = dir.trim_end_matches('/');
        let dir = dir
            .strip_suffix(ZIP_FILE_NAME)
            .map_or(dir, |d| d.trim_end_matches('/'));
        Ok(Self {
            bucket: bucket.to_owned(),
            dir: dir.to_owned(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix of everything in the folder: `{dir}/`, or empty at the
    /// bucket's root.
    pub fn prefix(&self) -> String {
        self.key("")
    }

    fn key(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    pub fn zip_key(&self) -> String {
        self.key(ZIP_FILE_NAME)
    }

    /// Where the uploader stages the lock file next to the zip.
    pub fn staged_manifest_key(&self, manifest: &str) -> String {
        self.key(manifest)
    }

    /// The lock file of layer version `version`.
    pub fn version_manifest_key(&self, version: i64, manifest: &str) -> String {
        self.key(&format!("{}/{manifest}", version_folder(version)))
    }

    /// The deployment record of layer version `version`.
    pub fn deployment_key(&self, version: i64) -> String {
        self.key(&format!(
            "{}/{DEPLOYMENT_FILE_NAME}",
            version_folder(version)
        ))
    }

    /// In an unversioned bucket, the copy of the checked zip Lambda takes.
    pub fn publish_source_key(&self) -> String {
        self.key(PUBLISH_SOURCE_FILE_NAME)
    }

    /// The lock file of the latest published version.
    pub fn last_manifest_key(&self, manifest: &str) -> String {
        self.key(&format!("last-{manifest}"))
    }

    pub fn s3_uri(&self, key: &str) -> String {
        s3_uri(&self.bucket, key)
    }

    /// The version `N` when `key` is `{dir}/{NNNNNN}/{file_name}`: the
    /// inverse of the per-version keys above.
    pub fn version_of(&self, key: &str, file_name: &str) -> Option<i64> {
        let folder = key
            .strip_prefix(&self.prefix())?
            .strip_suffix(file_name)?
            .strip_suffix('/')?;
        let version: i64 = folder.parse().ok()?;
        (version > 0 && version_folder(version) == folder).then_some(version)
    }
}

/// The lease of one layer, in the bucket its uploads come to: one writer per
/// layer, whatever folder the upload came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseKey {
    pub bucket: String,
    pub key: String,
}

impl LeaseKey {
    /// `layer-autopublish/leases/{layer}.lease` in `bucket`; a layer given
    /// by its ARN has its `:` encoded.
    pub fn of_layer(bucket: &str, layer: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key: format!(
                "{LEASES_PREFIX}{}.lease",
                utf8_percent_encode(layer, UNRESERVED)
            ),
        }
    }

    pub fn s3_uri(&self) -> String {
        s3_uri(&self.bucket, &self.key)
    }
}

/// `{NNNNNN}`: the version number zero-padded to six digits, so folders sort
/// in version order.
pub fn version_folder(version: i64) -> String {
    format!("{version:06}")
}

pub fn s3_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The AWS console page of an S3 object.
pub fn console_url_of_object(region: &str, bucket: &str, key: &str) -> String {
    format!(
        "https://console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={}",
        utf8_percent_encode(key, UNRESERVED)
    )
}

/// The AWS console page of a folder.
pub fn console_url_of_folder(region: &str, bucket: &str, prefix: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/s3/buckets/{bucket}?region={region}&prefix={}",
        utf8_percent_encode(prefix, UNRESERVED)
    )
}

/// The AWS console page of a layer version. `layer` may be a name or an ARN;
/// the console wants the name.
pub fn console_url_of_layer_version(region: &str, layer: &str, version: i64) -> String {
    let name = layer.rsplit(':').next().unwrap_or(layer);
    format!(
        "https://{region}.console.aws.amazon.com/lambda/home?region={region}#/layers/{name}/versions/{version}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_back_from_their_keys() {
        let dir = LayerDir::of_zip_key("b", "app/layer.zip").unwrap();
        for version in [1, 42, 999_999, 1_000_000] {
            assert_eq!(
                dir.version_of(&dir.version_manifest_key(version, "uv.lock"), "uv.lock"),
                Some(version)
            );
            assert_eq!(
                dir.version_of(&dir.deployment_key(version), DEPLOYMENT_FILE_NAME),
                Some(version)
            );
        }
        for other in [
            "app/000001/requirements.txt",
            "app/1/uv.lock",
            "app/00000a/uv.lock",
            "app/-00001/uv.lock",
            "app/000001/x/uv.lock",
            "other/000001/uv.lock",
            "app/last-uv.lock",
        ] {
            assert_eq!(dir.version_of(other, "uv.lock"), None, "{other}");
        }
    }

    #[test]
    fn folders_from_s3_uris() {
        for uri in [
            "s3://b/projects/app/layer",
            "s3://b/projects/app/layer/",
            "s3://b/projects/app/layer/layer.zip",
        ] {
            let dir = LayerDir::from_s3_uri(uri).unwrap();
            assert_eq!(dir.zip_key(), "projects/app/layer/layer.zip", "{uri}");
            assert_eq!(dir.prefix(), "projects/app/layer/");
        }
        let root = LayerDir::from_s3_uri("s3://b").unwrap();
        assert_eq!(
            (root.zip_key(), root.prefix()),
            ("layer.zip".into(), "".into())
        );
        assert!(LayerDir::from_s3_uri("b/dir").is_err());
        assert!(LayerDir::from_s3_uri("s3:///dir").is_err());
    }

    #[test]
    fn keys_of_a_nested_folder() {
        let dir = LayerDir::of_zip_key("b", "projects/app/lambda/layer/layer.zip").unwrap();
        assert_eq!(dir.zip_key(), "projects/app/lambda/layer/layer.zip");
        assert_eq!(
            dir.staged_manifest_key("uv.lock"),
            "projects/app/lambda/layer/uv.lock"
        );
        assert_eq!(
            dir.version_manifest_key(3, "uv.lock"),
            "projects/app/lambda/layer/000003/uv.lock"
        );
        assert_eq!(
            dir.deployment_key(12),
            "projects/app/lambda/layer/000012/deployment.json"
        );
        assert_eq!(
            dir.last_manifest_key("uv.lock"),
            "projects/app/lambda/layer/last-uv.lock"
        );
        assert_eq!(
            dir.s3_uri(&dir.zip_key()),
            "s3://b/projects/app/lambda/layer/layer.zip"
        );
    }

    #[test]
    fn keys_at_the_bucket_root() {
        let dir = LayerDir::of_zip_key("b", "layer.zip").unwrap();
        assert_eq!(dir.zip_key(), "layer.zip");
        assert_eq!(
            dir.version_manifest_key(1, "requirements.txt"),
            "000001/requirements.txt"
        );
        assert_eq!(
            dir.last_manifest_key("requirements.txt"),
            "last-requirements.txt"
        );
    }

    #[test]
    fn only_layer_zip_is_a_trigger() {
        for key in [
            "a/layer.zip.tmp",
            "a/my-layer.zip",
            "a/layer.zip/",
            "a/requirements.txt",
            "a/000001/deployment.json",
            "",
        ] {
            assert_eq!(LayerDir::of_zip_key("b", key), None, "{key}");
        }
        assert!(LayerDir::of_zip_key("b", "with space/layer.zip").is_some());
    }

    #[test]
    fn nothing_the_function_writes_is_a_trigger() {
        let dir = LayerDir::of_zip_key("b", "p/layer.zip").unwrap();
        for manifest in ["requirements.txt", "poetry.lock", "uv.lock"] {
            for key in [
                dir.version_manifest_key(1, manifest),
                dir.last_manifest_key(manifest),
                dir.deployment_key(1),
                dir.publish_source_key(),
                LeaseKey::of_layer("b", "deps").key,
            ] {
                assert_eq!(LayerDir::of_zip_key("b", &key), None, "{key}");
                assert!(!key.ends_with(ZIP_FILE_NAME), "{key}");
            }
        }
    }

    #[test]
    fn a_layers_lease_is_one_key_per_layer_outside_the_folders() {
        assert_eq!(
            LeaseKey::of_layer("b", "my-app_deps").s3_uri(),
            "s3://b/layer-autopublish/leases/my-app_deps.lease"
        );
        let arn = "arn:aws:lambda:us-east-1:123456789012:layer:deps";
        assert_eq!(
            LeaseKey::of_layer("b", arn).key,
            "layer-autopublish/leases/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Adeps.lease"
        );
    }

    #[test]
    fn console_urls() {
        assert_eq!(
            console_url_of_object("eu-west-1", "b", "a b/layer.zip"),
            "https://console.aws.amazon.com/s3/object/b?region=eu-west-1&prefix=a%20b%2Flayer.zip"
        );
        assert_eq!(
            console_url_of_layer_version(
                "eu-west-1",
                "arn:aws:lambda:eu-west-1:123456789012:layer:deps",
                4
            ),
            "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/layers/deps/versions/4"
        );
    }
}
