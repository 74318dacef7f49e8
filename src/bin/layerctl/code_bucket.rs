//! Where `layerctl deploy` puts the function's zip for CloudFormation: a
//! bucket of the account in the stack's region (given, or one it creates:
//! private, encrypted, versioned, named after the account and region), under
//! a key made of the zip's SHA-256, so that an unchanged zip is not uploaded
//! again and a changed one is a new key, which is what makes CloudFormation
//! update the function's code.
//!
//! Its own bucket's settings are made after `CreateBucket`, and a tag
//! written last says they were: a deploy that stopped in between leaves a
//! bucket without the tag, which the next deploy sets up again.

use crate::failure::Failure;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode,
    CreateBucketConfiguration, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;

/// The tag on layerctl's own bucket once its settings are made.
const SET_UP_TAG: (&str, &str) = ("layer-autopublish", "code-bucket");

/// What [`ensure`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeBucket {
    /// There, and set up (or the user's own, whose settings are theirs).
    Ready,
    /// Created and set up.
    Created,
    /// layerctl's own, found without its settings (a deploy stopped after
    /// `CreateBucket`), and set up now.
    SetUpAgain,
}

/// The bucket `layerctl deploy` creates when none is given.
pub fn default_name(account: &str, region: &str) -> String {
    format!("layer-autopublish-code-{account}-{region}")
}

/// The zip's key: its SHA-256.
pub fn key_of(sha256: &str) -> String {
    format!("layer-autopublish/function-{sha256}.zip")
}

fn s3_failure(
    operation: &str, target: &str, error: &(impl ProvideErrorMetadata + std::error::Error),
) -> Failure {
    Failure::Aws(format!(
        "S3 {operation} on {target}: {}",
        crate::stack::said(error)
    ))
}

/// The bucket the zip goes to: `given`, which must be the account's and in
/// `region`; else the account's own, created (or set up) when it is missing
/// (or was left without its settings).
pub async fn ensure(
    s3: &Client, account: &str, region: &str, given: Option<&str>,
) -> Result<(String, CodeBucket), Failure> {
    let name = given.map_or_else(|| default_name(account, region), str::to_owned);
    let head = s3
        .head_bucket()
        .bucket(&name)
        .expected_bucket_owner(account)
        .send()
        .await;
    match head {
        Ok(found) => {
            let bucket_region = found.bucket_region().unwrap_or(region);
            if bucket_region != region {
                return Err(Failure::Rejected(format!(
                    "code bucket {name} is in {bucket_region}, the stack in {region}: Lambda \
                     takes its code from a bucket of the function's region; give \
                     --code-bucket a bucket in {region}, or none"
                )));
            }
            if given.is_some() {
                return Ok((name, CodeBucket::Ready));
            }
            let tags = tags_of(s3, &name, account).await?;
            if tags.iter().any(|t| (t.key(), t.value()) == SET_UP_TAG) {
                return Ok((name, CodeBucket::Ready));
            }
            set_up(s3, &name, account, tags).await?;
            Ok((name, CodeBucket::SetUpAgain))
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match (status, given) {
                (Some(404), None) => {
                    create(s3, &name, region).await?;
                    set_up(s3, &name, account, Vec::new()).await?;
                    Ok((name, CodeBucket::Created))
                }
                (Some(404), Some(_)) => Err(Failure::Rejected(format!(
                    "code bucket {name} does not exist: create it in {region}, or leave out \
                     --code-bucket for layerctl to create its own"
                ))),
                // Another account's bucket answers 403 to the expected owner.
                (Some(403), _) => Err(Failure::Rejected(format!(
                    "code bucket {name} is not this account's ({account}), or these \
                     credentials may not read it (s3:ListBucket): give --code-bucket a bucket \
                     of this account"
                ))),
                _ => Err(s3_failure("HeadBucket", &name, &e)),
            }
        }
    }
}

/// The bucket, with no settings yet. Created twice at once (two deploys),
/// the second finds it its own and sets the same settings.
async fn create(s3: &Client, name: &str, region: &str) -> Result<(), Failure> {
    let mut request = s3.create_bucket().bucket(name);
    // us-east-1 takes no location constraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    if let Err(e) = request.send().await {
        if e.code() != Some("BucketAlreadyOwnedByYou") {
            return Err(s3_failure("CreateBucket", name, &e));
        }
    }
    Ok(())
}

/// The bucket's tags (none: S3 answers `NoSuchTagSet`).
async fn tags_of(s3: &Client, name: &str, account: &str) -> Result<Vec<Tag>, Failure> {
    match s3
        .get_bucket_tagging()
        .bucket(name)
        .expected_bucket_owner(account)
        .send()
        .await
    {
        Ok(found) => Ok(found.tag_set().to_vec()),
        Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Vec::new()),
        Err(e) => Err(s3_failure("GetBucketTagging", name, &e)),
    }
}

/// Private, encrypted, versioned; then, last, the tag that says so, beside
/// the bucket's other `tags`. Each setting is idempotent: a deploy stopped
/// half way is finished by the next.
async fn set_up(s3: &Client, name: &str, account: &str, tags: Vec<Tag>) -> Result<(), Failure> {
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| s3_failure("PutPublicAccessBlock", name, &e))?;
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| Failure::Aws(e.to_string()))?;
    let rules = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(sse)
                .build(),
        )
        .build()
        .map_err(|e| Failure::Aws(e.to_string()))?;
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(rules)
        .send()
        .await
        .map_err(|e| s3_failure("PutBucketEncryption", name, &e))?;
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| s3_failure("PutBucketVersioning", name, &e))?;
    let marker = Tag::builder()
        .key(SET_UP_TAG.0)
        .value(SET_UP_TAG.1)
        .build()
        .map_err(|e| Failure::Aws(e.to_string()))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(
            tags.into_iter()
                .filter(|t| t.key() != SET_UP_TAG.0)
                .chain([marker])
                .collect(),
        ))
        .build()
        .map_err(|e| Failure::Aws(e.to_string()))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .expected_bucket_owner(account)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| s3_failure("PutBucketTagging", name, &e))?;
    Ok(())
}

/// Puts the zip at its key unless the same bytes are there already (S3's
/// own SHA-256 of the object says so). Whether it uploaded.
pub async fn put_zip(
    s3: &Client, bucket: &str, account: &str, sha256_hex: &str, bytes: &[u8],
) -> Result<bool, Failure> {
    let key = key_of(sha256_hex);
    let target = format!("s3://{bucket}/{key}");
    let digest = hex::decode(sha256_hex).map_err(|e| Failure::Aws(e.to_string()))?;
    let sha256 = aws_smithy_types::base64::encode(digest);
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .expected_bucket_owner(account)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await;
    match head {
        Ok(found) if found.checksum_sha256() == Some(sha256.as_str()) => return Ok(false),
        Ok(_) => {}
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {}
        Err(e) => return Err(s3_failure("HeadObject", &target, &e)),
    }
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .expected_bucket_owner(account)
        .content_type("application/zip")
        // S3 checks the bytes against it and keeps it.
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(sha256)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .map_err(|e| s3_failure("PutObject", &target, &e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_bucket_is_a_valid_name_for_every_region() {
        let name = default_name("123456789012", "ap-southeast-5");
        assert_eq!(name, "layer-autopublish-code-123456789012-ap-southeast-5");
        assert!(name.len() <= 63, "{name}");
        assert!(default_name("123456789012", "us-gov-west-1").len() <= 63);
    }
}
