//! The in-memory Lambda layers: numbered versions (never reused), their
//! descriptions, and the `CodeSha256` of the bytes each took from S3.

use super::{aws_error, lock, FakeAws, Op};
use crate::error::AwsError;
use crate::ports::{Layer, LayerVersion, NewVersion, PublishRequest};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

const ACCOUNT_LAYER_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer";

#[derive(Debug, Default)]
pub(super) struct Layers(BTreeMap<String, Versions>);

#[derive(Debug, Default)]
struct Versions {
    /// Oldest first; deleted versions are gone, their numbers not reused.
    published: Vec<Published>,
    last_number: i64,
}

#[derive(Clone, Debug)]
struct Published {
    version: LayerVersion,
    code_sha256: String,
}

/// A layer named by its name or its ARN.
fn name_of(layer: &str) -> &str {
    layer.rsplit(':').next().unwrap_or(layer)
}

/// Lambda's `CodeSha256`: the SHA-256 of the zip, base64.
pub fn code_sha256(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

/// ISO 8601 as Lambda writes it, to the second (days from the civil
/// calendar, so no date crate is needed for a test double).
fn iso8601(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+0000",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Howard Hinnant's days-to-date algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Layers {
    fn create(
        &mut self, layer: &str, description: &str, bytes: &[u8], now: SystemTime,
    ) -> NewVersion {
        let name = name_of(layer);
        let versions = self.0.entry(name.to_owned()).or_default();
        versions.last_number += 1;
        let number = versions.last_number;
        let published = Published {
            version: LayerVersion {
                version: number,
                arn: format!("{ACCOUNT_LAYER_ARN}:{name}:{number}"),
                description: description.to_owned(),
                created: iso8601(now),
            },
            code_sha256: code_sha256(bytes),
        };
        versions.published.push(published.clone());
        NewVersion {
            version: published.version,
            code_sha256: Some(published.code_sha256),
        }
    }
}

impl Layer for FakeAws {
    async fn latest_version(&self, layer: &str) -> Result<Option<LayerVersion>, AwsError> {
        self.call(Op::ListLayerVersions, layer, |state, _| {
            let versions = state.lambda.0.get(name_of(layer));
            Ok(versions
                .and_then(|v| v.published.last())
                .map(|p| p.version.clone()))
        })
        .await
    }

    async fn version_sha256(&self, layer: &str, version: i64) -> Result<Option<String>, AwsError> {
        let target = format!("{layer}:{version}");
        self.call(Op::GetLayerVersion, &target, |state, _| {
            state
                .lambda
                .0
                .get(name_of(layer))
                .and_then(|v| v.published.iter().find(|p| p.version.version == version))
                .map(|p| Some(p.code_sha256.clone()))
                .ok_or_else(|| {
                    let message = "The resource you requested does not exist.";
                    aws_error(
                        Op::GetLayerVersion,
                        &target,
                        "ResourceNotFoundException",
                        message,
                    )
                })
        })
        .await
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<NewVersion, AwsError> {
        self.call(Op::PublishLayerVersion, request.layer_name, |state, now| {
            let object = state
                .s3
                .get(request.bucket, request.key, request.object_version);
            let Some(object) = object else {
                let message = "Error occurred while GetObject. S3 Error Code: NoSuchKey.";
                let op = Op::PublishLayerVersion;
                return Err(aws_error(
                    op,
                    request.layer_name,
                    "InvalidParameterValueException",
                    message,
                ));
            };
            let bytes = object.bytes.clone();
            Ok(state
                .lambda
                .create(request.layer_name, request.description, &bytes, now))
        })
        .await
    }
}

/// Another tool's doings, and reading the layer back, as a test does with
/// its own clients: neither logged nor faulted.
impl FakeAws {
    /// Publishes a version as another tool would (the seed, by hand).
    pub fn publish_by_hand(&self, layer: &str, description: &str, bytes: &[u8]) -> NewVersion {
        let now = crate::ports::Clock::now(&self.clock);
        lock(&self.state)
            .lambda
            .create(layer, description, bytes, now)
    }

    /// The layer's versions as (version, description), oldest first.
    pub fn versions(&self, layer: &str) -> Vec<(i64, String)> {
        lock(&self.state)
            .lambda
            .0
            .get(name_of(layer))
            .map(|v| {
                v.published
                    .iter()
                    .map(|p| (p.version.version, p.version.description.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Deletes a version, as `aws lambda delete-layer-version` does.
    pub fn delete_version(&self, layer: &str, version: i64) {
        if let Some(v) = lock(&self.state).lambda.0.get_mut(name_of(layer)) {
            v.published.retain(|p| p.version.version != version);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_written_as_lambda_writes_them() {
        let at = |secs| iso8601(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(at(1_795_435_200), "2026-11-23T12:00:00.000+0000");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000+0000");
    }

    #[test]
    fn code_sha256_is_base64_of_the_digest() {
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
