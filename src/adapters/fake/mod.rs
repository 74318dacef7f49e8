//! An in-memory AWS behind the ports, for what a real server cannot be made
//! to do: a call that applies and loses its answer, a call that never
//! answers, a crash between two calls, time passing.
//!
//! It keeps the services' semantics the publisher relies on: S3's MD5 ETags,
//! object versions in a versioned bucket, `If-None-Match: *`, `If-Match` and
//! `x-amz-copy-source-if-match` answering 412, listings in key order after
//! `StartAfter` with `LastModified` to the second; Lambda's numbered versions
//! (never reused), descriptions, and the `CodeSha256` of the bytes it took.
//! Time is a [`ManualClock`]: tokio's, paused in the tests, plus what a test
//! advances by hand. `tests/on_moto/contract.rs` holds it to the real services by
//! running the same assertions against it and against moto.
//!
//! Faults are injected per call ([`FakeAws::inject`]): fail before the call
//! applies, apply it and lose the answer, answer late, or never answer.

mod events;
mod functions;
mod lambda;
mod s3;
mod ssm;

pub use events::PutEvent;

pub use lambda::code_sha256;

use crate::error::{AwsError, AwsService};
use crate::ports::Clock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The fake's clock: tokio's, which a test runs paused
/// (`#[tokio::test(start_paused = true)]`) so that sleeping takes no wall
/// time and every sleeper shares one timeline (it moves on when all tasks
/// are idle), plus what a test [`advance`](ManualClock::advance)s by hand.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<ClockState>);

#[derive(Debug)]
struct ClockState {
    /// 2026-11-23T12:00:00Z, on a whole second, when the clock was made.
    base: SystemTime,
    started: tokio::time::Instant,
    advanced: Mutex<Duration>,
    /// The retries' jitter: seeded, so that a run's pauses are the same on
    /// every run.
    jitter: Mutex<fastrand::Rng>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self(Arc::new(ClockState {
            base: UNIX_EPOCH + Duration::from_secs(1_795_435_200),
            started: tokio::time::Instant::now(),
            advanced: Mutex::new(Duration::ZERO),
            jitter: Mutex::new(fastrand::Rng::with_seed(0x1a7e_2b0f)),
        }))
    }
}

impl ManualClock {
    /// Moves the clock on at once, as if `by` had passed.
    pub fn advance(&self, by: Duration) {
        *lock(&self.0.advanced) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.base + *lock(&self.0.advanced) + self.0.started.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn jitter(&self, ceiling: Duration) -> Duration {
        crate::ports::draw(&mut lock(&self.0.jitter), ceiling)
    }
}

/// One kind of call, as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    HeadObject,
    GetObject,
    ListObjectsV2,
    PutObject,
    CopyObject,
    ListLayerVersions,
    GetLayerVersion,
    PublishLayerVersion,
    GetParameter,
    PutParameter,
    AddLayerVersionPermission,
    PutEvents,
    DeleteLayerVersion,
    DeleteObject,
    GetFunctionConfiguration,
    UpdateFunctionConfiguration,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Self::HeadObject => "HeadObject",
            Self::GetObject => "GetObject",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::PutObject => "PutObject",
            Self::CopyObject => "CopyObject",
            Self::ListLayerVersions => "ListLayerVersions",
            Self::GetLayerVersion => "GetLayerVersion",
            Self::PublishLayerVersion => "PublishLayerVersion",
            Self::GetParameter => "GetParameter",
            Self::PutParameter => "PutParameter",
            Self::AddLayerVersionPermission => "AddLayerVersionPermission",
            Self::PutEvents => "PutEvents",
            Self::DeleteLayerVersion => "DeleteLayerVersion",
            Self::DeleteObject => "DeleteObject",
            Self::GetFunctionConfiguration => "GetFunctionConfiguration",
            Self::UpdateFunctionConfiguration => "UpdateFunctionConfiguration",
        }
    }

    fn service(self) -> AwsService {
        match self {
            Self::ListLayerVersions
            | Self::GetLayerVersion
            | Self::PublishLayerVersion
            | Self::AddLayerVersionPermission
            | Self::DeleteLayerVersion
            | Self::GetFunctionConfiguration
            | Self::UpdateFunctionConfiguration => AwsService::Lambda,
            Self::GetParameter | Self::PutParameter => AwsService::Ssm,
            Self::PutEvents => AwsService::EventBridge,
            _ => AwsService::S3,
        }
    }
}

