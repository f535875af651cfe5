//! A small HTTP client that speaks the contract: JSON in, JSON or problem+json out.

use reqwest::Method;
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The body as two answers to different requests may share it: without the
    /// request's own id (`request_id`, which names each request).
    pub fn body_of_any_request(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
        }
        body
    }

    /// The problem `code` of an error response.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// DynamoDB calls and Scans the request made, as counted by the SDK interceptor.
    pub fn dynamodb_calls(&self) -> (u32, u32) {
        let [calls, scans, _] = self.dynamodb_counts();
        (calls, scans)
    }

    /// The times the request waited on DynamoDB (calls sent side by side count once).
    pub fn dynamodb_round_trips(&self) -> u32 {
        self.dynamodb_counts()[2]
    }

    /// `x-plexmcp-dynamodb-calls: <calls>;scans=<n>;trips=<n>`.
    fn dynamodb_counts(&self) -> [u32; 3] {
        let raw = self
            .headers
            .get("x-plexmcp-dynamodb-calls")
            .and_then(|v| v.to_str().ok())
            .expect("round-trip header");
        let (calls, rest) = raw.split_once(";scans=").expect("calls;scans=n");
        let (scans, trips) = rest.split_once(";trips=").expect("scans=n;trips=n");
        [calls, scans, trips].map(|n| n.parse().expect("a count"))
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "content type {}",
            self.content_type()
        );
        assert_eq!(
            self.body["type"],
            format!("https://docs.plexmcp.com/errors/{code}")
        );
        assert_eq!(self.body["status"], status);
        self
    }
}

impl Api {
    pub fn new(base: &str) -> Self {
        Api {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    /// A client whose requests come from `source` (any 127.0.0.0/8 address is this
    /// machine): another client network for the login budget.
    pub fn from_address(base: &str, source: std::net::IpAddr) -> Self {
        Api {
            http: reqwest::Client::builder()
                .local_address(source)
                .build()
                .expect("HTTP client"),
            base: base.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.expect("request reaches the gateway");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut request = self.raw(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }
}
