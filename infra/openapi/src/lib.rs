//! The OpenAPI 3.1 document of the whole API, generated from the handlers' annotations
//! of every HTTP function. It is committed as `functions/platform/openapi.json`, which the
//! platform function serves as it is: so the platform links neither identity's nor
//! organization's code, and builds no document, at its cold start or per request.
//! `make openapi` writes it; the test below fails while it is not what the code says.

use shared::http::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};

/// Where the platform function reads the document from, relative to the workspace.
pub const COMMITTED: &str = "functions/platform/openapi.json";

/// Every route of every HTTP function, with the shared security scheme and error schema.
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
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.schemas.insert(
        "Problem".into(),
        <Problem as utoipa::PartialSchema>::schema(),
    );
    describe_problems(&mut doc);
    doc
}

/// Error responses are `application/problem+json`, and any operation may also answer
/// with a problem not listed for it (400 malformed body, 413, 415, 429, 500): the
/// document says so once here instead of on every route.
fn describe_problems(doc: &mut OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    if let Some(content) = response.content.shift_remove("application/json") {
                        response
                            .content
                            .insert("application/problem+json".into(), content);
                    }
                }
            }
            // Header values are strings, never JSON null (an absent header is `required: false`).
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == utoipa::openapi::path::ParameterIn::Header {
                    parameter.schema = Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::Type::String)
                            .into(),
                    );
                }
            }
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let default = ResponseBuilder::new()
                .description("A problem (RFC 9457) with a stable `code`")
                .content("application/problem+json", problem)
                .build();
            operation
                .responses
                .responses
                .entry("default".into())
                .or_insert(default.into());
        }
    }
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
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert!(doc["paths"]["/v1/openapi.json"]["get"].is_object());
        assert!(doc["info"].get("contact").is_none() && doc["info"].get("license").is_none());
    }
}
