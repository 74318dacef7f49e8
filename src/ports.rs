//! What the publisher needs from the world, as small traits: the [`Folder`]
//! in S3, the [`Layer`] in Lambda, the [`Parameters`] in SSM the latest
//! version's pointer is kept in, the [`Events`] bus it announces new versions
//! on, and a [`Clock`].
//!
//! The publisher (`publish/`) is generic over them. The SDK implements them
//! in `adapters/aws/`; the in-memory AWS of `adapters/fake/` implements them too, for what a
//! real server cannot be made to do (lost answers, hung calls, a crash between
//! two calls, time passing). `tests/on_moto/contract.rs` runs the same assertions
//! against both, so the fake cannot drift from the real services.
//!
//! Every method returns plain values (`domain/values.rs`), `None` for "not
//! there", and an [`AwsError`] that names the call; no SDK type crosses this
//! line.

pub use crate::domain::values::{
    FunctionSetup, Grant, LayerVersion, ListedObject, NewVersion, ObjectHead, ObjectId,
    ObjectStart, PublishRequest, SmallObject, SourceObject, WriteCondition,
};
use crate::error::AwsError;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// The zip's folder in S3: the reads and conditional writes the publisher makes.
pub trait Folder: Send + Sync {
    /// HEAD of the current object; `None` when it does not exist.
    fn head(
        &self, bucket: &str, key: &str,
    ) -> impl Future<Output = Result<Option<ObjectHead>, AwsError>> + Send;

    /// The first `n` bytes of the current object (fewer when it is shorter),
    /// with which object they are from; `None` when it does not exist.
    fn read_start(
        &self, bucket: &str, key: &str, n: u64,
    ) -> impl Future<Output = Result<Option<ObjectStart>, AwsError>> + Send;

