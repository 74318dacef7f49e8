//! What one listing of a zip's folder shows: the staged lock file, the
//! latest version's records and the `last-` copy, each with its ETag and
//! size. One `ListObjectsV2` call,
//! started just before the latest version's folder, so its cost does not
//! grow with the number of versions.
//!
//! An ETag is the object's MD5 only for a single-part upload without KMS
//! encryption; [`FolderSnapshot::md5_of`] says so only then, and the caller
//! reads the object otherwise.

use crate::domain::layout::{version_folder, LayerDir, DEPLOYMENT_FILE_NAME};
use crate::domain::manifest::ManifestMd5;
use crate::ports::ListedObject;
use std::collections::HashMap;

/// The listing of one folder, from just before the latest version's records.
#[derive(Clone, Debug)]
pub struct FolderSnapshot {
    dir: LayerDir,
    start_after: Option<String>,
    objects: HashMap<String, ListedObject>,
    /// Whether ETags may be taken for MD5s (no KMS in this bucket).
    etags_are_md5: bool,
}

impl FolderSnapshot {
    /// Where the listing starts for a layer whose latest version is
    /// `latest`: right before `{dir}/{NNNNNN}` of that version, so older
    /// versions' records are skipped. `None` (the whole folder) before the
    /// first version.
    pub fn start_after(dir: &LayerDir, latest: Option<i64>) -> Option<String> {
        latest.map(|version| format!("{}{}", dir.prefix(), version_folder(version)))
    }

    pub fn new(
        dir: LayerDir, latest: Option<i64>, objects: Vec<ListedObject>, etags_are_md5: bool,
    ) -> Self {
        let start_after = Self::start_after(&dir, latest);
        Self {
            dir,
            start_after,
            objects: objects.into_iter().map(|o| (o.key.clone(), o)).collect(),
            etags_are_md5,
        }
    }

    /// Whether the listing shows `key` at all (it exists or not); false for
    /// keys sorting before the start, which the caller must look up itself.
    pub fn covers(&self, key: &str) -> bool {
        self.start_after.as_deref().is_none_or(|start| key > start)
    }

    /// The object at `key`, when the listing covers it and it exists.
    pub fn get(&self, key: &str) -> Option<&ListedObject> {
        self.objects.get(key)
    }

    pub fn exists(&self, key: &str) -> bool {
        self.objects.contains_key(key)
    }

    /// The MD5 of `key` from its ETag, when the ETag is one.
    pub fn md5_of(&self, key: &str) -> Option<ManifestMd5> {
        let object = self.objects.get(key)?;
        if !self.etags_are_md5 {
            return None;
        }
        ManifestMd5::parse(&object.etag)
    }

    /// The keys of the files kept in version `version`'s folder but its
    /// deployment record: its lock file, whatever its name. Sorted.
    pub fn kept_lock_files(&self, version: i64) -> Vec<String> {
        let folder = format!("{}{}/", self.dir.prefix(), version_folder(version));
        let mut keys: Vec<String> = self
            .objects
            .keys()
            .filter(|key| {
                key.strip_prefix(&folder)
                    .is_some_and(|name| !name.contains('/') && name != DEPLOYMENT_FILE_NAME)
            })
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// The newest version whose deployment record the folder holds.
    /// Newer than the latest version Lambda listed means another invocation
    /// published after that list was read.
    pub fn newest_recorded_version(&self) -> Option<i64> {
        self.objects
            .keys()
            .filter_map(|key| self.dir.version_of(key, DEPLOYMENT_FILE_NAME))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> LayerDir {
        LayerDir::of_zip_key("b", "app/layer/layer.zip").unwrap()
    }

    fn object(key: &str, etag: &str, size: u64) -> ListedObject {
        ListedObject {
            key: key.into(),
            etag: etag.into(),
            size,
            last_modified: None,
        }
    }

    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn the_listing_starts_at_the_latest_versions_records() {
        assert_eq!(FolderSnapshot::start_after(&dir(), None), None);
        let start = FolderSnapshot::start_after(&dir(), Some(7)).unwrap();
        assert_eq!(start, "app/layer/000007");
        let snapshot = FolderSnapshot::new(dir(), Some(7), vec![], true);
        for covered in [
            "app/layer/000007/requirements.txt",
            "app/layer/000007/deployment.json",
            "app/layer/000012/deployment.json",
            "app/layer/last-requirements.txt",
            "app/layer/layer.zip",
            "app/layer/publish-source.zip",
            "app/layer/requirements.txt",
            "app/layer/uv.lock",
        ] {
            assert!(snapshot.covers(covered), "{covered}");
        }
        for skipped in [
            "app/layer/000006/requirements.txt",
            "app/layer/.requirements.txt",
            "app/layer/0.lock",
        ] {
            assert!(!snapshot.covers(skipped), "{skipped}");
        }
    }

    #[test]
    fn etags_are_md5s_only_when_they_can_be() {
        let objects = vec![
            object("app/layer/requirements.txt", MD5, 10),
            object("app/layer/uv.lock", "0123-2", 10),
        ];
        let plain = FolderSnapshot::new(dir(), None, objects.clone(), true);
        assert_eq!(
            plain
                .md5_of("app/layer/requirements.txt")
                .map(|m| m.to_string()),
            Some(MD5.to_owned())
        );
        assert_eq!(plain.md5_of("app/layer/uv.lock"), None, "multipart");
        assert_eq!(plain.md5_of("app/layer/missing.txt"), None);
        let kms = FolderSnapshot::new(dir(), None, objects, false);
        assert_eq!(kms.md5_of("app/layer/requirements.txt"), None);
    }

    #[test]
    fn newer_records_than_the_listed_latest_are_seen() {
        let snapshot = FolderSnapshot::new(
            dir(),
            Some(7),
            vec![
                object("app/layer/000007/deployment.json", MD5, 1),
                object("app/layer/000008/deployment.json", MD5, 1),
                object("app/layer/000009/requirements.txt", MD5, 1),
            ],
            true,
        );
        assert_eq!(snapshot.newest_recorded_version(), Some(8));
    }

    #[test]
    fn a_versions_kept_lock_files_are_its_folders_files_but_the_record() {
        let listed = [
            "app/layer/000007/poetry.lock",
            "app/layer/000007/deployment.json",
            "app/layer/000007/requirements.txt",
            "app/layer/000007/sub/file",
            "app/layer/000008/uv.lock",
            "app/layer/last-poetry.lock",
        ];
        let objects = listed.iter().map(|k| object(k, MD5, 1)).collect();
        let snapshot = FolderSnapshot::new(dir(), Some(7), objects, true);
        assert_eq!(
            snapshot.kept_lock_files(7),
            [
                "app/layer/000007/poetry.lock",
                "app/layer/000007/requirements.txt"
            ]
        );
        assert!(snapshot.kept_lock_files(9).is_empty());
    }
}
