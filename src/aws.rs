//! Every S3 and Lambda call the function and `layerctl` make, and nothing else.
//!
//! Each call returns plain values (or `None` for "not there") and maps SDK
//! failures to [`AwsError`], so the steps in `publish.rs` read as the contract
//! does and never see an SDK type.

use crate::decide::{newest, page_is_newest_first, LayerVersion};
use crate::error::{AwsError, AwsService};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_lambda::types::{Architecture, LayerVersionContentInput, Runtime};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The SDK configuration loader with the one TLS stack this crate ships
/// (rustls with ring) and the retry policy below, and every credential and
/// region source (profiles, SSO, web identity for CI, instance roles):
/// `layerctl` and the tests. Callers add overrides and `.load()` it.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
}

/// The function's SDK configuration, from Lambda's environment alone: the
/// credentials and region Lambda sets in variables, `AWS_ENDPOINT_URL` when
/// set (a local emulator), the same TLS stack and retries. The other sources
/// of `config_loader` (profile files, SSO, STS web identity, IMDS) never
/// apply in Lambda; leaving them out keeps them out of the binary, which is
/// smaller and starts sooner.
pub fn lambda_config() -> Result<SdkConfig, String> {
    lambda_config_from(|name| std::env::var(name).ok())
}

/// [`lambda_config`], reading variables through `get`.
pub fn lambda_config_from(get: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(
            "AWS_REGION is not set: Lambda sets it; set it when running the function elsewhere",
        )?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .retry_config(retry_config())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::default());
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Transient failures (throttling, 5xx, timeouts, dropped connections) are
/// retried with exponential backoff and jitter, up to 5 attempts in all;
/// permanent ones (AccessDenied, a missing bucket, Lambda's code storage
/// limit) are not retried and fail the record at once.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
}

/// The S3 and Lambda clients, built once per process.
#[derive(Clone, Debug)]
pub struct Aws {
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
}

/// What a HEAD of an object tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub metadata: HashMap<String, String>,
    pub size: u64,
    /// The SHA-256 of the whole object (base64, as Lambda's `CodeSha256`),
    /// when the uploader sent `x-amz-checksum-sha256`. A multipart upload's
    /// checksum is a hash of part hashes: not comparable, so `None`.
    pub sha256: Option<String>,
    /// Encrypted with KMS: then no ETag in the bucket is an MD5.
    pub kms: bool,
}

/// The first bytes of an object, and which object they are from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStart {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// An object read whole when it is no larger than asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmallObject {
    Read { bytes: Vec<u8> },
    TooLarge { size: u64 },
}

/// An object a listing shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// When S3 last wrote it, by S3's clock.
    pub last_modified: Option<SystemTime>,
}

/// What an upload left in S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub etag: String,
    pub version_id: Option<String>,
    /// Full-object (single PUT) or composite (`…-N`, multipart) SHA-256.
    pub sha256: Option<String>,
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
    pub sha256: Option<String>,
}

/// The condition of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteCondition<'a> {
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object's ETag is still this one (`If-Match`).
    ETagIs(&'a str),
}

/// What a new layer version request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest<'a> {
    pub layer_name: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub object_version: Option<&'a str>,
    pub description: &'a str,
    pub compatible_runtimes: &'a [String],
    pub compatible_architectures: &'a [String],
    pub license_info: Option<&'a str>,
}

/// A version Lambda just created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVersion {
    pub version: LayerVersion,
    pub code_sha256: Option<String>,
}

impl Aws {
    /// Clients from a loaded SDK configuration. With a custom endpoint (a
    /// local emulator), S3 is addressed path-style, since virtual-host
    /// addressing needs DNS for `bucket.host`.
    pub fn new(sdk: &SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self::from_clients(
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_lambda::Client::new(sdk),
        )
    }

    pub fn from_clients(s3: aws_sdk_s3::Client, lambda: aws_sdk_lambda::Client) -> Self {
        Self { s3, lambda }
    }

