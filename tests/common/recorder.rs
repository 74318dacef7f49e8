//! A recording proxy before moto: it keeps every HTTP request a client sends
//! (the function in-process, `layerctl` as a process) as AWS would receive
//! it, method, path, query, headers and body, and forwards it to moto
//! unchanged. What AWS's IAM would be asked about each request is derived
//! from these (`tests/on_moto/rights/`). It can also refuse requests as IAM
//! would (403 `AccessDenied`), or apply them and drop their answer, to reach
//! the paths only a refusal or a lost answer takes.
//!
//! It serves on a thread and runtime of its own, so that a test may block on
//! a process that talks to it.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

/// One HTTP request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    /// A query parameter, percent-decoded; `Some("")` for a bare `?uploads`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| decode(value))
        })
    }

    /// The SigV4 credential scope's region and service.
    pub fn scope(&self) -> (String, String) {
        let auth = self
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        let scope = auth
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_default();
        let parts: Vec<&str> = scope.split('/').collect();
        match parts.as_slice() {
            [_, _, region, service, ..] => (region.to_string(), service.to_string()),
            _ => (String::new(), String::new()),
        }
    }
}

/// Percent-decoding of a path segment or query value (`+` stays).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which requests a fault is for.
pub type Picker = Box<dyn Fn(&Seen) -> bool + Send + Sync>;

/// What the proxy does to the requests a [`Picker`] picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answered with S3's 403 `AccessDenied`, unforwarded: IAM's refusal.
    Refuse,
    /// Forwarded (moto applies it), then the connection is dropped without
    /// an answer: a call that applies and loses its answer.
    LoseAnswer,
}

type Faults = Arc<Mutex<Option<(Fault, Picker)>>>;

pub struct Recorder {
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    faults: Faults,
}

impl Recorder {
    /// A proxy to `upstream` (`http://host:port`) on a free loopback port.
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let faults: Faults = Arc::new(Mutex::new(None));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", std_listener.local_addr().expect("bound"));
        let (serving, faulting) = (seen.clone(), faults.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("a listener");
                while let Ok((stream, _)) = listener.accept().await {
                    let (seen, faults, upstream) =
                        (serving.clone(), faulting.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let (seen, faults, upstream) =
                                (seen.clone(), faults.clone(), upstream.clone());
                            async move { relay(request, &upstream, &seen, &faults).await }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Self {
            endpoint,
            seen,
            faults,
        }
    }

    /// Every request since the last `take`.
    pub fn take(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    /// From now on, does `fault` to the requests `which` picks (`None`:
    /// forwards every request as it is).
    pub fn fault(&self, fault: Option<(Fault, Picker)>) {
        if let Ok(mut faults) = self.faults.lock() {
            *faults = fault;
        }
    }
}

/// Why the proxy dropped a connection: the upstream failed, or the answer
/// is lost on purpose ([`Fault::LoseAnswer`]).
#[derive(Debug)]
enum Dropped {
    Upstream(hyper::Error),
    OnPurpose,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upstream(e) => write!(f, "moto: {e}"),
            Self::OnPurpose => f.write_str("the answer is lost on purpose"),
        }
    }
}

impl std::error::Error for Dropped {}

impl From<hyper::Error> for Dropped {
    fn from(e: hyper::Error) -> Self {
        Self::Upstream(e)
    }
}

async fn relay(
    request: Request<Incoming>, upstream: &str, seen: &Mutex<Vec<Seen>>,
    faults: &Mutex<Option<(Fault, Picker)>>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let record = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_ascii_lowercase(), value)
            })
            .collect(),
        body: body.to_vec(),
    };
    let fault = faults.lock().ok().and_then(|f| {
        f.as_ref()
            .and_then(|(fault, which)| which(&record).then_some(*fault))
    });
    if let Ok(mut seen) = seen.lock() {
        seen.push(record);
    }
    if fault == Some(Fault::Refuse) {
        let denied = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let mut response = Response::new(Full::new(Bytes::from(denied)));
        *response.status_mut() = hyper::StatusCode::FORBIDDEN;
        return Ok(response);
    }
    let mut forwarded = Request::from_parts(parts, Full::new(body));
    forwarded.headers_mut().remove(hyper::header::CONNECTION);
    let stream = match TcpStream::connect(upstream).await {
        Ok(stream) => stream,
        Err(e) => return Ok(bad_gateway(&e.to_string())),
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(forwarded).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    if fault == Some(Fault::LoseAnswer) {
        // hyper closes a connection whose service fails, answering nothing.
        return Err(Dropped::OnPurpose);
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

fn bad_gateway(why: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(why.to_owned())));
    *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    response
}
