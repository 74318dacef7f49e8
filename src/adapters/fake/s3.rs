//! The in-memory S3: buckets of objects with MD5 ETags, versions when the
//! bucket is versioned, conditional writes and copies, ordered listings.

use super::{aws_error, lock, FakeAws, Op};
use crate::domain::layout::s3_uri;
use crate::domain::manifest::ManifestMd5;
use crate::error::AwsError;
use crate::ports::Clock as _;
use crate::ports::SourceObject;
use crate::ports::{
    Folder, ListedObject, ObjectHead, ObjectId, ObjectStart, SmallObject, WriteCondition,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub(super) struct Buckets(BTreeMap<String, Bucket>);

#[derive(Debug, Default)]
struct Bucket {
    versioned: bool,
    /// Default encryption with KMS: ETags are then not the objects' MD5s.
    kms: bool,
    /// Each key's versions, oldest first; the last is the current one.
    objects: BTreeMap<String, Vec<Stored>>,
    next_version: u64,
}

impl Bucket {
    /// Writes a new current object at `key`: another version in a versioned
    /// bucket, a replacement otherwise.
    fn write(&mut self, key: &str, mut object: Stored) -> ObjectId {
        if self.kms {
            // 32 hex digits, as S3's, but not the MD5 of the bytes.
            let mut salted = object.bytes.to_vec();
            salted.extend_from_slice(b"\0kms");
            object.etag = ManifestMd5::of(&salted).to_string();
        }
        let versions = self.objects.entry(key.to_owned()).or_default();
        if self.versioned {
            self.next_version += 1;
            object.version_id = Some(format!("v{:08}", self.next_version));
        } else {
            versions.clear();
        }
        let id = object.id();
        versions.push(object);
        id
    }
}

/// One version of an object.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub(super) bytes: Arc<Vec<u8>>,
    etag: String,
    version_id: Option<String>,
    metadata: HashMap<String, String>,
    sha256: Option<String>,
    last_modified: SystemTime,
}

impl Stored {
    fn id(&self) -> ObjectId {
        ObjectId {
            version_id: self.version_id.clone(),
            etag: Some(self.etag.clone()),
        }
    }
}

impl Buckets {
    fn bucket(&mut self, op: Op, bucket: &str, key: &str) -> Result<&mut Bucket, AwsError> {
        self.0.get_mut(bucket).ok_or_else(|| {
            aws_error(
                op,
                &s3_uri(bucket, key),
                "NoSuchBucket",
                "The specified bucket does not exist",
            )
        })
    }

