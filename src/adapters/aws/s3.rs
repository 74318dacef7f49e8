//! [`Folder`] on the S3 client: HEAD, ranged and small GETs, listings with
//! the SDK's paginator, conditional PUTs and copies.

use super::{byte_count, s3_failure, timeouts, unquoted, Aws};
use crate::domain::layout::UNRESERVED_AND_SLASH;
use crate::error::{AwsError, ACCESS_DENIED};
use crate::ports::{
    Folder, ListedObject, ObjectHead, ObjectId, ObjectStart, SmallObject, SourceObject,
    WriteCondition,
};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use percent_encoding::utf8_percent_encode;
use std::time::SystemTime;

impl Folder for Aws {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, AwsError> {
        let result = self
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                // A HEAD's 403 has no body, hence no code: it is S3's `AccessDenied`.
                let forbidden =
                    matches!(&e, SdkError::ServiceError(se) if se.raw().status().as_u16() == 403);
                let mut error = s3_failure("HeadObject", bucket, key)(e);
                if forbidden {
                    error.code.get_or_insert_with(|| ACCESS_DENIED.to_owned());
                }
                return Err(error);
            }
        };
        // A multipart upload's ETag ends in `-N`: its checksum is composite
        // even where the type is not said (moto).
        let multipart = out.e_tag().unwrap_or_default().contains('-');
        let sha256 = out
            .checksum_sha256()
            .filter(|sum| !sum.contains('-') && !multipart)
            .filter(|_| out.checksum_type() != Some(&ChecksumType::Composite))
            .map(str::to_owned);
        Ok(Some(ObjectHead {
            id: object_id(out.version_id(), out.e_tag()),
            metadata: out.metadata().cloned().unwrap_or_default(),
            size: byte_count(out.content_length()),
            sha256,
            kms: out
                .server_side_encryption()
                .is_some_and(|sse| sse.as_str().starts_with("aws:kms")),
            last_modified: out
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok()),
        }))
    }

    async fn read_start(
        &self, bucket: &str, key: &str, n: u64,
    ) -> Result<Option<ObjectStart>, AwsError> {
        let request = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=0-{}", n.saturating_sub(1)));
        match get(request, bucket, key).await {
            Ok(Some(out)) => {
                let id = object_id(out.version_id(), out.e_tag());
                let bytes = read_body(out, bucket, key).await?;
                Ok(Some(ObjectStart { id, bytes }))
            }
            Ok(None) => Ok(None),
            // An empty object has no byte 0: S3 answers 416, without the
            // object's ETag; it is no zip anyway.
            Err(e) if e.code.as_deref() == Some("InvalidRange") => Ok(Some(ObjectStart {
                id: ObjectId::default(),
                bytes: Vec::new(),
            })),
            Err(e) => Err(e),
        }
    }

    async fn read_range(
        &self, source: &SourceObject<'_>, start: u64, len: u64,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        let (bucket, key) = (source.bucket, source.key);
        let last = start + len.max(1) - 1;
        let mut request = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={start}-{last}"));
        request = match (source.version_id, source.etag) {
            (Some(version), _) => request.version_id(version),
            (None, Some(etag)) => request.if_match(format!("\"{etag}\"")),
            (None, None) => request,
        };
        match request.send().await {
            Ok(out) => Ok(Some(read_body(out, bucket, key).await?)),
            Err(e) if is_precondition_failure(&e) || is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_failure("GetObject", bucket, key)(e)),
        }
    }

    async fn read_small(
        &self, bucket: &str, key: &str, max_bytes: u64,
    ) -> Result<Option<SmallObject>, AwsError> {
        let request = self.s3.get_object().bucket(bucket).key(key);
        let Some(out) = get(request, bucket, key).await? else {
            return Ok(None);
        };
        let size = byte_count(out.content_length());
        if size > max_bytes {
            return Ok(Some(SmallObject::TooLarge { size }));
        }
        Ok(Some(SmallObject::Read(read_body(out, bucket, key).await?)))
    }

    async fn list_after(
        &self, bucket: &str, prefix: &str, start_after: Option<&str>,
    ) -> Result<Vec<ListedObject>, AwsError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_failure("ListObjectsV2", bucket, prefix))?;
            objects.extend(page.contents().iter().map(|object| {
                ListedObject {
                    key: object.key().unwrap_or_default().to_owned(),
                    etag: unquoted(object.e_tag()).unwrap_or_default(),
                    size: byte_count(object.size()),
                    last_modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                }
            }));
        }
        Ok(objects)
    }

    async fn put(
        &self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str,
        condition: WriteCondition<'_>,
    ) -> Result<Option<String>, AwsError> {
        let request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match condition {
            WriteCondition::Always => request,
            WriteCondition::Absent => request.if_none_match("*"),
            WriteCondition::ETagIs(etag) => request.if_match(format!("\"{etag}\"")),
        };
        match request.send().await {
            Ok(out) => Ok(Some(unquoted(out.e_tag()).unwrap_or_default())),
            Err(e) if is_precondition_failure(&e) => Ok(None),
            Err(e) => Err(s3_failure("PutObject", bucket, key)(e)),
        }
    }

    async fn put_receipt(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        let (tag, value) = crate::domain::receipt::RECEIPT_TAG;
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .tagging(format!("{tag}={value}"))
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(s3_failure("PutObject", bucket, key))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        match self.s3.delete_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(s3_failure("DeleteObject", bucket, key)(e)),
        }
    }

    async fn copy_across(
        &self, from: &SourceObject<'_>, to_bucket: &str, to_key: &str,
    ) -> Result<Option<ObjectId>, AwsError> {
        let mut source = copy_source(from.bucket, from.key);
        if let Some(version) = from.version_id {
            source = format!("{source}?versionId={version}");
        }
        let mut request = self
            .s3
            .copy_object()
            .bucket(to_bucket)
            .key(to_key)
            .copy_source(source);
        if let (None, Some(etag)) = (from.version_id, from.etag) {
            request = request.copy_source_if_match(format!("\"{etag}\""));
        }
        let result = request
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(timeouts::copies()),
            )
            .send()
            .await;
        match result {
            Ok(out) => {
                let etag = out.copy_object_result().and_then(|r| r.e_tag());
                Ok(Some(object_id(out.version_id(), etag)))
            }
            Err(e) if is_precondition_failure(&e) || is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_failure("CopyObject", to_bucket, to_key)(e)),
        }
    }
}

