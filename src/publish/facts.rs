//! One look at the layer and its folder: the layer's latest version, then
//! one listing of the folder from that version's records on, then only the
//! reads the listing cannot answer (a lock file whose ETag is not its MD5, a
//! staged lock file sorting before the listing); and beside them, when the
//! record is to write, the layer's lease (`lease.rs`). What it finds are the
//! [`Facts`] that `decide::plan` decides from.

use crate::domain::decide::{self, Facts, Records};
use crate::domain::layout::{LayerDir, LeaseKey};
use crate::domain::manifest::{self, ManifestMd5};
use crate::error::{AwsError, Problem};
use crate::ports::{Folder, Layer, LayerVersion, ListedObject, SmallObject};
use crate::publish::checked::CheckedUpload;
use crate::publish::lease;
use crate::publish::snapshot::FolderSnapshot;
use std::time::SystemTime;
use tracing::warn;

/// The staged lock file, known to have the upload's MD5, with the ETag its
/// copies are made conditional on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedLock {
    pub key: String,
    pub etag: String,
}

/// What one look found: the facts, the staged lock file to copy, and where
/// the latest version's lock file is kept when it was recognised under
/// another name than the upload's (the seed's `poetry.lock`).
#[derive(Clone, Debug)]
pub struct Look {
    pub facts: Facts,
    pub staged: Option<StagedLock>,
    pub kept_elsewhere: Option<String>,
}

/// The folder as one look found it: the `before` look's, still deciding,
/// or listed now.
enum Listing {
    Same(Box<Look>),
    Read(Vec<ListedObject>),
}

/// Reads `lease` when given (at `now`), and at the same time the layer's
/// latest version, then the folder, unless the `before` look found the same
/// latest version: then its reading of the folder still decides. A version
/// published since is what changes a decision; a record repaired meanwhile
/// at worst is written again, the same. `prefetched`: the layer's versions,
/// already read at the same time as the zip's HEAD (the first look).
///
/// The lease read here only tells how to take it: the versions that decide
/// a write are read again once it was read, beside the take (`lease.rs`),
/// so this read need not come before them.
pub async fn look<A: Folder + Layer>(
    aws: &A, checked: &CheckedUpload<'_>, lease: Option<&LeaseKey>, now: SystemTime,
    before: Option<Look>, prefetched: Option<Vec<LayerVersion>>,
) -> Result<Look, Problem> {
    let dir = &checked.dir;
    let read_lease = async {
        match lease {
            Some(lease) => lease::read(aws, lease, now).await.map(Some),
            None => Ok(None),
        }
    };
    let read_versions = async {
        match prefetched {
            Some(recent) => Ok(recent),
            None => aws.recent_versions(&checked.layer).await,
        }
    };
    let read_folder = async {
        let recent = read_versions.await?;
        // With the `before` look's latest version, its listing still decides.
        if let Some(before) = before.filter(|b| b.facts.latest.as_ref() == recent.first()) {
            return Ok((recent, Listing::Same(Box::new(before))));
        }
        let latest = recent.first().map(|v| v.version);
        let start_after = FolderSnapshot::start_after(dir, latest);
        let listed = aws
            .list_after(dir.bucket(), &dir.prefix(), start_after.as_deref())
            .await?;
        Ok::<_, AwsError>((recent, Listing::Read(listed)))
    };
    let (lease, folder) = tokio::join!(read_lease, read_folder);
    let (lease, (recent, listing)) = (lease?, folder?);
    let published_since_upload =
        decide::published_since_upload(&checked.md5, &recent, checked.head.last_modified).cloned();
    let objects = match listing {
        Listing::Same(before) => {
            let facts = Facts {
                lease,
                published_since_upload,
                ..before.facts
            };
            return Ok(Look { facts, ..*before });
        }
        Listing::Read(objects) => objects,
    };
    let latest = recent.into_iter().next();
    let latest_number = latest.as_ref().map(|v| v.version);
    let snapshot = FolderSnapshot::new(dir.clone(), latest_number, objects, !checked.head.kms);
    let staged = staged_lock(aws, checked, &snapshot).await?;
    let recorded = match &latest {
        Some(version) => recorded_md5(aws, checked, &snapshot, version).await?,
        None => None,
    };
    let records = match (&latest, &recorded) {
        (Some(version), Some(recorded)) if recorded.md5 == checked.md5 => {
            let kept = recorded.kept_key.as_deref();
            records_of(aws, checked, &snapshot, version.version, kept).await?
        }
        _ => Records::default(),
    };
    let named = |v: &LayerVersion| dir.version_manifest_key(v.version, &checked.manifest);
    let kept_elsewhere = match (&latest, &recorded) {
        (Some(version), Some(recorded)) => recorded
            .kept_key
            .clone()
            .filter(|key| *key != named(version)),
        _ => None,
    };
    let facts = Facts {
        published_since_upload,
        newest_recorded: snapshot.newest_recorded_version(),
        lease,
        lock_file_staged: staged.is_some(),
        recorded: recorded.map(|r| r.md5),
        latest,
        records,
    };
    Ok(Look {
        facts,
        staged,
        kept_elsewhere,
    })
}

