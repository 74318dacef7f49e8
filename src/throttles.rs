//! Throttles waited out, not failed. Lambda's control plane allows an
//! account about 15 requests per second, shared by every API but invoking
//! and by every tool of the account; a burst of uploads starts one
//! invocation per event, and many of their calls are answered 429
//! `TooManyRequestsException` (S3: 503 `SlowDown`). A throttled call did not
//! apply, so it may be sent again.
//!
//! [`Patient`] wraps the ports a record uses: a throttled call is sent again
//! after a pause of at least what the answer asks (`Retry-After`) plus a
//! jittered backoff (`backoff.rs`, on the [`Clock`] port), for as long as
//! the record's `answer_by` allows; past it, the throttle is returned marked
//! [`WaitedOut`] (the `Throttled` error type), and Lambda's retry of the
//! event finishes the record. The SDK does not retry throttles of its own
//! for the function (`adapters/aws/config.rs`, `ThrottlesToTheCaller`).

use crate::backoff::Backoff;
use crate::error::{AwsError, WaitedOut};
use crate::ports::{
    Clock, Events, Folder, FunctionSetup, Functions, Grant, Layer, LayerVersion, ListedObject,
    NewVersion, ObjectHead, ObjectId, ObjectStart, Parameters, PublishRequest, Regions,
    SmallObject, SourceObject, WriteCondition,
};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::debug;

/// The ceilings of the jittered part of the pauses between two attempts of
/// a throttled call: from 1 s, doubling, up to 4 s. With Lambda's 1 s asked
/// before each, a waiting invocation sends an attempt every 2 to 3 s: enough
/// for a burst to use every token of the rate without flooding it (`make
/// bench-burst`).
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// The ports of one record, waiting out throttles until `answer_by`.
#[derive(Clone, Debug)]
pub struct Patient<A, C> {
    inner: A,
    clock: C,
    answer_by: SystemTime,
    tally: Arc<Tally>,
}

/// What a record's calls met: throttled answers and the time spent waiting
/// them out (its metric line).
#[derive(Debug, Default)]
pub struct Tally {
    throttled: AtomicU32,
    waited_ns: AtomicU64,
}

impl Tally {
    /// How many answers were throttles.
    pub fn throttled(&self) -> u32 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// How long the record paused for them, in all.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }
}

impl<A, C: Clock> Patient<A, C> {
    pub fn new(inner: A, clock: C, answer_by: SystemTime) -> Self {
        Self {
            inner,
            clock,
            answer_by,
            tally: Arc::default(),
        }
    }

    /// What this record's calls met so far, its copies' too.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Sends the call made by `send` until it is not throttled or there is
    /// no time left to wait.
    async fn call<T, F, Fut>(&self, mut send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let started = self.clock.now();
        let mut pauses = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
        let mut attempts = 1;
        loop {
            let error = match send().await {
                Err(error) if error.is_throttle() => error,
                answered => return answered,
            };
            self.tally.throttled.fetch_add(1, Ordering::Relaxed);
            // Never sooner than the answer asks; the jitter spreads the
            // invocations throttled together.
            let asked = Duration::from_secs(error.retry_after_s.unwrap_or_default().into());
            let pause = asked + pauses.next_pause(&self.clock);
            let now = self.clock.now();
            if now + pause > self.answer_by {
                let waited = now.duration_since(started).unwrap_or_default();
                let waited_out = Some(Box::new(WaitedOut { attempts, waited }));
                return Err(AwsError {
                    waited_out,
                    ..error
                });
            }
            debug!(call = error.operation, target = %error.target, attempt = attempts, pause_ms = pause.as_millis() as u64, "throttled: sending it again after a pause");
            self.clock.sleep(pause).await;
            let nanos = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX);
            self.tally.waited_ns.fetch_add(nanos, Ordering::Relaxed);
            attempts += 1;
        }
    }
}

impl<A: Folder, C: Clock> Folder for Patient<A, C> {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, AwsError> {
        self.call(|| self.inner.head(bucket, key)).await
    }

