//! Platform: the health check and the OpenAPI document of every HTTP function.

use axum::extract::State;
use axum::Router;
use serde::Serialize;
use shared::http::Problem;
use shared::store::Key;
use shared::{AppState, Error};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the table answers.
    status: &'static str,
}

/// Liveness and storage reachability.
#[utoipa::path(get, path = "/v1/health", operation_id = "get_health", tag = "platform",
    responses((status = 200, body = Health), (status = 500, body = Problem)))]
async fn health(State(state): State<AppState>) -> Result<axum::Json<Health>, Error> {
    state
        .table
        .get(&Key {
            pk: "HEALTH".into(),
            sk: "HEALTH".into(),
        })
        .await?;
    Ok(axum::Json(Health { status: "ok" }))
}

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "get_openapi", tag = "platform",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> axum::Json<OpenApi> {
    axum::Json(document())
}

fn own_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(openapi_json))
}

/// Every route of every HTTP function, with the shared security scheme and error schema.
pub fn document() -> OpenApi {
    let mut doc = own_api()
        .merge(identity::api())
        .merge(organization::api())
        .split_for_parts()
        .1;
    doc.info.title = "PlexMCP Settings API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Organization settings of the PlexMCP gateway. Errors are RFC 9457 problem details \
         (`application/problem+json`) with a stable `code`."
            .into(),
    );
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

pub fn api() -> OpenApiRouter<AppState> {
    own_api()
}

pub fn router(state: AppState) -> Router {
    let expose = state.config.expose_round_trips;
    shared::http::layers::finish(api().split_for_parts().0.with_state(state), expose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_problem_json_and_every_operation_has_a_default() {
        let doc = serde_json::to_value(document()).unwrap();
        let signup = &doc["paths"]["/v1/auth/signup"]["post"]["responses"];
        assert!(
            signup["409"]["content"]["application/problem+json"].is_object(),
            "{signup}"
        );
        assert!(signup["409"]["content"].get("application/json").is_none());
        assert!(signup["201"]["content"]["application/json"].is_object());
        assert!(signup["default"]["content"]["application/problem+json"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