/// `x-amz-copy-source`: the bucket and the key, encoded but for `/`.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!(
        "{bucket}/{}",
        utf8_percent_encode(key, UNRESERVED_AND_SLASH)
    )
}

fn object_id(version_id: Option<&str>, etag: Option<&str>) -> ObjectId {
    ObjectId {
        // Unversioned (and versioning-suspended) buckets say "null".
        version_id: version_id.filter(|id| *id != "null").map(str::to_owned),
        etag: unquoted(etag),
    }
}

/// Sends a GetObject; `None` when the object does not exist.
async fn get(
    request: GetObjectFluentBuilder, bucket: &str, key: &str,
) -> Result<Option<GetObjectOutput>, AwsError> {
    match request.send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) || is_not_found(&e) => {
            Ok(None)
        }
        Err(e) => Err(s3_failure("GetObject", bucket, key)(e)),
    }
}

/// A GET's body, abandoned after [`timeouts::BODY_READ`]: the SDK's
/// timeouts end with the answer's headers.
async fn read_body(out: GetObjectOutput, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let message = match tokio::time::timeout(timeouts::BODY_READ, out.body.collect()).await {
        Ok(Ok(bytes)) => return Ok(bytes.to_vec()),
        Ok(Err(e)) => format!("reading the body: {e}"),
        Err(_) => format!(
            "reading the body took over {} s",
            timeouts::BODY_READ.as_secs()
        ),
    };
    Err(AwsError {
        service: crate::error::AwsService::S3,
        operation: "GetObject",
        target: crate::domain::layout::s3_uri(bucket, key),
        code: None,
        message,
        answered: true,
        retry_after_s: None,
        waited_out: None,
    })
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
