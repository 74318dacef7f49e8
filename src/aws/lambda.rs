//! [`Layer`] on the Lambda client: the latest version (one call when the
//! first page proves it), a version's `CodeSha256`, and the publish.

use super::{failure, Aws};
use crate::error::{AwsError, AwsService};
use crate::ports::{Layer, LayerVersion, NewVersion, PublishRequest};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{
    Architecture, LayerVersionContentInput, LayerVersionsListItem, Runtime,
};

impl Layer for Aws {
    /// One call on AWS, which lists newest first; any other order (and so
    /// any emulator's) is handled by reading every page. See
    /// [`page_is_newest_first`].
    async fn latest_version(&self, layer: &str) -> Result<Option<LayerVersion>, AwsError> {
        let mut pages = self
            .lambda
            .list_layer_versions()
            .layer_name(layer)
            .into_paginator()
            .send();
        let mut seen: Vec<LayerVersion> = Vec::new();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
                Err(e) => return Err(failure(AwsService::Lambda, "ListLayerVersions", layer, e)),
            };
            let versions: Vec<LayerVersion> =
                page.layer_versions().iter().map(layer_version).collect();
            if seen.is_empty() && !versions.is_empty() && page_is_newest_first(&versions) {
                return Ok(versions.into_iter().next());
            }
            seen.extend(versions);
        }
        Ok(seen.into_iter().max_by_key(|v| v.version))
    }

    async fn version_sha256(&self, layer: &str, version: i64) -> Result<Option<String>, AwsError> {
        let out = self
            .lambda
            .get_layer_version()
            .layer_name(layer)
            .version_number(version)
            .send()
            .await
            .map_err(|e| {
                let target = format!("{layer}:{version}");
                failure(AwsService::Lambda, "GetLayerVersion", &target, e)
            })?;
        Ok(out
            .content()
            .and_then(|c| c.code_sha256())
            .map(str::to_owned))
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<NewVersion, AwsError> {
        let content = LayerVersionContentInput::builder()
            .s3_bucket(request.bucket)
            .s3_key(request.key)
            .set_s3_object_version(request.object_version.map(str::to_owned))
            .build();
        let runtimes: Vec<Runtime> = request
            .compatible_runtimes
            .iter()
            .map(|r| Runtime::from(r.as_str()))
            .collect();
        let architectures: Vec<Architecture> = request
            .compatible_architectures
            .iter()
            .map(|a| Architecture::from(a.as_str()))
            .collect();
        let out = self
            .lambda
            .publish_layer_version()
            .layer_name(request.layer_name)
            .description(request.description)
            .content(content)
            .set_compatible_runtimes((!runtimes.is_empty()).then_some(runtimes))
            .set_compatible_architectures((!architectures.is_empty()).then_some(architectures))
            .set_license_info(request.license_info.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                failure(
                    AwsService::Lambda,
                    "PublishLayerVersion",
                    request.layer_name,
                    e,
                )
            })?;
        Ok(NewVersion {
            version: LayerVersion {
                version: out.version(),
                arn: out.layer_version_arn().unwrap_or_default().to_owned(),
                description: out.description().unwrap_or_default().to_owned(),
                created: out.created_date().unwrap_or_default().to_owned(),
            },
            code_sha256: out
                .content()
                .and_then(|c| c.code_sha256())
                .map(str::to_owned),
        })
    }
}

/// One item of `ListLayerVersions`.
pub fn layer_version(item: &LayerVersionsListItem) -> LayerVersion {
    LayerVersion {
        version: item.version(),
        arn: item.layer_version_arn().unwrap_or_default().to_owned(),
        description: item.description().unwrap_or_default().to_owned(),
        created: item.created_date().unwrap_or_default().to_owned(),
    }
}

/// Whether one page of `ListLayerVersions` already proves which version is
/// the newest. Lambda documents newest-first order; we do not take it on
/// trust: a page that is in strictly descending order, and so is consistent
/// with it, ends the search at its first item; any other page (an emulator
/// listing oldest first, say) makes the caller read every page.
fn page_is_newest_first(versions: &[LayerVersion]) -> bool {
    versions.windows(2).all(|w| w[0].version > w[1].version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: i64) -> LayerVersion {
        LayerVersion {
            version,
            arn: String::new(),
            description: String::new(),
            created: String::new(),
        }
    }

    #[test]
    fn only_a_descending_page_is_trusted() {
        assert!(page_is_newest_first(&[]));
        assert!(page_is_newest_first(&[v(4)]));
        assert!(page_is_newest_first(&[v(9), v(4), v(1)]));
        assert!(!page_is_newest_first(&[v(1), v(2)]));
        assert!(!page_is_newest_first(&[v(3), v(1), v(2)]));
        assert!(!page_is_newest_first(&[v(2), v(2)]));
    }
}
