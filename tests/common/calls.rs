//! Counts the AWS calls a client makes, by operation, with an SDK
//! interceptor: what the call-floor test and `make bench` report; and when
//! each began and ended, so that a test can tell how many calls were made
//! one after another (the depth) from those made at once.

use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use layer_autopublish::adapters::aws::Aws;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The calls seen, by operation name (`HeadObject`, `PublishLayerVersion`…),
/// and each one's span.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    spans: Arc<Mutex<Vec<Span>>>,
}

/// When one call began and ended.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    began: Instant,
    ended: Option<Instant>,
}

/// Which span a call's own configuration bag belongs to.
#[derive(Clone, Debug)]
struct SpanIndex(usize);

impl Storable for SpanIndex {
    type Storer = StoreReplace<Self>;
}

impl Calls {
    /// Every call since the last `take`, and starts again from none.
    pub fn take(&self) -> BTreeMap<String, usize> {
        if let Ok(mut spans) = self.spans.lock() {
            spans.clear();
        }
        self.counts
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    /// How many calls since the last `take` were made one after another:
    /// the longest chain of calls each begun after the one before ended.
    /// Calls made at once overlap, and count once.
    pub fn depth(&self) -> usize {
        self.chain().len()
    }

    /// The longest chain of calls since the last `take`, each begun after
    /// the one before it ended: what `depth` counts, by operation name.
    pub fn chain(&self) -> Vec<String> {
        let spans = self.spans.lock().map(|s| s.clone()).unwrap_or_default();
        // For each call, the longest chain ending with it: its length and
        // the call before it.
        let mut longest: Vec<(usize, Option<usize>)> = Vec::with_capacity(spans.len());
        for span in &spans {
            let before = spans
                .iter()
                .enumerate()
                .zip(&longest)
                .filter(|((_, earlier), _)| earlier.ended.is_some_and(|end| end <= span.began))
                .max_by_key(|(_, (length, _))| *length)
                .map(|((index, _), (length, _))| (*length, index));
            longest.push(match before {
                Some((length, index)) => (length + 1, Some(index)),
                None => (1, None),
            });
        }
        let mut chain = Vec::new();
        let mut at = (0..longest.len()).max_by_key(|&i| longest[i].0);
        while let Some(index) = at {
            chain.push(spans[index].name.clone());
            at = longest[index].1;
        }
        chain.reverse();
        chain
    }

    pub fn total(calls: &BTreeMap<String, usize>) -> usize {
        calls.values().sum()
    }
}

#[derive(Debug)]
struct CountCalls(Calls);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    /// Once per call, whatever its retries.
    fn read_before_serialization(
        &self, _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents, cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "?".into());
        if let Ok(mut calls) = (self.0).counts.lock() {
            *calls.entry(name.clone()).or_default() += 1;
        }
        if let Ok(mut spans) = (self.0).spans.lock() {
            cfg.interceptor_state().store_put(SpanIndex(spans.len()));
            spans.push(Span {
                name,
                began: Instant::now(),
                ended: None,
            });
        }
        Ok(())
    }

    /// Once per call, after its last attempt.
    fn read_after_execution(
        &self, _context: &FinalizerInterceptorContextRef<'_>, _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let index = cfg.load::<SpanIndex>().map(|i| i.0);
        if let (Some(index), Ok(mut spans)) = (index, (self.0).spans.lock()) {
            if let Some(span) = spans.get_mut(index) {
                span.ended = Some(Instant::now());
            }
        }
        Ok(())
    }
}

/// Clients from `sdk` whose every call is counted in the returned `Calls`.
pub fn counted(sdk: &aws_config::SdkConfig) -> (Aws, Calls) {
    let calls = Calls::default();
    let s3 = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let lambda = aws_sdk_lambda::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let ssm = aws_sdk_ssm::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    let events = aws_sdk_eventbridge::config::Builder::from(sdk)
        .interceptor(CountCalls(calls.clone()))
        .build();
    (
        Aws::from_clients(
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_lambda::Client::from_conf(lambda),
            aws_sdk_ssm::Client::from_conf(ssm),
            aws_sdk_eventbridge::Client::from_conf(events),
        ),
        calls,
    )
}