/// What goes wrong with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A 503 before the call applied: nothing changed.
    FailBefore,
    /// The call applied, then its answer was lost (a 503 after applying, a
    /// reset connection): the caller sees a failure, the change stands.
    LoseAnswer,
    /// No answer came (the SDK's timeout abandoned the call, a connection
    /// dropped) and nothing has applied yet. Such a call may still apply
    /// later: a test that needs it applies it by hand afterwards.
    NoAnswer,
    /// The answer comes after this long on the clock.
    Slow(Duration),
    /// The call never answers.
    Hang,
    /// A conditional write applied, its answer lost, and the SDK's retry of
    /// it refused (412): the write stands, the caller hears "refused".
    AppliedThenRefused,
    /// A conditional write refused with 409 `ConditionalRequestConflict`
    /// (another conditional write to the key was in flight), or for a Lambda
    /// call, `ResourceConflictException` (another update in progress):
    /// nothing applied.
    Conflict,
    /// Refused by throttling (Lambda's 429 `TooManyRequestsException`, which
    /// asks for a second's wait; S3's 503 `SlowDown`): nothing applied.
    Throttle,
    /// The call panics before applying: a bug, in this code or a dependency.
    Panic,
    /// Refused by IAM (403 `AccessDenied`; Lambda's `AccessDeniedException`):
    /// nothing applied. S3 also answers a HEAD or GET of a missing key so when
    /// the caller may not list the bucket there.
    AccessDenied,
}

/// Something another party does while a call is in flight: it happens
/// before the call applies.
pub type Meanwhile = Arc<dyn Fn(&FakeAws) + Send + Sync>;

/// A fault waiting for the calls it matches.
#[derive(Clone, Debug)]
struct Injected {
    op: Op,
    /// Only calls whose target (an S3 URI, a layer name) contains this.
    target_contains: String,
    fault: Fault,
    /// How many more calls it hits; `None`: every one.
    times: Option<usize>,
}

/// One call the fake answered (or failed), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub op: Op,
    pub target: String,
}

/// The in-memory S3 and Lambda, shared by its clones.
#[derive(Clone, Debug, Default)]
pub struct FakeAws {
    state: Arc<Mutex<State>>,
    clock: ManualClock,
    /// The region this view's Lambda and SSM calls go to; `None`: home.
    region: Option<String>,
}

#[derive(Default)]
struct State {
    /// S3's namespace is global: one for every region.
    s3: s3::Buckets,
    home: Regional,
    regional: BTreeMap<String, Regional>,
    /// The region of the call being applied (see [`FakeAws::here`]).
    region: Option<String>,
    events: Vec<PutEvent>,
    functions: functions::Registry,
    faults: Vec<Injected>,
    meanwhile: Vec<(Op, String, Meanwhile)>,
    calls: Vec<Call>,
    /// Lambda's account-wide rate, when a test sets one.
    lambda_rate: Option<TokenBucket>,
    /// The calls throttled by that rate.
    throttled: usize,
}

/// Lambda's control-plane limit: a bucket of `per_second` tokens, refilled
/// at that rate, shared by every Lambda call of the account in every region
/// (invoking aside, which the fake has not).
#[derive(Debug)]
struct TokenBucket {
    per_second: f64,
    tokens: f64,
    at: SystemTime,
}

impl TokenBucket {
    /// Takes a token at `now`, if there is one.
    fn take(&mut self, now: SystemTime) -> bool {
        let elapsed = now.duration_since(self.at).unwrap_or_default();
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.per_second);
        self.at = self.at.max(now);
        let taken = self.tokens >= 1.0;
        if taken {
            self.tokens -= 1.0;
        }
        taken
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("s3", &self.s3)
            .field("home", &self.home)
            .field("regional", &self.regional)
            .field("events", &self.events)
            .field("functions", &self.functions)
            .field("faults", &self.faults)
            .field("calls", &self.calls)
            .field("lambda_rate", &self.lambda_rate)
            .finish_non_exhaustive()
    }
}

