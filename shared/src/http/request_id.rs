//! Every answer names its request: `X-Request-Id` is API Gateway's request id in AWS (a
//! `req_…` id where there is none, as on the local stack), echoed in problem bodies as
//! `request_id` and logged with the request's line, so a customer's report leads to its
//! log line. A well-formed `X-Request-Id` the client sent is logged beside it as
//! `client_request_id`, never used as ours (it could collide or be forged).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered (in its task), if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The id a client sent, when it is one a log line may carry: 1–128 characters of
/// letters, digits and `-_.:`.
pub fn from_client(request: &Request) -> Option<String> {
    let value = request.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?;
    let well_formed = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    well_formed.then(|| value.to_owned())
}

fn api_gateway_id(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The layer: runs the request with its id in scope and names it in the answer.
pub async fn layer(request: Request, next: Next) -> Response {
    let id = api_gateway_id(&request)
        .unwrap_or_else(|| crate::ids::RequestId::generate().as_str().to_owned());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_client_id_is_logged() {
        let with = |value: &str| {
            let request = Request::builder()
                .header("x-request-id", value)
                .body(axum::body::Body::empty())
                .unwrap();
            from_client(&request)
        };
        assert_eq!(with("trace-42:a.b_c").as_deref(), Some("trace-42:a.b_c"));
        assert_eq!(with(""), None);
        assert_eq!(with("a b"), None);
        assert_eq!(with("<script>"), None);
        assert_eq!(with(&"x".repeat(129)), None);
    }
}
