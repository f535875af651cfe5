//! The OpenAPI 3.1 document of the whole API, generated from the handlers' annotations
//! of every HTTP function. It is committed as `functions/platform/openapi.json`, which the
//! platform function serves as it is: so the platform links neither identity's nor
//! organization's code, and builds no document, at its cold start or per request.
//! `make openapi` writes it; the test below fails while it is not what the code says.

use shared::http::Problem;
use utoipa::openapi::info::ContactBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi};

mod idempotency;
mod pages;
mod problems;
mod security;
mod webhooks;

/// Where the platform function reads the document from, relative to the workspace.
pub const COMMITTED: &str = "functions/platform/openapi.json";

/// The tags the handlers name, in the order of the settings page, with what each holds.
const TAGS: &[(&str, &str)] = &[
    ("platform", "Health and this document"),
    (
        "identity",
        "Sign-up, e-mail verification, sign-in and your account",
    ),
    (
        "two-factor",
        "Your authenticator app (TOTP) and backup codes",
    ),
    ("sessions", "Where you are signed in"),
    (
        "organizations",
        "Creating an organization and its general settings",
    ),
    ("team", "Members, roles and invitations"),
    ("security", "PIN protection of sensitive actions"),
    ("mcps", "The MCP servers the gateway fronts"),
    ("api-keys", "Organization API keys (`pmcp_…`)"),
    ("usage", "Metered calls and their totals"),
    ("billing", "The plan"),
    (
        "webhooks",
        "Endpoints, events, Send Test and delivery history",
    ),
    ("custom-domain", "Your own API domain, verified over DNS"),
    (
        "hostnames",
        "The gateway's lookup of the org a host name serves (IAM-signed calls only)",
    ),
    ("audit", "Audit logs, their chain check and export"),
    ("exports", "JSON and CSV exports of the organization's data"),
];

/// Every route of every HTTP function, with the security schemes and the error schema.
pub fn document() -> OpenApi {
    let mut doc = platform::api()
        .merge(identity::api())
        .merge(organization::api())
        .split_for_parts()
        .1;
    // Built whole: utoipa's default names utoipa's own author and licence.
    doc.info = InfoBuilder::new()
        .title("PlexMCP Settings API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Organization settings of the PlexMCP gateway. Errors are RFC 9457 problem \
             details (`application/problem+json`) with a stable `code` and the answer's \
             `X-Request-Id` as `request_id`. An authenticated POST sent with an \
             `Idempotency-Key` header (1-255 printable ASCII characters) acts once per \
             (credential, key) for 24 hours: a retry gets the first answer again with \
             `Idempotent-Replayed: true`, the key with another request 422 \
             `idempotency_key_reused`, a retry while the first runs 409 \
             `idempotency_key_in_use`.",
        ))
        .contact(Some(
            ContactBuilder::new()
                .name(Some("PlexMCP"))
                .url(Some("https://docs.plexmcp.com"))
                .build(),
        ))
        .build();
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("https://{host}")
            .description(Some(
                "A deployment: the stack's `ApiUrl` output, or the API domain in front of it",
            ))
            .parameter(
                "host",
                ServerVariableBuilder::new().default_value("api.plexmcp.com"),
            )
            .build(),
        ServerBuilder::new()
            .url("http://127.0.0.1:3000")
            .description(Some("The local stack (`make run`)"))
            .build(),
    ]);
    doc.tags = Some(
        TAGS.iter()
            .map(|(name, about)| {
                TagBuilder::new()
                    .name(*name)
                    .description(Some(*about))
                    .build()
            })
            .collect(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        "Problem".into(),
        <Problem as utoipa::PartialSchema>::schema(),
    );
    security::describe(&mut doc);
    problems::describe(&mut doc);
    idempotency::describe(&mut doc);
    pages::reference_items(&mut doc);
    webhooks::describe(&mut doc);
    doc
}

/// Every operation of the document, with its method.
fn operations_mut(doc: &mut OpenApi) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ]
        .into_iter()
        .filter_map(|(method, operation)| Some((method, operation.as_mut()?)))
    })
}

/// The document as committed: pretty JSON, ending with a newline.
pub fn json() -> String {
    let mut json = serde_json::to_string_pretty(&document()).expect("the document serializes");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_document_is_what_the_handlers_say() {
        let committed = include_str!("../../../functions/platform/openapi.json");
        let generated = json();
        if committed != generated {
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
            panic!(
                "{COMMITTED} is not what the handlers say (first difference at line {}): run `make openapi` and commit it",
                line + 1
            );
        }
    }

    #[test]
    fn problems_are_problem_json_and_every_operation_has_a_default() {
        let doc = serde_json::to_value(document()).unwrap();
        let signup = &doc["paths"]["/v1/auth/signup"]["post"]["responses"];
        assert!(
            signup["422"]["content"]["application/problem+json"].is_object(),
            "{signup}"
        );
        assert!(signup["422"]["content"].get("application/json").is_none());
        assert!(signup["202"]["content"]["application/json"].is_object());
        assert!(signup["default"]["content"]["application/problem+json"].is_object());
        assert!(doc["paths"]["/v1/openapi.json"]["get"].is_object());
        assert_eq!(doc["info"]["contact"]["name"], "PlexMCP");
        assert!(doc["info"].get("license").is_none());
        let login = &doc["paths"]["/v1/auth/login"]["post"]["responses"];
        assert_eq!(
            login["429"]["headers"]["Retry-After"]["schema"]["type"],
            "integer"
        );
    }

    #[test]
    fn public_routes_say_so_and_a_session_may_come_as_the_cookie_with_the_csrf_header() {
        let doc = serde_json::to_value(document()).unwrap();
        let security = |path: &str, method: &str| doc["paths"][path][method]["security"].clone();
        assert_eq!(security("/v1/auth/signup", "post"), serde_json::json!([]));
        assert_eq!(
            security("/v1/orgs/{slug}/mcps", "get"),
            serde_json::json!([{"session": []}, {"api_key": []}, {"session_cookie": []}])
        );
        assert_eq!(
            security("/v1/orgs/{slug}/delete", "post"),
            serde_json::json!([{"session": []}, {"csrf": [], "session_cookie": []}])
        );
        for scheme in ["session", "api_key", "session_cookie", "csrf"] {
            assert!(
                doc["components"]["securitySchemes"][scheme].is_object(),
                "{scheme}"
            );
        }
    }

    #[test]
    fn a_list_item_is_its_own_schema_not_a_copy() {
        let doc = serde_json::to_value(document()).unwrap();
        let page = &doc["components"]["schemas"]["Page_McpView"]["properties"]["items"];
        assert_eq!(page["items"]["$ref"], "#/components/schemas/McpView");
    }
}