/// What each region has of its own: layers and parameters.
#[derive(Debug, Default)]
struct Regional {
    lambda: lambda::Layers,
    ssm: ssm::Store,
}

impl State {
    fn regional(&mut self) -> &mut Regional {
        match &self.region {
            None => &mut self.home,
            Some(region) => self.regional.entry(region.clone()).or_default(),
        }
    }

    /// The Lambda of the region the current call is in.
    fn lambda(&mut self) -> &mut lambda::Layers {
        &mut self.regional().lambda
    }

    /// The SSM of the region the current call is in.
    fn ssm(&mut self) -> &mut ssm::Store {
        &mut self.regional().ssm
    }
}

/// Poisoning is no concern here: a panicking test ends anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl crate::ports::Regions for FakeAws {
    fn in_region(&self, region: &str) -> Self {
        self.region(region)
    }
}

impl FakeAws {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state, its Lambda and SSM those of this view's region.
    fn here(&self) -> MutexGuard<'_, State> {
        let mut state = lock(&self.state);
        state.region = self.region.clone();
        state
    }

    /// A call's target as logged (and matched by faults): in another
    /// region, prefixed with it, e.g. `eu-west-1:deps`.
    fn regional_target(&self, target: &str) -> String {
        match &self.region {
            Some(region) => format!("{region}:{target}"),
            None => target.to_owned(),
        }
    }

    /// This fake seen from `region`: its own layers and parameters, the one
    /// S3 (a test's view too: `versions`, `parameter`).
    pub fn region(&self, region: &str) -> Self {
        Self {
            region: Some(region.to_owned()),
            ..self.clone()
        }
    }

    /// The clock the fake stamps objects with; give it to the publisher.
    pub fn clock(&self) -> ManualClock {
        self.clock.clone()
    }

    /// `fault` hits the next `times` calls of `op` whose target contains
    /// `target_contains` (`""`: any).
    pub fn inject(&self, op: Op, target_contains: &str, fault: Fault, times: usize) {
        self.add_fault(op, target_contains, fault, Some(times));
    }

    /// `fault` hits every matching call from now on.
    pub fn inject_always(&self, op: Op, target_contains: &str, fault: Fault) {
        self.add_fault(op, target_contains, fault, None);
    }

    fn add_fault(&self, op: Op, target_contains: &str, fault: Fault, times: Option<usize>) {
        lock(&self.state).faults.push(Injected {
            op,
            target_contains: target_contains.to_owned(),
            fault,
            times,
        });
    }

    /// `then` happens once, during the next call of `op` whose target
    /// contains `target_contains`, before that call applies: an overwrite
    /// racing a publish, another process's write.
    pub fn meanwhile(
        &self, op: Op, target_contains: &str, then: impl Fn(&FakeAws) + Send + Sync + 'static,
    ) {
        lock(&self.state)
            .meanwhile
            .push((op, target_contains.to_owned(), Arc::new(then)));
    }

    /// From now on Lambda answers at most `per_second` calls a second,
    /// account-wide, as its control plane does: a call over the rate is
    /// answered 429 `TooManyRequestsException` with `retryAfterSeconds` 1,
    /// and changes nothing.
    pub fn limit_lambda_rate(&self, per_second: u32) {
        let per_second = f64::from(per_second);
        lock(&self.state).lambda_rate = Some(TokenBucket {
            per_second,
            tokens: per_second,
            at: self.clock.now(),
        });
    }

    /// How many calls the Lambda rate throttled.
    pub fn throttled(&self) -> usize {
        lock(&self.state).throttled
    }

    /// Every call since the last take, in order.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut lock(&self.state).calls)
    }

    /// The calls since the last take but the receipts' (read and written
    /// after each record, `publish/receipts.rs`): what the records called.
    pub fn take_record_calls(&self) -> Vec<Call> {
        let mut calls = self.take_calls();
        calls.retain(|call| !crate::domain::receipt::is_receipt_key(&call.target));
        calls
    }

    /// Logs the call and runs `apply` on the state, with the fault injected
    /// for it, if any.
    async fn call<T>(
        &self, op: Op, target: &str,
        apply: impl FnOnce(&mut State, SystemTime) -> Result<T, AwsError> + Send,
    ) -> Result<T, AwsError> {
        // A call crosses the network: other tasks run meanwhile, so that
        // concurrent deliveries interleave call by call.
        tokio::task::yield_now().await;
        let (fault, meanwhile) = {
            let mut state = lock(&self.state);
            state.calls.push(Call {
                op,
                target: target.to_owned(),
            });
            let now = self.clock.now();
            let over_the_rate = op.service() == AwsService::Lambda
                && state
                    .lambda_rate
                    .as_mut()
                    .is_some_and(|rate| !rate.take(now));
            if over_the_rate {
                state.throttled += 1;
                return Err(lambda_throttle(op, target));
            }
            let meanwhile = state
                .meanwhile
                .iter()
                .position(|(o, t, _)| *o == op && target.contains(t.as_str()))
                .map(|index| state.meanwhile.remove(index).2);
            (state.take_fault(op, target), meanwhile)
        };
        if let Some(then) = meanwhile {
            then(self);
        }
        let run = |this: &Self| {
            let now = this.clock.now();
            apply(&mut this.here(), now)
        };
        match fault {
            None => run(self),
            Some(Fault::FailBefore) => Err(aws_error(
                op,
                target,
                "ServiceUnavailable",
                "injected: failed before applying",
            )),
            Some(Fault::LoseAnswer) => {
                // The change stands whatever it answered.
                let _applied = run(self);
                let message = "injected: connection reset after the call applied";
                Err(unanswered(op, target, message))
            }
            Some(Fault::NoAnswer) => {
                let message = "injected: no answer within the call's timeout";
                Err(unanswered(op, target, message))
            }
            Some(Fault::Slow(delay)) => {
                self.clock.sleep(delay).await;
                run(self)
            }
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::AppliedThenRefused) => {
                let _applied = run(self);
                Err(aws_error(
                    op,
                    target,
                    "PreconditionFailed",
                    "injected: the retry was refused",
                ))
            }
            // Lambda's own word for it: another update of the function is
            // in progress.
            Some(Fault::Conflict) if op.service() == AwsService::Lambda => {
                let message =
                    "The operation cannot be performed at this time. An update is in progress";
                Err(aws_error(op, target, "ResourceConflictException", message))
            }
            Some(Fault::Conflict) => {
                let message = "A conflicting conditional operation is currently in progress";
                Err(aws_error(op, target, CONFLICT, message))
            }
            Some(Fault::Throttle) if op.service() == AwsService::Lambda => {
                Err(lambda_throttle(op, target))
            }
            Some(Fault::Throttle) => {
                let message = "Please reduce your request rate.";
                Err(aws_error(op, target, "SlowDown", message))
            }
            Some(Fault::AccessDenied) if op.service() == AwsService::S3 => {
                Err(aws_error(op, target, ACCESS_DENIED, "Access Denied"))
            }
            Some(Fault::AccessDenied) => {
                let message = "The role is not authorized to perform this operation";
                Err(aws_error(op, target, "AccessDeniedException", message))
            }
            Some(Fault::Panic) => panic!("injected: {} on {target} panicked", op.name()),
        }
    }
}

