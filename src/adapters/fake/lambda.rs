//! The in-memory Lambda layers: numbered versions (never reused), their
//! descriptions, and the `CodeSha256` of the bytes each took from S3.

use super::{aws_error, FakeAws, Op};
use crate::domain::declared::Declared;
use crate::error::AwsError;
use crate::ports::Grant;
use crate::ports::{Layer, LayerVersion, NewVersion, PublishRequest};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::SystemTime;

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
    /// `AddLayerVersionPermission` grants, in order.
    grants: Vec<Grant>,
}

/// A layer named by its name or its ARN.
fn name_of(layer: &str) -> &str {
    layer.rsplit(':').next().unwrap_or(layer)
}

/// Lambda's `CodeSha256`: the SHA-256 of the zip, base64.
pub fn code_sha256(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

impl Layers {
    fn create(
        &mut self, layer: &str, description: &str, bytes: &[u8], now: SystemTime,
        declared: Declared,
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
                created: crate::domain::dates::format(now),
                declared,
            },
            code_sha256: code_sha256(bytes),
            grants: Vec::new(),
        };
        versions.published.push(published.clone());
        NewVersion {
            version: published.version,
            code_sha256: Some(published.code_sha256),
        }
    }
}

impl Layer for FakeAws {
    /// Every version, newest first (as one page of Lambda's).
    async fn recent_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.call(
            Op::ListLayerVersions,
            &self.regional_target(layer),
            |state, _| {
                let versions = state.lambda().0.get(name_of(layer));
                Ok(versions
                    .map(|v| {
                        v.published
                            .iter()
                            .rev()
                            .map(|p| p.version.clone())
                            .collect()
                    })
                    .unwrap_or_default())
            },
        )
        .await
    }

    async fn version_sha256(&self, layer: &str, version: i64) -> Result<Option<String>, AwsError> {
        let target = format!("{layer}:{version}");
        self.call(
            Op::GetLayerVersion,
            &self.regional_target(&target),
            |state, _| {
                state
                    .lambda()
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
            },
        )
        .await
    }

    async fn all_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.recent_versions(layer).await
    }

    async fn delete_layer_version(&self, layer: &str, version: i64) -> Result<(), AwsError> {
        let target = format!("{layer}:{version}");
        self.call(
            Op::DeleteLayerVersion,
            &self.regional_target(&target),
            |state, _| {
                if let Some(v) = state.lambda().0.get_mut(name_of(layer)) {
                    v.published.retain(|p| p.version.version != version);
                }
                Ok(())
            },
        )
        .await
    }

    /// A statement id already there is refused with 409, as Lambda does;
    /// the port reports it as success, as the SDK adapter does.
    async fn share(&self, layer: &str, version: i64, grant: &Grant) -> Result<(), AwsError> {
        let target = format!("{layer}:{version}");
        let op = Op::AddLayerVersionPermission;
        let logged = self.regional_target(&target);
        let added = self.call(op, &logged, |state, _| {
            let published = state.lambda().0.get_mut(name_of(layer)).and_then(|v| {
                v.published
                    .iter_mut()
                    .find(|p| p.version.version == version)
            });
            let Some(published) = published else {
                let message = "The resource you requested does not exist.";
                return Err(aws_error(op, &target, "ResourceNotFoundException", message));
            };
            if published
                .grants
                .iter()
                .any(|g| g.statement_id == grant.statement_id)
            {
                let message = "The statement id provided already exists.";
                return Err(aws_error(op, &target, "ResourceConflictException", message));
            }
            published.grants.push(grant.clone());
            Ok(())
        });
        match added.await {
            Err(e) if e.code.as_deref() == Some("ResourceConflictException") => Ok(()),
            other => other,
        }
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<NewVersion, AwsError> {
        self.call(
            Op::PublishLayerVersion,
            &self.regional_target(request.layer_name),
            |state, now| {
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
                Ok(state.lambda().create(
                    request.layer_name,
                    request.description,
                    &bytes,
                    now,
                    declared_by(request),
                ))
            },
        )
        .await
    }
}

/// Another tool's doings, and reading the layer back, as a test does with
/// its own clients: neither logged nor faulted.
impl FakeAws {
    /// Publishes a version as another tool would (the seed, by hand).
    pub fn publish_by_hand(&self, layer: &str, description: &str, bytes: &[u8]) -> NewVersion {
        let now = crate::ports::Clock::now(&self.clock);
        self.here()
            .lambda()
            .create(layer, description, bytes, now, Declared::default())
    }

    /// The layer's versions as (version, description), oldest first.
    pub fn versions(&self, layer: &str) -> Vec<(i64, String)> {
        self.here()
            .lambda()
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

    /// A version's grants, in the order they were made.
    pub fn grants(&self, layer: &str, version: i64) -> Vec<Grant> {
        self.here()
            .lambda()
            .0
            .get(name_of(layer))
            .and_then(|v| v.published.iter().find(|p| p.version.version == version))
            .map(|p| p.grants.clone())
            .unwrap_or_default()
    }

    /// Deletes a version, as `aws lambda delete-layer-version` does.
    pub fn delete_version(&self, layer: &str, version: i64) {
        if let Some(v) = self.here().lambda().0.get_mut(name_of(layer)) {
            v.published.retain(|p| p.version.version != version);
        }
    }
}

/// What a publish request declares, as Lambda keeps it.
fn declared_by(request: &PublishRequest<'_>) -> Declared {
    Declared {
        runtimes: request.compatible_runtimes.to_vec(),
        architectures: request.compatible_architectures.to_vec(),
        license: request.license_info.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_sha256_is_base64_of_the_digest() {
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
