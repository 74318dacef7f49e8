//! Publishing in the other regions (`REPLICATE_TO`, parsed in
//! `lifecycle/replicas.rs`): each region's own versions decide; else the zip
//! is copied to the region's bucket and published from there, exactly once
//! whatever the answers, as at home (`write.rs`'s `publish_once`); then the
//! region's pointer, sharing and retention.

use super::checked::CheckedUpload;
use super::{Failed, LeaseEnd, Publisher};
use crate::domain::manifest;
use crate::domain::outcome::{OutcomeKind, Replica};
use crate::domain::values::{LayerVersion, SourceObject};
use crate::error::Problem;
use crate::lifecycle::replicas::Target;
use crate::lifecycle::{pointer, retention, sharing};
use crate::ports::{Clock, Ports};
use tracing::info;

/// `REPLICATE_TO`'s act, run after each publish (`write.rs`).
impl<A: Ports, C: Clock> Publisher<A, C> {
    /// `REPLICATE_TO`: the version in every other region, all at once. A
    /// region that fails fails the record once the others are done; the
    /// redelivery publishes only where the lock file is still missing.
    pub(crate) async fn replicate(
        &self, checked: &CheckedUpload<'_>, home: &LayerVersion,
    ) -> Result<Vec<Replica>, Problem> {
        if self.config.replicate_to.is_empty() {
            return Ok(Vec::new());
        }
        // The bytes that were checked: the zip's version, else the zip
        // while it still has the checked ETag.
        let etag = checked.event_object().etag;
        let source = SourceObject {
            bucket: &checked.upload.bucket,
            key: &checked.upload.key,
            version_id: checked.object_version(),
            etag: etag.as_deref(),
        };
        let targets = &self.config.replicate_to;
        let each = targets
            .iter()
            .map(|target| self.replicate_to(checked, &source, target));
        let results = futures_util::future::join_all(each).await;
        let mut replicas = Vec::new();
        let mut failed = Vec::new();
        let mut publish_pending = false;
        for (target, result) in targets.iter().zip(results) {
            match result {
                Ok(replica) => replicas.push(replica),
                Err(Failed { problem, lease }) => {
                    let said = format!("{}: {}: {problem}", target.region, problem.error_type());
                    failed.push(said);
                    publish_pending |= lease == LeaseEnd::KeepUntilExpiry;
                }
            }
        }
        if !failed.is_empty() {
            return Err(Problem::ReplicasNotPublished {
                version_arn: home.arn.clone(),
                failed,
                publish_pending,
            });
        }
        Ok(replicas)
    }

    /// One region: its own versions decide (its latest already carrying
    /// this lock file is `unchanged`); else the zip is copied to the
    /// region's bucket and published from there, exactly once whatever the
    /// answers, as at home. Then its pointer, sharing and retention.
    async fn replicate_to(
        &self, checked: &CheckedUpload<'_>, source: &SourceObject<'_>, target: &Target,
    ) -> Result<Replica, Failed> {
        let aws = self.aws.in_region(&target.region);
        let latest = aws
            .recent_versions(&checked.layer)
            .await?
            .into_iter()
            .next();
        let listed = latest.as_ref().map(|v| v.version);
        let has_lock = |v: &LayerVersion| manifest::carries(&v.description, &checked.md5);
        let (version, outcome) = match latest.filter(has_lock) {
            Some(version) => (version, OutcomeKind::Unchanged),
            None => {
                let key = checked.dir.publish_source_key();
                // Refused: the zip was overwritten or deleted after it was
                // checked (the newer upload has its own event).
                let Some(copy) = aws.copy_across(source, &target.bucket, &key).await? else {
                    return Err(Problem::LayerZipNotFound.into());
                };
                let layer_description = &self.config.layer_description;
                let description = manifest::describe(layer_description, &checked.md5);
                let source = (target.bucket.as_str(), key.as_str());
                let version = copy.version_id.as_deref();
                let request = self.publish_request(checked, source, version, &description);
                let new = self.publish_once(&aws, checked, &request, listed).await?;
                (new.version, OutcomeKind::Published)
            }
        };
        let layer = checked.layer.as_str();
        let config = &self.config;
        let template = config.latest_parameter.as_deref();
        let pointed = pointer::move_pointer(&aws, template, layer, &version).await?;
        sharing::share(&aws, &config.share_with, layer, &version).await?;
        let keep = config.keep_versions;
        let deleted_versions =
            retention::retain(&aws, keep, None, layer, &version, pointed).await?;
        info!(region = %target.region, layer = %checked.layer, version = version.version, outcome = outcome.as_str(), "replica");
        Ok(Replica {
            region: target.region.clone(),
            outcome: outcome.as_str().to_owned(),
            layer_version: version.version,
            layer_version_arn: version.arn,
            deleted_versions,
        })
    }
}