    /// HEAD of an object (of one version when `version_id` is given);
    /// `None` when it does not exist.
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectHead>, AwsError> {
        let result = self
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectHead {
                etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
                version_id: out
                    .version_id()
                    .filter(|id| *id != "null")
                    .map(str::to_owned),
                metadata: out.metadata().cloned().unwrap_or_default(),
                size: out.content_length().map_or(0, |n| n.max(0).unsigned_abs()),
                sha256: out
                    .checksum_sha256()
                    .filter(|sum| !sum.contains('-'))
                    .filter(|_| out.checksum_type() != Some(&ChecksumType::Composite))
                    // A multipart upload's ETag ends in `-N`: its checksum is
                    // composite even where the type is not said (moto).
                    .filter(|_| !out.e_tag().unwrap_or_default().contains('-'))
                    .map(str::to_owned),
                kms: out
                    .server_side_encryption()
                    .is_some_and(|sse| sse.as_str().starts_with("aws:kms")),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(failure(
                AwsService::S3,
                "HeadObject",
                &s3_target(bucket, key),
                e,
            )),
        }
    }

    /// The bytes of an object of at most `max_bytes`; `None` when
    /// it does not exist. A larger object is not read: the function reads
    /// only lock files and leases, and a huge one must not exhaust memory.
    pub async fn get_small_object(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<SmallObject>, AwsError> {
        let target = s3_target(bucket, key);
        let request = self.s3.get_object().bucket(bucket).key(key);
        let Some(out) = get(request, &target).await? else {
            return Ok(None);
        };
        let size = out.content_length().map_or(0, |n| n.max(0).unsigned_abs());
        if size > max_bytes {
            return Ok(Some(SmallObject::TooLarge { size }));
        }
        let bytes = read_body(out, target).await?;
        Ok(Some(SmallObject::Read { bytes }))
    }

    /// The first `n` bytes of the current object, or fewer when it is
    /// shorter, with the ETag and version of what was read; `None` when it
    /// does not exist.
    pub async fn read_start(
        &self,
        bucket: &str,
        key: &str,
        n: u64,
    ) -> Result<Option<ObjectStart>, AwsError> {
        let target = s3_target(bucket, key);
        let request = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=0-{}", n.saturating_sub(1)));
        match get(request, &target).await {
            Ok(Some(out)) => {
                let etag = out.e_tag().map(|e| e.trim_matches('"').to_owned());
                let version_id = out
                    .version_id()
                    .filter(|id| *id != "null")
                    .map(str::to_owned);
                let bytes = read_body(out, target).await?;
                Ok(Some(ObjectStart {
                    bytes,
                    etag,
                    version_id,
                }))
            }
            Ok(None) => Ok(None),
            // An empty object has no byte 0: S3 answers 416, without the
            // object's ETag; it is no zip anyway.
            Err(e) if e.code.as_deref() == Some("InvalidRange") => Ok(Some(ObjectStart {
                bytes: Vec::new(),
                etag: None,
                version_id: None,
            })),
            Err(e) => Err(e),
        }
    }

    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AwsError> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(s3_failure("PutObject", bucket, key))
    }