    /// `len` bytes from `start` of the object `source` names: its version,
    /// else the current object only while its ETag is still the one given.
    /// `None` when that object is gone or was replaced. (The checks before a
    /// publish read the zip's directory at its end with these.)
    fn read_range(
        &self, source: &SourceObject<'_>, start: u64, len: u64,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send;

    /// The whole object when it is at most `max_bytes` long (a larger one is
    /// not read); `None` when it does not exist.
    fn read_small(
        &self, bucket: &str, key: &str, max_bytes: u64,
    ) -> impl Future<Output = Result<Option<SmallObject>, AwsError>> + Send;

    /// Every object under `prefix` whose key sorts after `start_after`, in
    /// key order, across every page.
    fn list_after(
        &self, bucket: &str, prefix: &str, start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ListedObject>, AwsError>> + Send;

    /// Writes an object if `condition` holds: its new ETag, or `None` when S3
    /// refused for the condition (412, or 409 for a concurrent conditional
    /// write to the key).
    fn put(
        &self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str,
        condition: WriteCondition<'_>,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Writes an upload's receipt (JSON), tagged for the bucket's lifecycle
    /// rule to expire it (`domain::receipt::RECEIPT_TAG`).
    fn put_receipt(
        &self, bucket: &str, key: &str, body: Vec<u8>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Deletes an object (`PRUNE_RECORDS`); one already gone is success.
    fn delete(&self, bucket: &str, key: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Copies `from` to `to` in the bucket only if `from`'s ETag is still
    /// `etag` (`x-amz-copy-source-if-match`); `false` when it changed or is gone.
    fn copy_if(
        &self, bucket: &str, from: &str, to: &str, etag: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        async move {
            let source = SourceObject {
                bucket,
                key: from,
                version_id: None,
                etag: Some(etag),
            };
            Ok(self.copy_across(&source, bucket, to).await?.is_some())
        }
    }

    /// Copies `from` (its version when it names one, else only while its
    /// ETag is still the one given) to `to_key` in `to_bucket`, a bucket of
    /// this port's region; `None` when the source changed or is gone, else
    /// the copy's id.
    fn copy_across(
        &self, from: &SourceObject<'_>, to_bucket: &str, to_key: &str,
    ) -> impl Future<Output = Result<Option<ObjectId>, AwsError>> + Send;
}

/// The layer in Lambda: its versions, and publishing one.
pub trait Layer: Send + Sync {
    /// The newest versions of `layer`, newest first: at least the latest
    /// (on AWS, the first page of up to 50); empty when it has none.
    fn recent_versions(
        &self, layer: &str,
    ) -> impl Future<Output = Result<Vec<LayerVersion>, AwsError>> + Send;

    /// The SHA-256 of a version's content, as Lambda computed it.
    fn version_sha256(
        &self, layer: &str, version: i64,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Creates a new version (not idempotent: every call that applies makes one).
    fn publish(
        &self, request: &PublishRequest<'_>,
    ) -> impl Future<Output = Result<NewVersion, AwsError>> + Send;

    /// Every version of `layer`, across every page, newest first.
    fn all_versions(
        &self, layer: &str,
    ) -> impl Future<Output = Result<Vec<LayerVersion>, AwsError>> + Send;

    /// Deletes a version; one already gone is success.
    fn delete_layer_version(
        &self, layer: &str, version: i64,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Grants `lambda:GetLayerVersion` on a version; a statement with the
    /// grant's id already there is success (the grant is idempotent).
    fn share(
        &self, layer: &str, version: i64, grant: &Grant,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// SSM String parameters: where the latest version's ARN is kept for stacks
/// to resolve (`LATEST_PARAMETER`).
pub trait Parameters: Send + Sync {
    /// The parameter's value; `None` when it does not exist.
    fn get_parameter(
        &self, name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Writes the parameter as a String, overwriting any value.
    fn put_parameter(
        &self, name: &str, value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// EventBridge: one event per new version (`EVENT_BUS`).
pub trait Events: Send + Sync {
    /// Puts one event on `bus` (a name or an ARN); an entry EventBridge
    /// refuses is an error.
    fn put_event(
        &self, bus: &str, source: &str, detail_type: &str, detail: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Lambda functions that follow the layer (`FOLLOWERS`).
pub trait Functions: Send + Sync {
    /// A function's layers, runtime and architectures; `None` when the
    /// function does not exist.
    fn function_setup(
        &self, function: &str,
    ) -> impl Future<Output = Result<Option<FunctionSetup>, AwsError>> + Send;

    /// Sets a function's layers, in order.
    fn set_function_layers(
        &self, function: &str, layers: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The same ports in another region (`REPLICATE_TO`): its Lambda, its
/// parameters, its buckets.
pub trait Regions: Sized {
    fn in_region(&self, region: &str) -> Self;
}

/// Everything the publisher calls, as one bound: a handle on clients that
/// its clones share (each record wraps a clone in `throttles::Patient`).
pub trait Ports: Folder + Layer + Parameters + Events + Functions + Regions + Clone {}

impl<T: Folder + Layer + Parameters + Events + Functions + Regions + Clone> Ports for T {}

/// Time: what the lease's expiry and the wait for another's lease are
/// measured with. Tests use a manual one, so no test waits on the wall clock.
/// Its clones tell the same time.
pub trait Clock: Send + Sync + Clone {
    fn now(&self) -> SystemTime;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
    /// A random duration from zero to `ceiling`: a retry's pause
    /// (`backoff.rs`).
    fn jitter(&self, ceiling: Duration) -> Duration;
}

/// The process's own clock, and tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn jitter(&self, ceiling: Duration) -> Duration {
        draw(&mut fastrand::Rng::new(), ceiling)
    }
}

/// A duration uniformly in `[0, ceiling]`, drawn with `rng`: what each
/// [`Clock`] implements `jitter` with (here, so that `backoff.rs`, which
/// pauses through the port, and the port do not import each other).
pub fn draw(rng: &mut fastrand::Rng, ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(0..=nanos))
}
