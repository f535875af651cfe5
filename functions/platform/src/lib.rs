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
#[utoipa::path(get, path = "/v1/health", tag = "platform",
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
#[utoipa::path(get, path = "/v1/openapi.json", tag = "platform",
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
    doc
}

pub fn api() -> OpenApiRouter<AppState> {
    own_api()
}

pub fn router(state: AppState) -> Router {
    let expose = state.config.expose_round_trips;
    shared::http::layers::finish(api().split_for_parts().0.with_state(state), expose)
}