    /// Uploads an object in one PUT with user `metadata` and a SHA-256
    /// checksum the SDK computes, which S3 verifies and keeps.
    pub async fn put_object_with_sha256(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        content_type: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<Uploaded, AwsError> {
        let out = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .set_metadata(Some(metadata.clone()))
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(body)
            .send()
            .await
            .map_err(s3_failure("PutObject", bucket, key))?;
        Ok(Uploaded {
            etag: unquoted(out.e_tag()),
            version_id: out.version_id().map(str::to_owned),
            sha256: out.checksum_sha256().map(str::to_owned),
        })
    }

    /// Starts a multipart upload with SHA-256 part checksums; returns its id.
    pub async fn start_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .set_metadata(Some(metadata.clone()))
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(s3_failure("CreateMultipartUpload", bucket, key))?;
        Ok(out.upload_id().unwrap_or_default().to_owned())
    }

    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: ByteStream,
    ) -> Result<UploadedPart, AwsError> {
        let out = self
            .s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(body)
            .send()
            .await
            .map_err(s3_failure("UploadPart", bucket, key))?;
        Ok(UploadedPart {
            number,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            sha256: out.checksum_sha256().map(str::to_owned),
        })
    }

    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<Uploaded, AwsError> {
        let parts = parts
            .iter()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(part.number)
                    .e_tag(&part.etag)
                    .set_checksum_sha256(part.sha256.clone())
                    .build()
            })
            .collect();
        let out = self
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(s3_failure("CompleteMultipartUpload", bucket, key))?;
        Ok(Uploaded {
            etag: unquoted(out.e_tag()),
            version_id: out.version_id().map(str::to_owned),
            sha256: out.checksum_sha256().map(str::to_owned),
        })
    }

    /// Abandons a multipart upload, so its parts are not kept (and billed).
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), AwsError> {
        self.s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(s3_failure("AbortMultipartUpload", bucket, key))
    }

    /// Every object under `prefix`, in key order.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ListedObject>, AwsError> {
        self.list_objects_after(bucket, prefix, None).await
    }

    /// Every object under `prefix` whose key sorts after `start_after`.
    pub async fn list_objects_after(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<ListedObject>, AwsError> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    failure(
                        AwsService::S3,
                        "ListObjectsV2",
                        &s3_target(bucket, prefix),
                        e,
                    )
                })?;
            objects.extend(page.contents().iter().map(|object| {
                ListedObject {
                    key: object.key().unwrap_or_default().to_owned(),
                    etag: object
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned(),
                    size: object.size().map_or(0, |n| n.max(0).unsigned_abs()),
                    last_modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                }
            }));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(objects)
    }

    /// Writes an object only if `condition` holds. Returns the new ETag, or
    /// `None` when S3 refused for the condition (412, or 409 for a concurrent
    /// conditional write to the same key).
    pub async fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition<'_>,
    ) -> Result<Option<String>, AwsError> {
        let request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let request = match condition {
            WriteCondition::Absent => request.if_none_match("*"),
            WriteCondition::ETagIs(etag) => request.if_match(format!("\"{etag}\"")),
        };
        match request.send().await {
            Ok(out) => Ok(Some(unquoted(out.e_tag()))),
            Err(e) if is_precondition_failure(&e) => Ok(None),
            Err(e) => Err(failure(
                AwsService::S3,
                "PutObject",
                &s3_target(bucket, key),
                e,
            )),
        }
    }

    /// Copies `from` to `to` in the bucket, only if `from`'s ETag is still
    /// `etag`; `false` when it changed or is gone.
    pub async fn copy_object_if(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        etag: &str,
    ) -> Result<bool, AwsError> {
        let source = format!("{bucket}/{}", utf8_percent_encode(from, COPY_SOURCE));
        let result = self
            .s3
            .copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(source)
            .copy_source_if_match(format!("\"{etag}\""))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_precondition_failure(&e) || is_not_found(&e) => Ok(false),
            Err(e) => Err(failure(
                AwsService::S3,
                "CopyObject",
                &s3_target(bucket, to),
                e,
            )),
        }
    }

    /// The newest version of `layer`, or `None` when it has none.
    ///
    /// One call on AWS, which lists newest first; any other order (and so
    /// any emulator's) is handled by reading every page. See
    /// [`page_is_newest_first`].
    pub async fn latest_layer_version(
        &self,
        layer: &str,
    ) -> Result<Option<LayerVersion>, AwsError> {
        let mut seen: Vec<LayerVersion> = Vec::new();
        let mut marker: Option<String> = None;
        while let Some((versions, next)) = self.layer_versions_page(layer, marker.take()).await? {
            if seen.is_empty() && !versions.is_empty() && page_is_newest_first(&versions) {
                return Ok(versions.into_iter().next());
            }
            seen.extend(versions);
            match next {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        Ok(newest(&seen).cloned())
    }

    /// Every version of `layer`, newest first (empty when it has none).
    pub async fn all_layer_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        let mut all: Vec<LayerVersion> = Vec::new();
        let mut marker: Option<String> = None;
        while let Some((versions, next)) = self.layer_versions_page(layer, marker.take()).await? {
            all.extend(versions);
            match next {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        all.sort_by_key(|v| std::cmp::Reverse(v.version));
        all.dedup_by_key(|v| v.version);
        Ok(all)
    }

    /// One page of `ListLayerVersions` and the marker of the next one;
    /// `None` when the layer does not exist.
    async fn layer_versions_page(
        &self,
        layer: &str,
        marker: Option<String>,
    ) -> Result<Option<(Vec<LayerVersion>, Option<String>)>, AwsError> {
        let result = self
            .lambda
            .list_layer_versions()
            .layer_name(layer)
            .set_marker(marker.clone())
            .send()
            .await;
        let page = match result {
            Ok(page) => page,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(failure(AwsService::Lambda, "ListLayerVersions", layer, e)),
        };
        let versions = page
            .layer_versions()
            .iter()
            .map(|item| LayerVersion {
                version: item.version(),
                arn: item.layer_version_arn().unwrap_or_default().to_owned(),
                description: item.description().unwrap_or_default().to_owned(),
                created: item.created_date().unwrap_or_default().to_owned(),
            })
            .collect();
        // A marker that does not move would loop forever: stop there.
        let next = page
            .next_marker()
            .filter(|next| !next.is_empty() && marker.as_deref() != Some(*next))
            .map(str::to_owned);
        Ok(Some((versions, next)))
    }

    /// The SHA-256 of a version's content, as Lambda computed it.
    pub async fn layer_version_sha256(
        &self,
        layer: &str,
        version: i64,
    ) -> Result<Option<String>, AwsError> {
        let out = self
            .lambda
            .get_layer_version()
            .layer_name(layer)
            .version_number(version)
            .send()
            .await
            .map_err(|e| {
                failure(
                    AwsService::Lambda,
                    "GetLayerVersion",
                    &format!("{layer}:{version}"),
                    e,
                )
            })?;
        Ok(out
            .content()
            .and_then(|c| c.code_sha256())
            .map(str::to_owned))
    }

    pub async fn publish_layer_version(
        &self,
        request: &PublishRequest<'_>,
    ) -> Result<NewVersion, AwsError> {
        let content = LayerVersionContentInput::builder()
            .s3_bucket(request.bucket)
            .s3_key(request.key)
            .set_s3_object_version(request.object_version.map(str::to_owned))
            .build();
        let runtimes = request
            .compatible_runtimes
            .iter()
            .map(|r| Runtime::from(r.as_str()))
            .collect::<Vec<_>>();
        let architectures = request
            .compatible_architectures
            .iter()
            .map(|a| Architecture::from(a.as_str()))
            .collect::<Vec<_>>();
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

/// Sends a GetObject; `None` when the object does not exist.
async fn get(
    request: aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    target: &str,
) -> Result<Option<GetObjectOutput>, AwsError> {
    match request.send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) || is_not_found(&e) => {
            Ok(None)
        }
        Err(e) => Err(failure(AwsService::S3, "GetObject", target, e)),
    }
}

async fn read_body(out: GetObjectOutput, target: String) -> Result<Vec<u8>, AwsError> {
    match out.body.collect().await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) => Err(AwsError {
            service: AwsService::S3,
            operation: "GetObject",
            target,
            code: None,
            message: format!("reading the body: {e}"),
        }),
    }
}