    async fn read_start(
        &self, bucket: &str, key: &str, n: u64,
    ) -> Result<Option<ObjectStart>, AwsError> {
        self.call(|| self.inner.read_start(bucket, key, n)).await
    }

    async fn read_range(
        &self, source: &SourceObject<'_>, start: u64, len: u64,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        self.call(|| self.inner.read_range(source, start, len))
            .await
    }

    async fn read_small(
        &self, bucket: &str, key: &str, max_bytes: u64,
    ) -> Result<Option<SmallObject>, AwsError> {
        self.call(|| self.inner.read_small(bucket, key, max_bytes))
            .await
    }

    async fn list_after(
        &self, bucket: &str, prefix: &str, start_after: Option<&str>,
    ) -> Result<Vec<ListedObject>, AwsError> {
        self.call(|| self.inner.list_after(bucket, prefix, start_after))
            .await
    }

    async fn put(
        &self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str,
        condition: WriteCondition<'_>,
    ) -> Result<Option<String>, AwsError> {
        // Bodies are small (a lease, a lock file's record): one copy per
        // attempt.
        self.call(|| {
            self.inner
                .put(bucket, key, body.clone(), content_type, condition)
        })
        .await
    }

    async fn put_receipt(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.call(|| self.inner.put_receipt(bucket, key, body.clone()))
            .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.call(|| self.inner.delete(bucket, key)).await
    }

    async fn copy_if(
        &self, bucket: &str, from: &str, to: &str, etag: &str,
    ) -> Result<bool, AwsError> {
        self.call(|| self.inner.copy_if(bucket, from, to, etag))
            .await
    }

    async fn copy_across(
        &self, from: &SourceObject<'_>, to_bucket: &str, to_key: &str,
    ) -> Result<Option<ObjectId>, AwsError> {
        self.call(|| self.inner.copy_across(from, to_bucket, to_key))
            .await
    }
}

impl<A: Layer, C: Clock> Layer for Patient<A, C> {
    async fn recent_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.call(|| self.inner.recent_versions(layer)).await
    }

    async fn version_sha256(&self, layer: &str, version: i64) -> Result<Option<String>, AwsError> {
        self.call(|| self.inner.version_sha256(layer, version))
            .await
    }

    /// A throttled publish did not apply: sending it again cannot make a
    /// second version. Any other failure goes back to the publisher as is.
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<NewVersion, AwsError> {
        self.call(|| self.inner.publish(request)).await
    }

    async fn all_versions(&self, layer: &str) -> Result<Vec<LayerVersion>, AwsError> {
        self.call(|| self.inner.all_versions(layer)).await
    }

    async fn delete_layer_version(&self, layer: &str, version: i64) -> Result<(), AwsError> {
        self.call(|| self.inner.delete_layer_version(layer, version))
            .await
    }

    async fn share(&self, layer: &str, version: i64, grant: &Grant) -> Result<(), AwsError> {
        self.call(|| self.inner.share(layer, version, grant)).await
    }
}

impl<A: Parameters, C: Clock> Parameters for Patient<A, C> {
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.call(|| self.inner.get_parameter(name)).await
    }

    async fn put_parameter(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.call(|| self.inner.put_parameter(name, value)).await
    }
}

impl<A: Events, C: Clock> Events for Patient<A, C> {
    async fn put_event(
        &self, bus: &str, source: &str, detail_type: &str, detail: &str,
    ) -> Result<(), AwsError> {
        self.call(|| self.inner.put_event(bus, source, detail_type, detail))
            .await
    }
}

impl<A: Functions, C: Clock> Functions for Patient<A, C> {
    async fn function_setup(&self, function: &str) -> Result<Option<FunctionSetup>, AwsError> {
        self.call(|| self.inner.function_setup(function)).await
    }

    async fn set_function_layers(&self, function: &str, layers: &[String]) -> Result<(), AwsError> {
        self.call(|| self.inner.set_function_layers(function, layers))
            .await
    }
}

