//! Other regions (`REPLICATE_TO`): after the home region's publish, the same
//! zip is published in each region listed, from a bucket of that region
//! (Lambda takes a layer's content only from its own region). Each region
//! decides on its own versions, so a redelivery publishes only where this
//! lock file is missing; the home region's lease covers them all.

use crate::domain::manifest;
use crate::domain::outcome::{OutcomeKind, Replica};
use crate::domain::values::{LayerVersion, SourceObject};
use crate::error::Problem;
use crate::ports::{Clock, Ports};
use crate::publish::checked::CheckedUpload;
use crate::publish::{Failed, LeaseEnd, Publisher};
use tracing::info;
/// One region to publish in, and the bucket of that region the zip is
/// copied to first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    pub bucket: String,
}

/// Parses `REPLICATE_TO`: `region=bucket,region=bucket`.
pub fn parse_list(text: &str) -> Result<Vec<Target>, String> {
    let mut targets: Vec<Target> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((region, bucket)) = entry.split_once('=') else {
            return Err(format!("{entry:?} is not region=bucket"));
        };
        let (region, bucket) = (region.trim(), bucket.trim());
        if !is_region(region) {
            return Err(format!("{region:?} is not a region such as eu-west-1"));
        }
        if !is_bucket_name(bucket) {
            return Err(format!("{bucket:?} is not an S3 bucket name"));
        }
        if targets.iter().any(|t| t.region == region) {
            return Err(format!("{region} is listed twice"));
        }
        targets.push(Target {
            region: region.to_owned(),
            bucket: bucket.to_owned(),
        });
    }
    Ok(targets)
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// S3's rules for bucket names, as far as an ARN built from one cares.
fn is_bucket_name(text: &str) -> bool {
    (3..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The act: run by the publisher after each publish (`publish/write.rs`).
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
        let pointed = self.move_pointer(&aws, checked, &version).await?;
        self.share(&aws, checked, &version).await?;
        let deleted_versions = self.retain(&aws, checked, &version, pointed, false).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_their_buckets_are_read() {
        let targets = parse_list("eu-west-1=layers-eu, us-gov-west-1 = layers.gov,,").unwrap();
        assert_eq!(
            targets,
            [
                Target {
                    region: "eu-west-1".into(),
                    bucket: "layers-eu".into()
                },
                Target {
                    region: "us-gov-west-1".into(),
                    bucket: "layers.gov".into()
                },
            ]
        );
        assert_eq!(parse_list(""), Ok(Vec::new()));
    }

    #[test]
    fn what_is_not_a_region_and_a_bucket_is_refused() {
        for bad in [
            "eu-west-1",
            "eu-west-1=",
            "=bucket",
            "europe=layers",
            "eu-west-one=layers",
            "EU-west-1=layers",
            "eu-west-1=Layers",
            "eu-west-1=ab",
            "eu-west-1=a,eu-west-1=b",
            "eu-west-1=-layers",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?} accepted");
        }
    }
}
