//! The AWS calls only `layerctl` makes: uploads with a SHA-256 checksum (in
//! one PUT or in parts), and who a version is shared with. The function's own
//! calls are the ports' (`layer_autopublish::ports`), which `layerctl` uses
//! for everything else.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use layer_autopublish::adapters::aws::{failure, s3_failure, Aws};
use layer_autopublish::error::{AwsError, AwsService};
use std::collections::HashMap;

/// What an upload left in S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// Full-object (single PUT) or composite (`…-N`, multipart) SHA-256.
    pub sha256: Option<String>,
    /// The object's version, in a versioned bucket.
    pub version_id: Option<String>,
    /// Its ETag, unquoted: with the version, what names its receipt.
    pub etag: Option<String>,
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
    pub sha256: Option<String>,
}

/// Uploads an object in one PUT with user `metadata` and a SHA-256
/// checksum the SDK computes, which S3 verifies and keeps.
pub async fn put_object_with_sha256(
    aws: &Aws, bucket: &str, key: &str, body: ByteStream, content_type: &str,
    metadata: &HashMap<String, String>,
) -> Result<Uploaded, AwsError> {
    let out = aws
        .s3()
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
        sha256: out.checksum_sha256().map(str::to_owned),
        version_id: out.version_id().map(str::to_owned),
        etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
    })
}

/// Starts a multipart upload with SHA-256 part checksums; returns its id.
pub async fn start_multipart_upload(
    aws: &Aws, bucket: &str, key: &str, content_type: &str, metadata: &HashMap<String, String>,
) -> Result<String, AwsError> {
    let out = aws
        .s3()
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .set_metadata(Some(metadata.clone()))
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(s3_failure("CreateMultipartUpload", bucket, key))?;
    out.upload_id().map(str::to_owned).ok_or_else(|| AwsError {
        service: AwsService::S3,
        operation: "CreateMultipartUpload",
        target: layer_autopublish::domain::layout::s3_uri(bucket, key),
        code: None,
        answered: true,
        message: "S3 answered without an upload id".into(),
        retry_after_s: None,
        waited_out: None,
    })
}

pub async fn upload_part(
    aws: &Aws, bucket: &str, key: &str, upload_id: &str, number: i32, body: ByteStream,
) -> Result<UploadedPart, AwsError> {
    let out = aws
        .s3()
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
    aws: &Aws, bucket: &str, key: &str, upload_id: &str, parts: &[UploadedPart],
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
    let out = aws
        .s3()
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
        sha256: out.checksum_sha256().map(str::to_owned),
        version_id: out.version_id().map(str::to_owned),
        etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
    })
}

/// Abandons a multipart upload, so its parts are not kept (and billed).
pub async fn abort_multipart_upload(
    aws: &Aws, bucket: &str, key: &str, upload_id: &str,
) -> Result<(), AwsError> {
    aws.s3()
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .map(|_| ())
        .map_err(s3_failure("AbortMultipartUpload", bucket, key))
}

/// Who a version is shared with, from its policy's statements: account ids,
/// organization ids (`o-…`) and `*`; empty when it has no policy.
pub async fn version_grantees(
    aws: &Aws, layer: &str, version: i64,
) -> Result<Vec<String>, AwsError> {
    let result = aws
        .lambda()
        .get_layer_version_policy()
        .layer_name(layer)
        .version_number(version)
        .send()
        .await;
    let policy = match result {
        Ok(out) => out.policy().unwrap_or_default().to_owned(),
        Err(e)
            if aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
                == Some("ResourceNotFoundException") =>
        {
            return Ok(Vec::new())
        }
        Err(e) => {
            let target = format!("{layer}:{version}");
            return Err(failure(
                AwsService::Lambda,
                "GetLayerVersionPolicy",
                &target,
                e,
            ));
        }
    };
    Ok(grantees_of(&policy))
}

/// The grantees a layer version policy's statements name.
pub fn grantees_of(policy: &str) -> Vec<String> {
    let policy: serde_json::Value = serde_json::from_str(policy).unwrap_or_default();
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    let mut grantees: Vec<String> = Vec::new();
    for statement in statements {
        let org = statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"].as_str();
        let principal = statement["Principal"]
            .as_str()
            .or_else(|| statement["Principal"]["AWS"].as_str())
            .unwrap_or_default();
        // An account's ARN (`arn:aws:iam::123456789012:root`) by its id.
        let principal = principal.split(':').nth(4).unwrap_or(principal);
        let grantee = org.unwrap_or(principal).to_owned();
        if !grantee.is_empty() && !grantees.contains(&grantee) {
            grantees.push(grantee);
        }
    }
    grantees
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_accounts_organizations_and_everyone() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"a","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"lambda:GetLayerVersion"},
            {"Sid":"b","Principal":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}},
            {"Sid":"c","Principal":"*"},
            {"Sid":"d","Principal":"210987654321"}]}"#;
        assert_eq!(
            grantees_of(policy),
            ["123456789012", "o-a1b2c3d4e5", "*", "210987654321"]
        );
        assert!(grantees_of("not JSON").is_empty());
    }
}
