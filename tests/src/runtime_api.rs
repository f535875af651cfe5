//! A small Lambda Runtime API emulator: a function binary started against it behaves as
//! in Lambda — it asks for the next invocation, answers it, asks again.
//! (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Clone)]
struct Shared {
    queue: Arc<Mutex<mpsc::Receiver<(String, Value)>>>,
    pending: Pending,
}

pub struct RuntimeApi {
    pub address: String,
    sender: mpsc::Sender<(String, Value)>,
    pending: Pending,
}

async fn next(State(shared): State<Shared>) -> (HeaderMap, String) {
    let (id, event) = shared
        .queue
        .lock()
        .await
        .recv()
        .await
        .expect("invocations channel open");
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:contract"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000;Sampled=0"),
    );
    (headers, event.to_string())
}

async fn respond(State(shared): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    finish(
        &shared,
        &id,
        Outcome::Response(serde_json::from_str(&body).unwrap_or(Value::String(body))),
    )
    .await
}

async fn error(State(shared): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    finish(
        &shared,
        &id,
        Outcome::Error(serde_json::from_str(&body).unwrap_or(Value::String(body))),
    )
    .await
}

async fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.pending.lock().await.remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let (sender, receiver) = mpsc::channel(16);
        let pending: Pending = Arc::default();
        let shared = Shared {
            queue: Arc::new(Mutex::new(receiver)),
            pending: pending.clone(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi {
            address,
            sender,
            pending,
        }
    }

    /// Invokes the function with `event` and waits for its answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = format!("req-{}", crate::unique(""));
        let (done, outcome) = oneshot::channel();
        self.pending.lock().await.insert(id.clone(), done);
        self.sender.send((id, event)).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), outcome)
            .await
            .expect("the function answered in time")
            .unwrap()
    }
}