/// Step 3's second half: the staged lock file must have the upload's MD5
/// (from its ETag when that is one; read otherwise). `None` when none is
/// staged: the version is still published and recorded, without its lock file.
async fn staged_lock<F: Folder>(
    folder: &F, checked: &CheckedUpload<'_>, snapshot: &FolderSnapshot,
) -> Result<Option<StagedLock>, Problem> {
    let dir = &checked.dir;
    let key = dir.staged_manifest_key(&checked.manifest);
    let listed = if snapshot.covers(&key) {
        snapshot.get(&key).map(|o| (o.etag.clone(), o.size))
    } else {
        // A name sorting before the version folders: not in the listing.
        // It is listed on its own rather than HEADed: a HEAD of a missing key
        // may answer 403 instead of 404 (the role lists under an `s3:prefix`
        // condition only), a listing cannot mistake missing for refused.
        folder
            .list_after(dir.bucket(), &key, None)
            .await?
            .into_iter()
            .find(|listed| listed.key == key)
            .map(|listed| (listed.etag, listed.size))
    };
    let Some((etag, size)) = listed else {
        warn!(
            zip = %checked.upload.s3_uri(),
            manifest = %dir.s3_uri(&key),
            "no staged lock file: the version is still published and recorded, \
             but its lock file cannot be kept; upload the lock file before the zip to keep it"
        );
        return Ok(None);
    };
    let limit = manifest::MAX_MANIFEST_BYTES;
    if size > limit {
        return Err(Problem::ManifestTooLarge {
            manifest: dir.s3_uri(&key),
            size,
            limit,
        });
    }
    // Listed or HEADed, the ETag is the lock file's MD5 unless the bucket
    // uses KMS (the listing's own rule, `FolderSnapshot::md5_of`).
    let from_etag = (!checked.head.kms)
        .then(|| ManifestMd5::parse(&etag))
        .flatten();
    let actual = match from_etag {
        Some(md5) => md5,
        None => match read_lock_file(folder, dir, &key).await? {
            Some(bytes) => ManifestMd5::of(&bytes),
            None => return Ok(None),
        },
    };
    if actual != checked.md5 {
        return Err(Problem::InconsistentManifest {
            manifest: dir.s3_uri(&key),
            expected: checked.md5.to_string(),
            found: format!("has MD5 {actual}"),
        });
    }
    Ok(Some(StagedLock { key, etag }))
}

/// The lock file MD5 recorded for a published version, and where it is
/// kept when it came from a file.
#[derive(Clone, Debug)]
struct Recorded {
    md5: ManifestMd5,
    kept_key: Option<String>,
}

/// The lock file MD5 of a published version: from its description's
/// marker, else (versions published by other tools) from its kept lock
/// file: `{NNNNNN}/{manifest}`, or, when the upload names no lock file and
/// none is kept under the default name, whichever the version's folder keeps
/// (the seed names it by build tool), the one with the upload's MD5 first.
async fn recorded_md5<F: Folder>(
    folder: &F, checked: &CheckedUpload<'_>, snapshot: &FolderSnapshot, version: &LayerVersion,
) -> Result<Option<Recorded>, Problem> {
    if let Some(md5) = manifest::md5_from_description(&version.description) {
        return Ok(Some(Recorded {
            md5,
            kept_key: None,
        }));
    }
    let named = checked
        .dir
        .version_manifest_key(version.version, &checked.manifest);
    let candidates = if checked.manifest_named || snapshot.exists(&named) {
        vec![named]
    } else {
        snapshot.kept_lock_files(version.version)
    };
    let mut first = None;
    for key in candidates {
        let Some(md5) = md5_of_listed(folder, &checked.dir, snapshot, &key).await? else {
            continue;
        };
        let found = Recorded {
            md5,
            kept_key: Some(key),
        };
        if found.md5 == checked.md5 {
            return Ok(Some(found));
        }
        first.get_or_insert(found);
    }
    Ok(first)
}

/// Which records of version `version` exist, for this upload's lock file
/// (kept at `kept_key` when that is where it was recognised).
async fn records_of<F: Folder>(
    folder: &F, checked: &CheckedUpload<'_>, snapshot: &FolderSnapshot, version: i64,
    kept_key: Option<&str>,
) -> Result<Records, Problem> {
    let dir = &checked.dir;
    let last = dir.last_manifest_key(&checked.manifest);
    let last_md5 = md5_of_listed(folder, dir, snapshot, &last).await?;
    let named = dir.version_manifest_key(version, &checked.manifest);
    Ok(Records {
        version_copy: snapshot.exists(kept_key.unwrap_or(&named)),
        last_is_latest: last_md5.as_ref() == Some(&checked.md5),
        deployment: snapshot.exists(&dir.deployment_key(version)),
    })
}

/// The MD5 of a lock file the listing shows: its ETag when that is one, its
/// bytes otherwise; `None` when it is not there.
async fn md5_of_listed<F: Folder>(
    folder: &F, dir: &LayerDir, snapshot: &FolderSnapshot, key: &str,
) -> Result<Option<ManifestMd5>, Problem> {
    if !snapshot.exists(key) {
        return Ok(None);
    }
    if let Some(md5) = snapshot.md5_of(key) {
        return Ok(Some(md5));
    }
    let bytes = read_lock_file(folder, dir, key).await?;
    Ok(bytes.map(|bytes| ManifestMd5::of(&bytes)))
}

/// A lock file's bytes (`None` when absent), refusing one too large to be a
/// lock file. Only where an ETag is not an MD5.
pub(crate) async fn read_lock_file<F: Folder>(
    folder: &F, dir: &LayerDir, key: &str,
) -> Result<Option<Vec<u8>>, Problem> {
    let limit = manifest::MAX_MANIFEST_BYTES;
    match folder.read_small(dir.bucket(), key, limit).await? {
        Some(SmallObject::Read(bytes)) => Ok(Some(bytes)),
        Some(SmallObject::TooLarge { size }) => Err(Problem::ManifestTooLarge {
            manifest: dir.s3_uri(key),
            size,
            limit,
        }),
        None => Ok(None),
    }
}
