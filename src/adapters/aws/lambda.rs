//! [`Layer`] on the Lambda client: the recent versions (one call when the
//! first page is newest first), a version's `CodeSha256`, and the publish.

use super::{failure, Aws};
use crate::domain::declared::Declared;
use crate::error::{AwsError, AwsService};
use crate::ports::Grant;
use crate::ports::{Layer, LayerVersion, NewVersion, PublishRequest};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::types::{
    Architecture, LayerVersionContentInput, LayerVersionsListItem, Runtime,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

impl Layer for Aws {
    /// One call on AWS, which lists newest first: its first page; any other
    /// order (and so any emulator's) is handled by reading every page, newest
    /// first. See [`page_is_newest_first`].
    async fn recent_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.list_versions(layer, true).await
    }

    async fn all_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.list_versions(layer, false).await
    }

    async fn delete_layer_version(&self, layer: &str, version: i64) -> Result<(), AwsError> {
        let result = self
            .lambda
            .delete_layer_version()
            .layer_name(layer)
            .version_number(version)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(version_failure("DeleteLayerVersion", layer, version)(e)),
        }
    }

    async fn version_sha256(&self, layer: &str, version: i64) -> Result<Option<String>, AwsError> {
        let out = self
            .lambda
            .get_layer_version()
            .layer_name(layer)
            .version_number(version)
            .send()
            .await
            .map_err(version_failure("GetLayerVersion", layer, version))?;
        Ok(out
            .content()
            .and_then(|c| c.code_sha256())
            .map(str::to_owned))
    }

    async fn share(&self, layer: &str, version: i64, grant: &Grant) -> Result<(), AwsError> {
        let result = self
            .lambda
            .add_layer_version_permission()
            .layer_name(layer)
            .version_number(version)
            .statement_id(&grant.statement_id)
            .action("lambda:GetLayerVersion")
            .principal(&grant.principal)
            .set_organization_id(grant.organization_id.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The statement id is there: granted before.
            Err(e) if e.code() == Some("ResourceConflictException") => Ok(()),
            Err(e) => Err(version_failure("AddLayerVersionPermission", layer, version)(e)),
        }
    }

    /// Sent once: `PublishLayerVersion` is not idempotent, and a retry after
    /// a failure that applied publishes a second version. Every failure goes
    /// back to the publisher, which sends a throttled publish again after a
    /// pause and looks for the version before sending any other again.
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
        let send = self
            .lambda
            .publish_layer_version()
            .layer_name(request.layer_name)
            .description(request.description)
            .content(content)
            .set_compatible_runtimes((!runtimes.is_empty()).then_some(runtimes))
            .set_compatible_architectures((!architectures.is_empty()).then_some(architectures))
            .set_license_info(request.license_info.map(str::to_owned));
        // Sent with the SDK's retries off, throttling's too: the publisher
        // sends a throttled publish again after its own pause.
        let no_retries = aws_sdk_lambda::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(super::timeouts::publish());
        let out = send
            .customize()
            .config_override(no_retries)
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
                declared: declared(
                    out.compatible_runtimes(),
                    out.compatible_architectures(),
                    out.license_info(),
                ),
            },
            code_sha256: out
                .content()
                .and_then(|c| c.code_sha256())
                .map(str::to_owned),
        })
    }
}

impl Aws {
    /// The layer's versions, newest first, page by page; with
    /// `first_page_will_do`, a first page that is newest first ends it.
    async fn list_versions(
        &self, layer: &str, first_page_will_do: bool,
    ) -> Result<Vec<LayerVersion>, AwsError> {
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
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(Vec::new()),
                Err(e) => return Err(failure(AwsService::Lambda, "ListLayerVersions", layer, e)),
            };
            let versions: Vec<LayerVersion> =
                page.layer_versions().iter().map(layer_version).collect();
            let newest_first = !versions.is_empty() && page_is_newest_first(&versions);
            if first_page_will_do && seen.is_empty() && newest_first {
                return Ok(versions);
            }
            seen.extend(versions);
        }
        seen.sort_by_key(|v| std::cmp::Reverse(v.version));
        seen.dedup_by_key(|v| v.version);
        Ok(seen)
    }
}

/// Maps a failed call on one version of `layer` to an [`AwsError`] whose
/// target is `layer:version`.
fn version_failure<E>(
    operation: &'static str, layer: &str, version: i64,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let target = format!("{layer}:{version}");
    move |error| failure(AwsService::Lambda, operation, &target, error)
}

/// What a version declares, as Lambda answers it.
fn declared(
    runtimes: &[aws_sdk_lambda::types::Runtime],
    architectures: &[aws_sdk_lambda::types::Architecture], license: Option<&str>,
) -> Declared {
    Declared {
        runtimes: runtimes.iter().map(|r| r.as_str().to_owned()).collect(),
        architectures: architectures
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        license: license.map(str::to_owned),
    }
}

/// One item of `ListLayerVersions`.
pub fn layer_version(item: &LayerVersionsListItem) -> LayerVersion {
    LayerVersion {
        version: item.version(),
        arn: item.layer_version_arn().unwrap_or_default().to_owned(),
        description: item.description().unwrap_or_default().to_owned(),
        created: item.created_date().unwrap_or_default().to_owned(),
        declared: declared(
            item.compatible_runtimes(),
            item.compatible_architectures(),
            item.license_info(),
        ),
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
            declared: Declared::default(),
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
