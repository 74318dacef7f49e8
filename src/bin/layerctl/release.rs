//! The release this `layerctl` was built with, for `layerctl deploy`.
//!
//! `make release` puts two files in the wheel's data, which pip installs at
//! `PREFIX/share/layer-autopublish/` beside `PREFIX/bin/layerctl`: the
//! deployable template (plain CloudFormation) and `release.json`, the name
//! and SHA-256 of the function's zip for each processor. The zips are not in
//! the wheel (CI's `pip install layerctl` stays small): the package
//! `layer-autopublish-function`, which `pip install 'layerctl[deploy]'`
//! brings, installs them in the same folder. A zip given with
//! `--function-zip` is deployed only when its SHA-256 is the release's, or
//! when told to trust it.

use crate::failure::Failure;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the wheel's data lands, under the installation's prefix.
const SHARE: &str = "share/layer-autopublish";
const MANIFEST: &str = "release.json";
/// What `pip install 'layerctl[deploy]'` adds: the function's zips.
pub const FUNCTION_PACKAGE: &str = "layer-autopublish-function";

/// `release.json`, as `scripts/release.py` writes it.
#[derive(Debug, Deserialize)]
pub struct Release {
    pub version: String,
    /// The deployable template's file name, in the same folder.
    pub template: String,
    /// The function's zip for each processor (`x86_64`, `arm64`).
    pub zips: BTreeMap<String, Pinned>,
    #[serde(skip)]
    pub dir: PathBuf,
}

/// One function zip of the release.
#[derive(Debug, Deserialize)]
pub struct Pinned {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// The function zip a deploy uploads: its bytes' SHA-256 and where it is.
#[derive(Debug)]
pub struct FunctionZip {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl Release {
    /// The release installed beside this executable.
    pub fn installed() -> Result<Self, Failure> {
        let exe = std::env::current_exe()
            .and_then(|path| path.canonicalize())
            .map_err(|e| Failure::Rejected(format!("where is layerctl installed? {e}")))?;
        let prefix = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        Self::read(&prefix.join(SHARE))
    }

    /// The release described by `dir/release.json`.
    pub fn read(dir: &Path) -> Result<Self, Failure> {
        let manifest = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&manifest).map_err(|e| {
            Failure::Rejected(format!(
                "this layerctl carries no release ({}: {e}): `layerctl deploy` needs layerctl \
                 installed from its package (pip install 'layerctl[deploy]'), or a wheel that \
                 `make release` built",
                manifest.display()
            ))
        })?;
        let mut release: Release = serde_json::from_str(&text).map_err(|e| {
            Failure::Rejected(format!(
                "{} is not a release manifest: {e}",
                manifest.display()
            ))
        })?;
        release.dir = dir.to_owned();
        Ok(release)
    }

    /// The deployable template's text.
    pub fn template(&self) -> Result<String, Failure> {
        let path = self.dir.join(&self.template);
        std::fs::read_to_string(&path).map_err(|e| {
            Failure::Rejected(format!("the release's template {}: {e}", path.display()))
        })
    }

    /// The zip for `architecture`: `given` (`--function-zip`) or the one
    /// the function package installed, checked against the release's
    /// SHA-256 unless `trust` says to deploy another build.
    pub fn function_zip(
        &self, architecture: &str, given: Option<&Path>, trust: bool,
    ) -> Result<FunctionZip, Failure> {
        let pinned = self.zips.get(architecture).ok_or_else(|| {
            Failure::Rejected(format!(
                "release {} has no function zip for {architecture}: it has {}",
                self.version,
                self.zips.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let path = match given {
            Some(path) => path.to_owned(),
            None => self.dir.join(&pinned.name),
        };
        let bytes = read_file(&path).map_err(|e| match given {
            Some(_) => Failure::Rejected(format!("--function-zip {}: {e}", path.display())),
            None => Failure::Rejected(format!(
                "the function's zip for {architecture} is not installed ({}: {e}): install it \
                 with pip install 'layerctl[deploy]=={version}' (the package \
                 {FUNCTION_PACKAGE}, {mib:.1} MiB), or give --function-zip PATH, the release's \
                 {name}",
                path.display(),
                version = self.version,
                mib = pinned.size as f64 / 1_048_576.0,
                name = pinned.name,
            )),
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if sha256 != pinned.sha256 && !trust {
            return Err(Failure::Rejected(format!(
                "{} is not release {}'s function for {architecture}: its SHA-256 is {sha256}, \
                 the release's is {} ({}). Deploy the release's zip, or add \
                 --trust-function-zip to deploy this build",
                path.display(),
                self.version,
                pinned.sha256,
                pinned.name,
            )));
        }
        Ok(FunctionZip {
            path,
            sha256,
            bytes,
        })
    }
}

fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("layerctl-release-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a scratch folder");
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn release_with(dir: &Path, zip: &[u8]) -> Release {
        std::fs::write(dir.join("f-x86_64.zip"), zip).expect("write");
        let manifest = serde_json::json!({
            "version": "9.9.9",
            "template": "t.json",
            "zips": {"x86_64": {"name": "f-x86_64.zip", "sha256": hex::encode(Sha256::digest(b"the build")), "size": 9}},
        });
        std::fs::write(dir.join(MANIFEST), manifest.to_string()).expect("write");
        Release::read(dir).expect("a release")
    }

    #[test]
    fn the_installed_zip_is_deployed_only_when_it_is_the_releases() {
        let scratch = Scratch::new("pinned");
        let release = release_with(&scratch.0, b"the build");
        let zip = release
            .function_zip("x86_64", None, false)
            .expect("the release's zip");
        assert_eq!(zip.bytes, b"the build");
        let other = scratch.0.join("other.zip");
        std::fs::write(&other, b"another build").expect("write");
        let refused = release
            .function_zip("x86_64", Some(&other), false)
            .unwrap_err();
        assert!(
            refused.to_string().contains("--trust-function-zip"),
            "{refused}"
        );
        assert_eq!(refused.exit_code(), 3);
        let trusted = release
            .function_zip("x86_64", Some(&other), true)
            .expect("trusted");
        assert_eq!(
            trusted.sha256,
            hex::encode(Sha256::digest(b"another build"))
        );
        let missing = release.function_zip("arm64", None, false).unwrap_err();
        assert!(
            missing.to_string().contains("no function zip for arm64"),
            "{missing}"
        );
    }

    #[test]
    fn a_missing_function_package_says_how_to_install_it() {
        let scratch = Scratch::new("missing");
        let release = release_with(&scratch.0, b"the build");
        std::fs::remove_file(scratch.0.join("f-x86_64.zip")).expect("remove");
        let missing = release
            .function_zip("x86_64", None, false)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("pip install 'layerctl[deploy]==9.9.9'"),
            "{missing}"
        );
        assert!(missing.contains("--function-zip"), "{missing}");
    }

    #[test]
    fn no_release_says_where_one_comes_from() {
        let scratch = Scratch::new("none");
        let error = Release::read(&scratch.0).unwrap_err().to_string();
        assert!(error.contains("make release"), "{error}");
    }
}
