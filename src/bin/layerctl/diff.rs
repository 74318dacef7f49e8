//! `layerctl diff`: a unified diff of the lock files the folder keeps for
//! two versions (or of one version and a local file), so that a reviewer
//! sees which packages a layer version changed. Reads S3 only.

use crate::args::DiffArgs;
use crate::defaults;
use crate::failure::Failure;
use crate::report::Report;
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::layout::LayerDir;
use layer_autopublish::domain::manifest::MAX_MANIFEST_BYTES;
use layer_autopublish::ports::{Folder, SmallObject};
use serde::Serialize;
use similar::TextDiff;

#[derive(Serialize)]
struct Diff {
    from: String,
    to: String,
    changed: bool,
    diff: String,
}

pub async fn run(aws: &Aws, report: &Report, args: DiffArgs) -> Result<(), Failure> {
    let folder = LayerDir::from_s3_uri(args.folder.s3_dir()?).map_err(Failure::Rejected)?;
    let manifest = args.manifest_name.unwrap_or_else(defaults::manifest_name);
    let kept = kept_versions(aws, &folder, &manifest).await?;
    let latest = kept.last().copied().ok_or_else(|| {
        Failure::Rejected(format!(
            "{} keeps no version's {manifest} yet (NNNNNN/{manifest})",
            folder.s3_uri(&folder.prefix())
        ))
    })?;

    let (from_name, from_text, to_name, to_text) = match &args.local {
        Some(path) => {
            let version = args.from.unwrap_or(latest);
            let local = std::fs::read(path).map_err(|e| {
                Failure::Rejected(format!("{}: cannot read it: {e}", path.display()))
            })?;
            let (name, text) = read_version(aws, &folder, &manifest, version).await?;
            (name, text, path.display().to_string(), local)
        }
        None => {
            let to = args.to.unwrap_or(latest);
            let from = match args.from {
                Some(from) => from,
                None => kept
                    .iter()
                    .rev()
                    .copied()
                    .find(|v| *v < to)
                    .ok_or_else(|| {
                        Failure::Rejected(format!(
                            "no version before {to} keeps its {manifest}; give --from, or --local"
                        ))
                    })?,
            };
            let (from_name, from_text) = read_version(aws, &folder, &manifest, from).await?;
            let (to_name, to_text) = read_version(aws, &folder, &manifest, to).await?;
            (from_name, from_text, to_name, to_text)
        }
    };
    let old = String::from_utf8_lossy(&from_text);
    let new = String::from_utf8_lossy(&to_text);
    let diff = TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&from_name, &to_name)
        .to_string();
    let changed = !diff.is_empty();
    if report.for_people() {
        if changed {
            print!("{diff}");
        } else {
            println!("{from_name} and {to_name} are the same");
        }
    }
    report.result(&Diff {
        from: from_name,
        to: to_name,
        changed,
        diff,
    });
    Ok(())
}

/// The versions whose lock file the folder keeps, in ascending order.
async fn kept_versions(aws: &Aws, folder: &LayerDir, manifest: &str) -> Result<Vec<i64>, Failure> {
    let mut versions: Vec<i64> = aws
        .list_after(folder.bucket(), &folder.prefix(), None)
        .await?
        .iter()
        .filter_map(|object| folder.version_of(&object.key, manifest))
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

async fn read_version(
    aws: &Aws, folder: &LayerDir, manifest: &str, version: i64,
) -> Result<(String, Vec<u8>), Failure> {
    let key = folder.version_manifest_key(version, manifest);
    let uri = folder.s3_uri(&key);
    match aws
        .read_small(folder.bucket(), &key, MAX_MANIFEST_BYTES)
        .await?
    {
        Some(SmallObject::Read(bytes)) => Ok((uri, bytes)),
        Some(SmallObject::TooLarge { size }) => Err(Failure::Rejected(format!(
            "{uri} is {size} bytes, too large to be a lock file"
        ))),
        None => Err(Failure::Rejected(format!(
            "{uri} does not exist: version {version}'s lock file is not kept"
        ))),
    }
}
