//! The plain values the ports (`ports.rs`) carry: objects, layer versions,
//! requests. No SDK type, no I/O: the domain decides on these, and each
//! adapter (`adapters/`) makes them from its answers.

use std::collections::HashMap;
use std::time::SystemTime;

/// Which object an answer is about: its version (in a versioned bucket) and
/// ETag. What "is this still the current object?" compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectId {
    pub version_id: Option<String>,
    /// Without the quotes S3 puts around it.
    pub etag: Option<String>,
}

/// What a HEAD of an object tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub id: ObjectId,
    pub metadata: HashMap<String, String>,
    pub size: u64,
    /// The SHA-256 of the whole object (base64, as Lambda's `CodeSha256`),
    /// when the uploader sent `x-amz-checksum-sha256`. A multipart upload's
    /// checksum is a hash of part hashes: not comparable, so `None`.
    pub sha256: Option<String>,
    /// Encrypted with KMS: then no ETag in the bucket is an MD5.
    pub kms: bool,
    /// When S3 last wrote it, by S3's clock (to the second).
    pub last_modified: Option<SystemTime>,
}

/// The first bytes of an object, and which object they are from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStart {
    pub id: ObjectId,
    pub bytes: Vec<u8>,
}

/// An object read whole when it is no larger than asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmallObject {
    Read(Vec<u8>),
    TooLarge { size: u64 },
}

/// An object a listing shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// When S3 last wrote it, by S3's clock (to the second).
    pub last_modified: Option<SystemTime>,
}

/// The condition of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteCondition<'a> {
    /// Whatever is there.
    Always,
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object's ETag is still this one (`If-Match`).
    ETagIs(&'a str),
}

/// A published layer version as `ListLayerVersions` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerVersion {
    pub version: i64,
    pub arn: String,
    pub description: String,
    /// ISO 8601, as Lambda reports it.
    pub created: String,
    /// What it declares: its runtimes, architectures and licence.
    pub declared: crate::domain::declared::Declared,
}

/// What `FOLLOWERS` reads of a function: its layers (version ARNs, in
/// order), its runtime (none for a container image) and architectures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionSetup {
    pub layers: Vec<String>,
    pub runtime: Option<String>,
    pub architectures: Vec<String>,
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

/// An object pinned to the bytes that were checked: by its version in a
/// versioned bucket, else by its ETag.
#[derive(Clone, Copy, Debug)]
pub struct SourceObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub etag: Option<&'a str>,
}

/// One `AddLayerVersionPermission` request's grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub statement_id: String,
    pub principal: String,
    pub organization_id: Option<String>,
}
