//! `layerctl status`: the layer's published versions, newest first, what the
//! folder keeps for each, and where the staged zip stands.

use crate::args::StatusArgs;
use crate::calls;
use crate::defaults;
use crate::failure::Failure;
use crate::report::Report;
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::declared::Declared;
use layer_autopublish::domain::layout::LayerDir;
use layer_autopublish::domain::manifest;
use layer_autopublish::domain::metadata;
use layer_autopublish::lifecycle::pointer;
use layer_autopublish::lifecycle::retention;
use layer_autopublish::ports::{Folder, Layer, LayerVersion, Parameters};
use layer_autopublish::publish::snapshot::FolderSnapshot;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Status {
    s3_dir: String,
    layer_name: String,
    manifest_name: String,
    versions: Vec<VersionStatus>,
    staged: Staged,
    /// With `--latest-parameter` (or `LATEST_PARAMETER`): what it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_pointer: Option<LatestPointer>,
    /// Who the latest version is shared with (account ids, `o-…`, `*`).
    shared_with: Vec<String>,
    /// With `--keep-versions` (or `KEEP_VERSIONS`): what retention keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<Retention>,
}

#[derive(Debug, Serialize)]
struct Retention {
    keep: usize,
    /// What the next publish deletes (it becomes the newest).
    next_publish_deletes: Vec<i64>,
}

#[derive(Debug, Serialize)]
struct LatestPointer {
    parameter: String,
    /// The ARN it holds; `None`: not set yet.
    value: Option<String>,
    /// The version of this layer it names, if it names one.
    version: Option<i64>,
}

#[derive(Debug, Serialize)]
struct VersionStatus {
    version: i64,
    created: String,
    /// From the description's marker, else the kept lock file's ETag.
    manifest_md5: Option<String>,
    lock_file_kept: bool,
    deployment_record: bool,
    arn: String,
    /// What it declares (`compatible_runtimes`, `compatible_architectures`,
    /// `license_info`), as Lambda reports it.
    #[serde(flatten)]
    declared: Declared,
}

/// Where the staged `layer.zip` stands against the published versions.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Staged {
    /// No `layer.zip` in the folder.
    Absent,
    /// A `layer.zip` without a valid `manifest-md5`: the function refuses it.
    Invalid,
    /// The latest version has its lock file.
    Published { version: i64, manifest_md5: String },
    /// An older version has its lock file, the latest does not: another
    /// upload was published since.
    Superseded {
        version: i64,
        latest: i64,
        manifest_md5: String,
    },
    /// No version has its lock file yet: the function has not published it
    /// (still running, failed, or not triggered).
    Pending { manifest_md5: String },
}

/// Pure: the state of a zip whose lock file MD5 is `md5` against versions
/// listed newest first with their MD5s.
pub fn staged_state(md5: &str, versions: &[(i64, Option<String>)]) -> Staged {
    let manifest_md5 = md5.to_owned();
    let latest = versions.first().map(|(v, _)| *v);
    match versions.iter().find(|(_, m)| m.as_deref() == Some(md5)) {
        Some((version, _)) if Some(*version) == latest => Staged::Published {
            version: *version,
            manifest_md5,
        },
        Some((version, _)) => Staged::Superseded {
            version: *version,
            latest: latest.unwrap_or(*version),
            manifest_md5,
        },
        None => Staged::Pending { manifest_md5 },
    }
}

