//! Retention (`KEEP_VERSIONS`): which versions go after a publish, so that
//! the newest N stay. Never the version just published, never the one the
//! latest pointer names.

use crate::domain::layout;
use crate::domain::layout::LayerDir;
use crate::domain::values::LayerVersion;
use crate::error::Problem;
use crate::ports::{Folder, Layer, Parameters};
use tracing::info;

/// The versions to delete, oldest first: all but the `keep` newest of
/// `versions` (any order), minus `published` and `pointed`.
pub fn to_delete(
    versions: &[LayerVersion], keep: usize, published: i64, pointed: Option<i64>,
) -> Vec<i64> {
    let mut numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    numbers.dedup();
    let mut deleted: Vec<i64> = numbers
        .into_iter()
        .skip(keep)
        .filter(|&n| n != published && Some(n) != pointed)
        .collect();
    deleted.reverse();
    deleted
}

/// What the next publish deletes, before it is made: the new version will
/// be the newest, so `keep - 1` of the existing ones stay (none is number 0).
pub fn next_publish_deletes(
    versions: &[LayerVersion], keep: usize, pointed: Option<i64>,
) -> Vec<i64> {
    let not_published_yet = 0;
    to_delete(versions, keep.saturating_sub(1), not_published_yet, pointed)
}

/// The act, run after each publish (`publish/write.rs`), at home and in
/// each region. `KEEP_VERSIONS` (`keep`): deletes `layer`'s versions beyond
/// the newest N, never `version` (just published) nor `pointed` (the
/// pointer's), and with `prune` (`PRUNE_RECORDS`, home only: the folder)
/// their records in that folder. Returns what it deleted.
pub(crate) async fn retain(
    aws: &(impl Layer + Folder), keep: Option<usize>, prune: Option<&LayerDir>, layer: &str,
    version: &LayerVersion, pointed: Option<i64>,
) -> Result<Vec<i64>, Problem> {
    let Some(keep) = keep else {
        return Ok(Vec::new());
    };
    let all = aws.all_versions(layer).await?;
    let deleted = to_delete(&all, keep, version.version, pointed);
    for &old in &deleted {
        aws.delete_layer_version(layer, old).await?;
        if let Some(dir) = prune {
            let folder = format!("{}{}/", dir.prefix(), layout::version_folder(old));
            for record in aws.list_after(dir.bucket(), &folder, None).await? {
                aws.delete(dir.bucket(), &record.key).await?;
            }
        }
    }
    if !deleted.is_empty() {
        info!(layer = %layer, keep, deleted = ?deleted, pruned_records = prune.is_some(), "old versions deleted");
    }
    Ok(deleted)
}

/// `DRY_RUN` with `KEEP_VERSIONS`: the versions a publish now would delete
/// (the new version being the newest), the pointer's (`LATEST_PARAMETER`:
/// `pointer`) kept, oldest first.
pub(crate) async fn would_delete(
    aws: &(impl Layer + Parameters), keep: Option<usize>, pointer: Option<&str>, layer: &str,
) -> Result<Vec<LayerVersion>, Problem> {
    let Some(keep) = keep else {
        return Ok(Vec::new());
    };
    let all = aws.all_versions(layer).await?;
    let pointed = match (pointer, all.first()) {
        (Some(template), Some(latest)) => {
            let name = crate::lifecycle::pointer::parameter_name(template, layer);
            let value = aws.get_parameter(&name).await?;
            value.and_then(|v| crate::lifecycle::pointer::version_named(&v, latest))
        }
        _ => None,
    };
    let numbers = next_publish_deletes(&all, keep, pointed);
    let each = |n| all.iter().find(|v: &&LayerVersion| v.version == n).cloned();
    Ok(numbers.into_iter().filter_map(each).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(numbers: &[i64]) -> Vec<LayerVersion> {
        numbers
            .iter()
            .map(|&version| LayerVersion {
                version,
                arn: String::new(),
                description: String::new(),
                created: String::new(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn the_newest_stay_the_published_and_pointed_too() {
        let all = versions(&[9, 8, 7, 5, 4, 1]);
        assert_eq!(to_delete(&all, 3, 9, None), [1, 4, 5]);
        assert_eq!(
            to_delete(&all, 3, 9, Some(4)),
            [1, 5],
            "the pointer's stays"
        );
        assert_eq!(
            to_delete(&all, 1, 8, Some(9)),
            [1, 4, 5, 7],
            "just published stays"
        );
        assert_eq!(to_delete(&all, 6, 9, None), Vec::<i64>::new());
        assert_eq!(
            to_delete(&versions(&[1, 3, 2]), 1, 3, None),
            [1, 2],
            "any order"
        );
        let next = next_publish_deletes(&all, 3, Some(4));
        assert_eq!(
            next,
            [1, 5, 7],
            "two of the existing stay, and the pointer's"
        );
    }
}
