//! A Lambda Runtime API emulator: a function binary started with
//! `AWS_LAMBDA_RUNTIME_API=<address>` behaves as in Lambda — it asks for the next
//! invocation, answers it, asks again (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
//!
//! Plain std (a thread per connection, HTTP/1.1 by hand) so that it compiles in seconds
//! and adds microseconds, not an async stack's overhead, to the cold starts the bench
//! times with it. Every answer carries the instant it arrived.

use crate::http;

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub outcome: Outcome,
    /// When the function's answer arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    answers: HashMap<String, Answer>,
    /// When the function first asked for an invocation: the end of its init.
    first_poll: Option<Instant>,
    init_error: Option<String>,
    issued: u64,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct RuntimeApi {
    pub address: String,
    shared: Arc<Shared>,
}

const WAIT_LIMIT: Duration = Duration::from_secs(30);

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("local address").to_string();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.lock().closed {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let connection = accepting.clone();
                std::thread::spawn(move || serve(&connection, stream));
            }
        });
        RuntimeApi { address, shared }
    }

    /// Queues an invocation; the function receives it at its next poll.
    pub fn submit(&self, event: &Value) -> String {
        let mut state = self.shared.lock();
        state.issued += 1;
        let id = format!("invocation-{}", state.issued);
        state.queue.push_back((id.clone(), event.to_string()));
        self.shared.changed.notify_all();
        id
    }

    /// Waits for the function's answer to invocation `id`.
    pub fn wait(&self, id: &str) -> Answer {
        self.wait_within(id, WAIT_LIMIT)
    }

    /// As `wait`, for an invocation that may run up to `limit` (a long export).
    pub fn wait_within(&self, id: &str, limit: Duration) -> Answer {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        loop {
            if let Some(answer) = state.answers.remove(id) {
                return answer;
            }
            if let Some(error) = &state.init_error {
                panic!("the function failed to initialise: {error}");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no answer to {id} within {limit:?}");
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Invokes the function with `event` and waits for its answer.
    pub fn invoke(&self, event: &Value) -> Outcome {
        let id = self.submit(event);
        self.wait(&id).outcome
    }

    /// When the function first polled for an invocation, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lock().first_poll
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        // Wakes the accept loop so that it sees `closed` and ends.
        let _ = TcpStream::connect(&self.address);
    }
}

/// One connection: requests in order until the function closes it (or we do).
fn serve(shared: &Shared, stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = std::io::BufReader::new(stream);
    while let Ok(Some(request)) = http::read_request(&mut reader) {
        let reply = route(shared, &request);
        if http::write_response(&mut writer, &reply).is_err() {
            return;
        }
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

fn route(shared: &Shared, request: &http::Request) -> http::Response {
    let path = request.path.strip_prefix(PREFIX).unwrap_or("");
    match (request.method.as_str(), path) {
        ("GET", "invocation/next") => next(shared),
        ("POST", "init/error") => {
            shared.lock().init_error = Some(request.body_text());
            shared.changed.notify_all();
            http::Response::accepted()
        }
        ("POST", rest) => {
            let answer = match rest
                .strip_prefix("invocation/")
                .and_then(|r| r.split_once('/'))
            {
                Some((id, "response")) => Some((id, Outcome::Response(request.body_json()))),
                Some((id, "error")) => Some((id, Outcome::Error(request.body_json()))),
                _ => None,
            };
            let Some((id, outcome)) = answer else {
                return http::Response::not_found();
            };
            let at = Instant::now();
            shared
                .lock()
                .answers
                .insert(id.to_owned(), Answer { outcome, at });
            shared.changed.notify_all();
            http::Response::accepted()
        }
        _ => http::Response::not_found(),
    }
}

/// Long-polls for the next invocation, as Lambda's `/next` does.
fn next(shared: &Shared) -> http::Response {
    let mut state = shared.lock();
    state.first_poll.get_or_insert_with(Instant::now);
    loop {
        if state.closed {
            return http::Response::gone();
        }
        if let Some((id, event)) = state.queue.pop_front() {
            return http::Response::invocation(&id, event);
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}