pub async fn run(aws: &Aws, report: &Report, args: StatusArgs) -> Result<(), Failure> {
    if args.all {
        return crate::status_all::run(aws, report, args.folder.s3_dir()?).await;
    }
    let folder = LayerDir::from_s3_uri(args.folder.s3_dir()?).map_err(Failure::Rejected)?;
    let zip = aws.head(folder.bucket(), &folder.zip_key()).await?;
    let zip_metadata = zip.as_ref().map(|z| z.metadata.clone()).unwrap_or_default();
    let layer_name = args
        .layer_name
        .or_else(|| metadata::layer_name(&zip_metadata, None).ok().flatten())
        .or_else(defaults::layer_name)
        .ok_or_else(|| {
            Failure::Rejected(
                "which layer? The folder's layer.zip names none: give --layer-name \
                 (or set LAYER_NAME)"
                    .to_owned(),
            )
        })?;
    let default_manifest = defaults::manifest_name();
    let manifest_name = args.manifest_name.unwrap_or_else(|| {
        metadata::manifest_name(&zip_metadata, &default_manifest).unwrap_or(default_manifest)
    });

    let published = aws.all_versions(&layer_name).await?;
    let objects = aws
        .list_after(folder.bucket(), &folder.prefix(), None)
        .await?;
    // The whole folder, read with the function's rule for ETags: an MD5
    // only where the bucket is not KMS-encrypted and the upload was one PUT.
    let kms = zip.as_ref().is_some_and(|head| head.kms);
    let listing = FolderSnapshot::new(folder.clone(), None, objects, !kms);
    let versions: Vec<VersionStatus> = published
        .iter()
        .map(|version| version_status(&folder, &manifest_name, &listing, version))
        .collect();
    let staged = match &zip {
        None => Staged::Absent,
        Some(head) => match metadata::manifest_md5(&head.metadata) {
            Ok(md5) => {
                let listed: Vec<(i64, Option<String>)> = versions
                    .iter()
                    .map(|v| (v.version, v.manifest_md5.clone()))
                    .collect();
                staged_state(&md5.to_string(), &listed)
            }
            Err(_) => Staged::Invalid,
        },
    };
    let latest_pointer = match args.latest_parameter.or_else(defaults::latest_parameter) {
        Some(template) => {
            let parameter = pointer::parameter_name(&template, &layer_name);
            let value = aws.get_parameter(&parameter).await?;
            let version = value
                .as_deref()
                .and_then(|arn| versions.iter().find(|v| v.arn == arn))
                .map(|v| v.version);
            Some(LatestPointer {
                parameter,
                value,
                version,
            })
        }
        None => None,
    };
    let shared_with = match versions.first() {
        Some(latest) => calls::version_grantees(aws, &layer_name, latest.version).await?,
        None => Vec::new(),
    };
    let keep = args
        .keep_versions
        .or_else(defaults::keep_versions)
        .filter(|&n| n > 0);
    let retention = keep.map(|keep| {
        let pointed = latest_pointer.as_ref().and_then(|p| p.version);
        let deletes = retention::next_publish_deletes(&published, keep, pointed);
        Retention {
            keep,
            next_publish_deletes: deletes,
        }
    });
    let status = Status {
        retention,
        shared_with,
        s3_dir: folder.s3_uri(&folder.prefix()),
        layer_name,
        manifest_name,
        versions,
        staged,
        latest_pointer,
    };
    print(report, &status);
    report.result(&status);
    Ok(())
}

fn version_status(
    folder: &LayerDir, manifest_name: &str, listing: &FolderSnapshot, version: &LayerVersion,
) -> VersionStatus {
    let lock_key = folder.version_manifest_key(version.version, manifest_name);
    // Versions published by other tools are matched by their kept lock
    // file's ETag, where it is its MD5, without reading it.
    let kept_md5 = listing.md5_of(&lock_key).map(|md5| md5.to_string());
    VersionStatus {
        version: version.version,
        created: version.created.clone(),
        manifest_md5: manifest::md5_from_description(&version.description)
            .map(|md5| md5.to_string())
            .or(kept_md5),
        lock_file_kept: listing.exists(&lock_key),
        deployment_record: listing.exists(&folder.deployment_key(version.version)),
        arn: version.arn.clone(),
        declared: version.declared.clone(),
    }
}