    /// The current object at `key`, or the version `version_id` of it.
    pub(super) fn get(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Option<&Stored> {
        let versions = self.0.get(bucket)?.objects.get(key)?;
        match version_id {
            None => versions.last(),
            Some(id) => versions
                .iter()
                .find(|v| v.version_id.as_deref() == Some(id)),
        }
    }
}

/// S3 lists `LastModified` to the second.
fn to_the_second(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn new_object(
    bytes: Vec<u8>, metadata: HashMap<String, String>, sha256: Option<String>, now: SystemTime,
) -> Stored {
    Stored {
        etag: ManifestMd5::of(&bytes).to_string(),
        bytes: Arc::new(bytes),
        version_id: None,
        metadata,
        sha256,
        last_modified: now,
    }
}

impl Folder for FakeAws {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, AwsError> {
        // HEAD has no body: a missing bucket is a bare 404, as for a missing key.
        self.call(Op::HeadObject, &s3_uri(bucket, key), |state, _| {
            let kms = state.s3.0.get(bucket).is_some_and(|b| b.kms);
            Ok(state.s3.get(bucket, key, None).map(|o| ObjectHead {
                id: o.id(),
                metadata: o.metadata.clone(),
                size: o.bytes.len() as u64,
                sha256: o.sha256.clone(),
                kms,
                last_modified: Some(to_the_second(o.last_modified)),
            }))
        })
        .await
    }

    async fn read_start(
        &self, bucket: &str, key: &str, n: u64,
    ) -> Result<Option<ObjectStart>, AwsError> {
        self.call(Op::GetObject, &s3_uri(bucket, key), |state, _| {
            state.s3.bucket(Op::GetObject, bucket, key)?;
            Ok(state.s3.get(bucket, key, None).map(|o| {
                let end = o.bytes.len().min(usize::try_from(n).unwrap_or(usize::MAX));
                // An empty object has no byte 0: S3 answers 416, without an ETag.
                let id = if o.bytes.is_empty() {
                    ObjectId::default()
                } else {
                    o.id()
                };
                ObjectStart {
                    id,
                    bytes: o.bytes[..end].to_vec(),
                }
            }))
        })
        .await
    }

    async fn read_range(
        &self, source: &SourceObject<'_>, start: u64, len: u64,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        let (bucket, key) = (source.bucket, source.key);
        self.call(Op::GetObject, &s3_uri(bucket, key), |state, _| {
            state.s3.bucket(Op::GetObject, bucket, key)?;
            let Some(object) = state.s3.get(bucket, key, source.version_id) else {
                return Ok(None);
            };
            if source.version_id.is_none() && source.etag.is_some_and(|e| e != object.etag) {
                return Ok(None);
            }
            let from = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(object.bytes.len());
            let to = usize::try_from(start.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(object.bytes.len());
            Ok(Some(object.bytes[from..to].to_vec()))
        })
        .await
    }

    async fn read_small(
        &self, bucket: &str, key: &str, max_bytes: u64,
    ) -> Result<Option<SmallObject>, AwsError> {
        self.call(Op::GetObject, &s3_uri(bucket, key), |state, _| {
            state.s3.bucket(Op::GetObject, bucket, key)?;
            Ok(state.s3.get(bucket, key, None).map(|o| {
                let size = o.bytes.len() as u64;
                if size > max_bytes {
                    SmallObject::TooLarge { size }
                } else {
                    SmallObject::Read(o.bytes.to_vec())
                }
            }))
        })
        .await
    }

    async fn list_after(
        &self, bucket: &str, prefix: &str, start_after: Option<&str>,
    ) -> Result<Vec<ListedObject>, AwsError> {
        self.call(Op::ListObjectsV2, &s3_uri(bucket, prefix), |state, _| {
            let b = state.s3.bucket(Op::ListObjectsV2, bucket, prefix)?;
            Ok(b.objects
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .filter(|(key, _)| start_after.is_none_or(|after| key.as_str() > after))
                .filter_map(|(key, versions)| {
                    let o = versions.last()?;
                    Some(ListedObject {
                        key: key.clone(),
                        etag: o.etag.clone(),
                        size: o.bytes.len() as u64,
                        last_modified: Some(to_the_second(o.last_modified)),
                    })
                })
                .collect())
        })
        .await
    }

    async fn put(
        &self, bucket: &str, key: &str, body: Vec<u8>, _content_type: &str,
        condition: WriteCondition<'_>,
    ) -> Result<Option<String>, AwsError> {
        let target = s3_uri(bucket, key);
        let put = self.call(Op::PutObject, &target, |state, now| {
            state.s3.bucket(Op::PutObject, bucket, key)?;
            let current = state.s3.get(bucket, key, None).map(|o| o.etag.clone());
            let holds = match condition {
                WriteCondition::Always => true,
                WriteCondition::Absent => current.is_none(),
                WriteCondition::ETagIs(etag) => current.as_deref() == Some(etag),
            };
            if !holds {
                return Ok(None);
            }
            let object = new_object(body, HashMap::new(), None, now);
            Ok(state
                .s3
                .bucket(Op::PutObject, bucket, key)?
                .write(key, object)
                .etag)
        });
        match put.await {
            // Refusals, as the SDK side reports them.
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(super::CONFLICT | "PreconditionFailed")
                ) =>
            {
                Ok(None)
            }
            other => other,
        }
    }

    async fn put_receipt(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        let put = self.put(
            bucket,
            key,
            body,
            "application/json",
            WriteCondition::Always,
        );
        put.await.map(|_| ())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.call(Op::DeleteObject, &s3_uri(bucket, key), |state, _| {
            state
                .s3
                .bucket(Op::DeleteObject, bucket, key)?
                .objects
                .remove(key);
            Ok(())
        })
        .await
    }

    async fn copy_across(
        &self, from: &SourceObject<'_>, to_bucket: &str, to_key: &str,
    ) -> Result<Option<ObjectId>, AwsError> {
        let target = self.regional_target(&s3_uri(to_bucket, to_key));
        self.call(Op::CopyObject, &target, |state, now| {
            state.s3.bucket(Op::CopyObject, to_bucket, to_key)?;
            let Some(source) = state.s3.get(from.bucket, from.key, from.version_id) else {
                return Ok(None);
            };
            if from.version_id.is_none() && from.etag != Some(source.etag.as_str()) {
                return Ok(None);
            }
            let copy = Stored {
                last_modified: now,
                ..source.clone()
            };
            let bucket = state.s3.bucket(Op::CopyObject, to_bucket, to_key)?;
            Ok(Some(bucket.write(to_key, copy)))
        })
        .await
    }
}

/// Setting the scene and reading it back, as a test does with its own
/// clients: none of these is a call of the publisher's, none is logged or
/// faulted.
impl FakeAws {
    pub fn create_bucket(&self, bucket: &str) {
        lock(&self.state).s3.0.entry(bucket.to_owned()).or_default();
    }

    /// Encrypts what is written to `bucket` from now on with KMS.
    pub fn encrypt_with_kms(&self, bucket: &str) {
        lock(&self.state)
            .s3
            .0
            .entry(bucket.to_owned())
            .or_default()
            .kms = true;
    }

    pub fn enable_versioning(&self, bucket: &str) {
        lock(&self.state)
            .s3
            .0
            .entry(bucket.to_owned())
            .or_default()
            .versioned = true;
    }

    /// Uploads an object with user `metadata` and, when given, the SHA-256
    /// the uploader sent (stored unchecked, as moto does).
    pub fn put_object(
        &self, bucket: &str, key: &str, bytes: &[u8], metadata: &[(&str, &str)],
        sha256: Option<&str>,
    ) -> ObjectId {
        let metadata = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let now = self.clock.now();
        let object = new_object(bytes.to_vec(), metadata, sha256.map(str::to_owned), now);
        let mut state = lock(&self.state);
        let b = state.s3.0.entry(bucket.to_owned()).or_default();
        b.write(key, object)
    }

    /// Deletes every version of an object.
    pub fn delete_object(&self, bucket: &str, key: &str) {
        if let Some(b) = lock(&self.state).s3.0.get_mut(bucket) {
            b.objects.remove(key);
        }
    }

    /// The current bytes at `key`.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        lock(&self.state)
            .s3
            .get(bucket, key, None)
            .map(|o| o.bytes.to_vec())
    }

    /// Every key of `bucket` but the receipts' (`domain::receipt`).
    pub fn record_keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = self.keys(bucket);
        keys.retain(|key| !crate::domain::receipt::is_receipt_key(key));
        keys
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        lock(&self.state)
            .s3
            .0
            .get(bucket)
            .map(|b| b.objects.keys().cloned().collect())
            .unwrap_or_default()
    }
}
