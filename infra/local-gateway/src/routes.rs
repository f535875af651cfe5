//! Routing as API Gateway does it: each request goes to the function whose `HttpApi`
//! event in `template.yaml` matches it best (the `$default` route last), and a request no
//! route matches gets API Gateway's own `404 {"message":"Not Found"}` — so what works
//! locally is what the template routes in AWS. At start, every operation a function's OpenAPI document
//! declares must route to that same function, or the gateway refuses to start.

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use serde::Deserialize;

/// One `HttpApi` event of the template (the stack file's `routes`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Route {
    /// Logical id of the function in `template.yaml`.
    pub function: String,
    /// `GET`, `POST`, … or `ANY`.
    pub method: String,
    /// `/v1/health`, `/v1/orgs/{slug}`, `/v1/orgs/{proxy+}`.
    pub path: String,
    /// `AWS_IAM`: API Gateway lets only IAM-signed calls through.
    #[serde(default)]
    pub authorizer: Option<String>,
}

impl Route {
    /// Whether API Gateway lets `request` reach the function: on an `AWS_IAM` route, only
    /// a request signed with the stack's credentials (`sigv4`).
    pub fn admits<B>(&self, request: &Request<B>) -> bool {
        self.authorizer.as_deref() != Some("AWS_IAM") || crate::sigv4::verifies(request)
    }
}

/// How well `route_path` matches `path`: `None` if it does not; higher is more specific
/// (API Gateway prefers a full match to a greedy `{proxy+}`, a longer greedy prefix to a
/// shorter one, and anything to the `$default` route).
fn specificity(route_path: &str, path: &str) -> Option<usize> {
    if route_path == "$default" {
        return Some(0);
    }
    let route: Vec<&str> = route_path.trim_matches('/').split('/').collect();
    let request: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, segment) in route.iter().enumerate() {
        if segment.starts_with('{') && segment.ends_with("+}") {
            // Greedy: one segment or more.
            return (request.len() > i).then_some(i + 1);
        }
        let given = request.get(i)?;
        let variable = segment.starts_with('{') && segment.ends_with('}');
        if !(variable && !given.is_empty() || segment == given) {
            return None;
        }
    }
    (route.len() == request.len()).then_some(usize::MAX)
}

/// The route API Gateway would pick for `method path`.
pub fn select<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| r.method == "ANY" || r.method.eq_ignore_ascii_case(method))
        .filter_map(|r| specificity(&r.path, path).map(|s| (s, r.method != "ANY", r)))
        .max_by_key(|(s, exact_method, _)| (*s, *exact_method))
        .map(|(_, _, r)| r)
}

/// API Gateway's answer when no route matches.
pub fn not_found() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"Not Found"}"#))
        .unwrap_or_default()
}

/// Every operation of `function`'s document must route to `function`: an operation the
/// template does not route would answer 404 in AWS.
pub fn check(
    routes: &[Route],
    function: &str,
    doc: &utoipa::openapi::OpenApi,
) -> Result<(), String> {
    for (path, item) in &doc.paths.paths {
        let example: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ]
        .into_iter()
        .filter_map(|(m, declared)| declared.then_some(m))
        {
            match select(routes, method.as_str(), &example) {
                Some(route) if route.function == function => {}
                Some(route) => {
                    return Err(format!(
                        "{method} {path} of {function} routes to {} in template.yaml ({} {})",
                        route.function, route.method, route.path
                    ))
                }
                None => {
                    return Err(format!(
                        "{method} {path} of {function} has no route in template.yaml: API Gateway would answer 404"
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The request's route, by the template's.
pub fn route_of<'a>(routes: &'a [Route], request: &Request<Body>) -> Option<&'a Route> {
    select(routes, request.method().as_str(), request.uri().path())
}

/// API Gateway's answer to a call its authorizer (or the host) refuses.
pub fn forbidden() -> Response<Body> {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"Forbidden"}"#))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(function: &str, method: &str, path: &str) -> Route {
        Route {
            function: function.into(),
            method: method.into(),
            path: path.into(),
            authorizer: None,
        }
    }

    #[test]
    fn the_most_specific_route_wins_as_in_api_gateway() {
        let routes = [
            route("Orgs", "ANY", "/v1/orgs"),
            route("Orgs", "ANY", "/v1/orgs/{proxy+}"),
            route("Hooks", "GET", "/v1/webhooks/event-types"),
            route("Platform", "GET", "/v1/health"),
            route("Me", "ANY", "/v1/me/{proxy+}"),
            route("Special", "GET", "/v1/me/special"),
        ];
        let to = |method, path| select(&routes, method, path).map(|r| r.function.as_str());
        assert_eq!(to("POST", "/v1/orgs"), Some("Orgs"));
        assert_eq!(to("GET", "/v1/orgs/acme/mcps/mcp_1"), Some("Orgs"));
        assert_eq!(to("GET", "/v1/webhooks/event-types"), Some("Hooks"));
        assert_eq!(to("POST", "/v1/webhooks/event-types"), None, "GET only");
        assert_eq!(to("GET", "/v1/health"), Some("Platform"));
        assert_eq!(to("GET", "/v1/healthz"), None);
        assert_eq!(
            to("GET", "/v1/me/special"),
            Some("Special"),
            "full match over greedy"
        );
        assert_eq!(to("GET", "/v1/me/sessions"), Some("Me"));
        assert_eq!(to("GET", "/v1/me"), None, "a greedy path needs a segment");
        assert_eq!(to("GET", "/v1/nowhere"), None);
        let with_default: Vec<Route> = routes
            .iter()
            .cloned()
            .chain([route("Fallback", "ANY", "$default")])
            .collect();
        let to = |method, path| select(&with_default, method, path).map(|r| r.function.as_str());
        assert_eq!(to("GET", "/v1/nowhere"), Some("Fallback"));
        assert_eq!(to("GET", "/"), Some("Fallback"));
        assert_eq!(
            to("GET", "/v1/orgs/acme"),
            Some("Orgs"),
            "any route over $default"
        );
    }

    #[test]
    fn an_operation_the_template_does_not_route_to_its_function_stops_the_gateway() {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
        use utoipa::openapi::{OpenApiBuilder, PathsBuilder};
        let doc = |path: &str| {
            OpenApiBuilder::new()
                .paths(PathsBuilder::new().path(
                    path,
                    PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
                ))
                .build()
        };
        let routes = [
            route("Orgs", "ANY", "/v1/orgs/{proxy+}"),
            route("Platform", "ANY", "$default"),
        ];
        assert_eq!(
            check(&routes, "Orgs", &doc("/v1/orgs/{slug}/exports")),
            Ok(())
        );
        let elsewhere = check(&routes, "Orgs", &doc("/v1/reports")).unwrap_err();
        assert!(elsewhere.contains("routes to Platform"), "{elsewhere}");
        let nowhere = check(&routes[..1], "Orgs", &doc("/v1/reports")).unwrap_err();
        assert!(nowhere.contains("no route"), "{nowhere}");
    }

    #[test]
    fn path_variables_match_one_segment() {
        let routes = [route("F", "GET", "/v1/orgs/{slug}")];
        assert!(select(&routes, "GET", "/v1/orgs/acme").is_some());
        assert!(select(&routes, "GET", "/v1/orgs/acme/mcps").is_none());
        assert!(select(&routes, "GET", "/v1/orgs/").is_none());
    }
}