/// What `x-amz-copy-source` must encode in a key: everything but the
/// unreserved characters and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// An ETag without the quotes S3 puts around it.
fn unquoted(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

/// Maps a failed S3 call on `bucket`/`key` to an [`AwsError`].
fn s3_failure<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
) -> impl FnOnce(SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let target = s3_target(bucket, key);
    move |error| failure(AwsService::S3, operation, &target, error)
}

fn s3_target(bucket: &str, key: &str) -> String {
    crate::layout::s3_uri(bucket, key)
}

/// Besides the modelled `NoSuchKey`/`NotFound`, S3 (and emulators) may say
/// "not found" only by its error code or, for HEAD (which has no body), only
/// by a 404 status.
fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        error.code(),
        Some("NoSuchKey" | "NotFound" | "NoSuchVersion")
    ) || matches!(error, SdkError::ServiceError(e) if e.raw().status().as_u16() == 404)
}

/// S3 refused a conditional request: 412, or 409 when another conditional
/// write to the key was in flight. Both are modelled only by code/status
/// (moto and S3 send `PreconditionFailed`, an unmodelled error).
fn is_precondition_failure<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        error.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(error, SdkError::ServiceError(e) if matches!(e.raw().status().as_u16(), 409 | 412))
}

fn failure<E, R>(
    service: AwsService,
    operation: &'static str,
    target: &str,
    error: SdkError<E, R>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().map(str::to_owned);
    let message = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(&error).to_string(),
    };
    AwsError {
        service,
        operation,
        target: target.to_owned(),
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lambda_env(pairs: &[(&str, &str)]) -> Result<SdkConfig, String> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        lambda_config_from(|name| env.get(name).cloned())
    }

    #[test]
    fn the_function_takes_credentials_region_and_endpoint_from_lambdas_variables() {
        let config = lambda_env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(5));
        assert!(config.http_client().is_some());
        // Credentials come from the variables Lambda sets, and from nowhere else.
        let provider = format!("{:?}", config.credentials_provider().unwrap());
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider"),
            "{provider}"
        );

        let error = lambda_env(&[]).unwrap_err();
        assert!(error.starts_with("AWS_REGION is not set"), "{error}");
        let fallback = lambda_env(&[("AWS_DEFAULT_REGION", "us-west-2")]).unwrap();
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-west-2"));
    }
}
