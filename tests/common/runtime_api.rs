//! A stand-in for the Lambda Runtime API on loopback, so that the real
//! binary can be run as Lambda runs it: it hands the same event to the first
//! `invocations` requests for work, all at once when they have all arrived
//! (so their processes run concurrently), and keeps what each one answers.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Barrier, Notify};

/// What one invocation answered: `Ok(response)` or `Err(error body)`.
pub type Answer = Result<Value, Value>;

struct Shared {
    event: Value,
    invocations: usize,
    handed_out: AtomicUsize,
    all_asked: Barrier,
    answers: Mutex<Vec<Answer>>,
    answered: Notify,
}

pub struct RuntimeApi {
    pub address: String,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub async fn start(event: Value, invocations: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("bound").to_string();
        let shared = Arc::new(Shared {
            event,
            invocations,
            handed_out: AtomicUsize::new(0),
            all_asked: Barrier::new(invocations),
            answers: Mutex::new(Vec::new()),
            answered: Notify::new(),
        });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { serve(shared, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { address, shared }
    }

    /// Waits until every invocation has answered, at most `within`.
    pub async fn answers(&self, within: Duration) -> Vec<Answer> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.answered.notified();
            {
                let answers = self.shared.answers.lock().expect("answers");
                if answers.len() >= self.shared.invocations {
                    return answers.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let answers = self.shared.answers.lock().expect("answers");
                panic!(
                    "{} of {} invocations answered within {within:?}: {answers:?}",
                    answers.len(),
                    self.shared.invocations
                );
            }
        }
    }
}

async fn serve(
    shared: Arc<Shared>, request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let n = shared.handed_out.fetch_add(1, Ordering::SeqCst);
        if n >= shared.invocations {
            // No more work: the process waits here until it is killed.
            std::future::pending::<()>().await;
        }
        shared.all_asked.wait().await;
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() + 60_000)
            .unwrap_or_default();
        let response = Response::builder()
            .header("lambda-runtime-aws-request-id", format!("request-{n}"))
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:layer-autopublish",
            )
            .header("lambda-runtime-trace-id", format!("Root=1-{n}"))
            .body(Full::new(Bytes::from(shared.event.to_string())))
            .expect("a response");
        return Ok(response);
    }
    let body = request.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = if path.ends_with("/response") {
        Some(Ok(value))
    } else if path.ends_with("/error") {
        Some(Err(value))
    } else {
        None
    };
    if let Some(answer) = answer {
        shared.answers.lock().expect("answers").push(answer);
        shared.answered.notify_waiters();
    }
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Full::new(Bytes::new()))
        .expect("a response"))
}