/// What a version declares, in a line: `python3.12 x86_64 (MIT)`, or `-`.
fn declares(declared: &Declared) -> String {
    let mut said: Vec<String> = declared.runtimes.clone();
    said.extend(declared.architectures.iter().cloned());
    if let Some(license) = &declared.license {
        said.push(format!("({license})"));
    }
    match said.is_empty() {
        true => "-".to_owned(),
        false => said.join(" "),
    }
}

fn print(report: &Report, status: &Status) {
    report.line(format!(
        "layer {} · {} version(s) · folder {} · lock file {}",
        status.layer_name,
        status.versions.len(),
        status.s3_dir,
        status.manifest_name
    ));
    if !status.versions.is_empty() {
        report.line(format!(
            "{:>7}  {:<28}  {:<32}  {:<9}  {:<10}  {}",
            "VERSION", "CREATED", "MANIFEST-MD5", "LOCK FILE", "DEPLOYMENT", "DECLARES"
        ));
    }
    let yes_no = |b: bool| if b { "kept" } else { "missing" };
    for v in &status.versions {
        report.line(format!(
            "{:>7}  {:<28}  {:<32}  {:<9}  {:<10}  {}",
            v.version,
            v.created,
            v.manifest_md5.as_deref().unwrap_or("-"),
            yes_no(v.lock_file_kept),
            yes_no(v.deployment_record),
            declares(&v.declared),
        ));
    }
    report.line(match &status.staged {
        Staged::Absent => "staged layer.zip: none".to_owned(),
        Staged::Invalid => {
            "staged layer.zip: no valid manifest-md5 metadata; the function refuses it".to_owned()
        }
        Staged::Published { version, .. } => {
            format!("staged layer.zip: published, as version {version} (the latest)")
        }
        Staged::Superseded { version, latest, .. } => format!(
            "staged layer.zip: superseded; its lock file is version {version}'s, the latest is {latest}"
        ),
        Staged::Pending { manifest_md5 } => format!(
            "staged layer.zip: pending; no version has its lock file ({manifest_md5}) yet"
        ),
    });
    if let Some(latest) = status.versions.first() {
        report.line(match status.shared_with.as_slice() {
            [] => format!("version {} is shared with nobody else", latest.version),
            grantees => format!(
                "version {} is shared with {}",
                latest.version,
                grantees.join(", ")
            ),
        });
    }
    if let Some(retention) = &status.retention {
        report.line(match retention.next_publish_deletes.as_slice() {
            [] => format!(
                "retention keeps the newest {}: the next publish deletes nothing",
                retention.keep
            ),
            deletes => format!(
                "retention keeps the newest {}: the next publish deletes versions {deletes:?}",
                retention.keep
            ),
        });
    }
    if let Some(pointer) = &status.latest_pointer {
        report.line(match (&pointer.value, pointer.version) {
            (None, _) => format!("latest pointer {}: not set yet", pointer.parameter),
            (Some(arn), Some(version)) => {
                format!(
                    "latest pointer {}: version {version} ({arn})",
                    pointer.parameter
                )
            }
            (Some(value), None) => format!(
                "latest pointer {}: {value} (no version of this layer)",
                pointer.parameter
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staged_zip_against_the_versions() {
        let versions = [
            (3, Some("c".to_owned())),
            (2, None),
            (1, Some("a".to_owned())),
        ];
        assert_eq!(
            staged_state("c", &versions),
            Staged::Published {
                version: 3,
                manifest_md5: "c".into()
            }
        );
        assert_eq!(
            staged_state("a", &versions),
            Staged::Superseded {
                version: 1,
                latest: 3,
                manifest_md5: "a".into()
            }
        );
        assert_eq!(
            staged_state("z", &versions),
            Staged::Pending {
                manifest_md5: "z".into()
            }
        );
        assert_eq!(
            staged_state("z", &[]),
            Staged::Pending {
                manifest_md5: "z".into()
            }
        );
    }
}