/// The same patience in another region, counted in the same tally.
impl<A: Regions, C: Clock> Regions for Patient<A, C> {
    fn in_region(&self, region: &str) -> Self {
        Self {
            inner: self.inner.in_region(region),
            clock: self.clock.clone(),
            answer_by: self.answer_by,
            tally: self.tally.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::fake::{FakeAws, Fault, ManualClock, Op};
    use crate::error::Problem;

    fn patient(aws: &FakeAws, time_left: Duration) -> Patient<FakeAws, ManualClock> {
        let clock = aws.clock();
        let answer_by = clock.now() + time_left;
        Patient::new(aws.clone(), clock, answer_by)
    }

    /// Lambda asks for a second: never sent again sooner, and the answer
    /// that finally comes is the caller's.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_call_is_sent_again_no_sooner_than_the_answer_asks() {
        let aws = FakeAws::new();
        aws.inject(Op::ListLayerVersions, "", Fault::Throttle, 2);
        let ports = patient(&aws, Duration::from_secs(60));
        let started = aws.clock().now();

        let versions = ports.recent_versions("deps").await;

        assert_eq!(versions.ok(), Some(Vec::new()));
        assert_eq!(aws.take_calls().len(), 3);
        let took = aws.clock().now().duration_since(started).unwrap();
        // Two pauses of 1 s asked, plus jitter of up to 1 s, then 2 s.
        assert!(took >= Duration::from_secs(2), "{took:?}");
        assert!(took <= Duration::from_secs(2 + 1 + 2), "{took:?}");
        assert_eq!(ports.tally().throttled(), 2);
        // tokio's timer rounds each sleep up to a millisecond.
        let waited = ports.tally().waited();
        assert!(
            waited <= took && took - waited < Duration::from_millis(5),
            "{waited:?}"
        );
    }

    /// S3's `SlowDown` names no wait: the jittered backoff alone. Past the
    /// time the record has, the throttle is returned, saying how long it
    /// was waited out; the clock never passes `answer_by`.
    #[tokio::test(start_paused = true)]
    async fn a_call_throttled_until_the_time_runs_short_says_how_long_it_waited() {
        let aws = FakeAws::new();
        aws.inject_always(Op::HeadObject, "", Fault::Throttle);
        let ports = patient(&aws, Duration::from_secs(30));
        let started = aws.clock().now();

        let error = ports.head("b", "app/layer.zip").await.unwrap_err();

        let took = aws.clock().now().duration_since(started).unwrap();
        assert!(took <= Duration::from_secs(30), "{took:?}");
        let waited_out = error.waited_out.as_deref().copied().unwrap();
        assert_eq!(waited_out.waited, took);
        assert_eq!(waited_out.attempts as usize, aws.take_calls().len());
        assert!(waited_out.attempts >= 8, "{waited_out:?}");
        let problem = Problem::from(error);
        assert_eq!(problem.error_type(), "Throttled");
        let message = problem.to_string();
        let attempts = format!("on each of its {} attempts over", waited_out.attempts);
        assert!(
            message.starts_with("HeadObject on s3://b/app/layer.zip failed: SlowDown"),
            "{message}"
        );
        assert!(message.contains(&attempts), "{message}");
    }

    /// Only throttles are waited out: any other failure is the caller's at
    /// once.
    #[tokio::test(start_paused = true)]
    async fn other_failures_are_returned_at_once() {
        let aws = FakeAws::new();
        aws.inject(Op::ListLayerVersions, "", Fault::FailBefore, 1);
        let ports = patient(&aws, Duration::from_secs(60));

        let error = ports.recent_versions("deps").await.unwrap_err();

        assert_eq!(error.code.as_deref(), Some("ServiceUnavailable"));
        assert!(error.waited_out.is_none());
        assert_eq!(aws.take_calls().len(), 1);
        assert_eq!(ports.tally().throttled(), 0);
    }
}