impl State {
    fn take_fault(&mut self, op: Op, target: &str) -> Option<Fault> {
        let index = self
            .faults
            .iter()
            .position(|f| f.op == op && target.contains(&f.target_contains))?;
        let injected = &mut self.faults[index];
        let fault = injected.fault;
        match &mut injected.times {
            Some(1) => {
                self.faults.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault)
    }
}

/// The code of a 409 to a conditional write, which the ports report as a
/// refusal, as the SDK adapter does.
const CONFLICT: &str = "ConditionalRequestConflict";
const ACCESS_DENIED: &str = crate::error::ACCESS_DENIED;

/// An error as the SDK adapter reports a call that got no answer.
fn unanswered(op: Op, target: &str, message: &str) -> AwsError {
    AwsError {
        service: op.service(),
        operation: op.name(),
        target: target.to_owned(),
        code: None,
        message: message.to_owned(),
        answered: false,
        retry_after_s: None,
        waited_out: None,
    }
}

/// Lambda's 429, as the SDK adapter reports it: asking for a second's wait.
fn lambda_throttle(op: Op, target: &str) -> AwsError {
    let message = "Rate exceeded";
    AwsError {
        retry_after_s: Some(1),
        ..aws_error(op, target, "TooManyRequestsException", message)
    }
}

/// An error as the SDK adapter reports a service's answer.
fn aws_error(op: Op, target: &str, code: &str, message: &str) -> AwsError {
    AwsError {
        service: op.service(),
        operation: op.name(),
        target: target.to_owned(),
        code: Some(code.to_owned()),
        answered: true,
        message: format!("{code}: {message}"),
        retry_after_s: None,
        waited_out: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Folder, SmallObject, WriteCondition};

    const B: &str = "b";

    fn fake() -> FakeAws {
        let aws = FakeAws::new();
        aws.create_bucket(B);
        aws
    }

    async fn put(aws: &FakeAws, body: &[u8]) -> Result<Option<String>, AwsError> {
        aws.put(B, "k", body.to_vec(), "text/plain", WriteCondition::Always)
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_before_applying_changes_nothing() {
        let aws = fake();
        aws.inject(Op::PutObject, "s3://b/k", Fault::FailBefore, 1);
        let error = put(&aws, b"one").await.unwrap_err();
        assert_eq!(error.code.as_deref(), Some("ServiceUnavailable"));
        assert_eq!(aws.object(B, "k"), None);
        assert!(put(&aws, b"two").await.is_ok(), "only the next call");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_fails_the_call_but_the_change_stands() {
        let aws = fake();
        aws.inject(Op::PutObject, "", Fault::LoseAnswer, 1);
        let error = put(&aws, b"one").await.unwrap_err();
        assert_eq!(error.code, None);
        assert!(error.message.contains("connection reset"), "{error}");
        assert!(!error.answered);
        assert_eq!(aws.object(B, "k").as_deref(), Some(&b"one"[..]));
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_fails_the_call_and_nothing_has_applied_yet() {
        let aws = fake();
        aws.inject(Op::PutObject, "", Fault::NoAnswer, 1);
        let error = put(&aws, b"one").await.unwrap_err();
        assert_eq!((error.code.as_deref(), error.answered), (None, false));
        assert!(error.message.contains("no answer"), "{error}");
        assert_eq!(aws.object(B, "k"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_comes_after_its_delay_on_the_clock() {
        let aws = fake();
        let clock = aws.clock();
        let before = clock.now();
        aws.inject(Op::GetObject, "", Fault::Slow(Duration::from_secs(30)), 1);
        let read = aws.read_small(B, "k", 10).await.unwrap();
        assert_eq!(read, None);
        let waited = clock.now().duration_since(before).unwrap();
        assert!(waited >= Duration::from_secs(30), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_call_never_answers_and_a_conflict_refuses_a_put() {
        let aws = fake();
        aws.inject(Op::PutObject, "", Fault::Hang, 1);
        let hung = tokio::time::timeout(Duration::from_secs(3600), put(&aws, b"one")).await;
        assert!(hung.is_err(), "still waiting after an hour");
        assert_eq!(aws.object(B, "k"), None);

        aws.inject_always(Op::PutObject, "", Fault::Conflict);
        assert_eq!(
            put(&aws, b"two").await.unwrap(),
            None,
            "refused, as a 409 is"
        );
        let calls = aws.take_calls();
        assert_eq!(calls.len(), 2);
        assert!(calls
            .iter()
            .all(|c| c.op == Op::PutObject && c.target == "s3://b/k"));
        assert_eq!(
            aws.read_small(B, "k", 10).await.unwrap(),
            None::<SmallObject>
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_moves_by_hand_and_by_sleeping() {
        let clock = ManualClock::default();
        let start = clock.now();
        clock.advance(Duration::from_secs(90));
        clock.sleep(Duration::from_secs(5)).await;
        assert_eq!(
            clock.now().duration_since(start).unwrap(),
            Duration::from_secs(95)
        );
    }
}
