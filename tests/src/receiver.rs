//! A webhook receiver on loopback: records every request it gets and answers as scripted
//! (then 200), so tests see deliveries as an endpoint owner does.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// The status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// 302 to the receiver's `/elsewhere`.
    Redirect,
    /// Never answers (within a minute).
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The payload with the `webhook-id` as `id`: `{id, event, timestamp, organization_id, data}`.
    pub fn message(&self) -> Value {
        let mut message: Value = serde_json::from_str(&self.body).expect("a JSON body");
        message["id"] = Value::String(self.header("webhook-id").to_owned());
        message
    }
}

#[derive(Default)]
struct Log {
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Log>>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Receiver {
        Self::scripted(Vec::new()).await
    }

    /// A receiver that answers `script` in turn, then 200.
    pub async fn scripted(script: Vec<Reply>) -> Receiver {
        let log = Arc::new(Mutex::new(Log {
            script: script.into(),
            received: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let shared = log.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = shared.clone();
            async move { answer(log, uri, headers, body).await }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, log }
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    /// Waits until `expected` requests have arrived or `wait` has passed.
    pub async fn wait_for(&self, expected: usize, wait: Duration) -> Vec<Received> {
        let deadline = Instant::now() + wait;
        loop {
            let received = self.received();
            if received.len() >= expected || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The messages delivered (2xx answered) within `wait`, until `expected` arrived.
    pub async fn messages(&self, expected: usize, wait: Duration) -> Vec<Value> {
        self.wait_for(expected, wait)
            .await
            .iter()
            .filter(|r| r.path == "/hook")
            .map(Received::message)
            .collect()
    }
}

async fn answer(log: Arc<Mutex<Log>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let reply = {
        let mut log = log.lock().unwrap();
        log.received.push(Received {
            path: uri.path().to_owned(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        log.script.pop_front()
    };
    match reply {
        None => StatusCode::OK.into_response(),
        Some(Reply::Status(code)) => status(code).into_response(),
        Some(Reply::RetryAfter(code, seconds)) => {
            (status(code), [("retry-after", seconds.to_string())]).into_response()
        }
        Some(Reply::Redirect) => (StatusCode::FOUND, [("location", "/elsewhere")]).into_response(),
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("a status code")
}

/// Verifies each `(secret, request)` with the public Standard Webhooks library (Python's
/// `standardwebhooks`, in the venv); panics with the library's reason on a failure.
pub fn verify_with_standard_webhooks(requests: &[(&str, &Received)]) {
    use std::io::Write;
    let input: Vec<Value> = requests
        .iter()
        .map(|(secret, r)| {
            serde_json::json!({
                "secret": secret,
                "headers": {
                    "webhook-id": r.header("webhook-id"),
                    "webhook-timestamp": r.header("webhook-timestamp"),
                    "webhook-signature": r.header("webhook-signature"),
                },
                "body": r.body,
            })
        })
        .collect();
    let root = crate::repo_root();
    let mut child = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/verify_webhooks.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the venv's python runs (make venv)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
