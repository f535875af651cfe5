//! Platform: the health check, the OpenAPI document of every HTTP function (generated
//! by `infra/openapi` from the handlers and committed, so it is served as it is), and
//! the answer to requests no route matches. (The settings pages are a function of
//! their own, `settings-pages`, which links no AWS SDK.)

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;
use serde::Serialize;
use shared::http::Problem;
use shared::store::Key;
use shared::{AppState, Error};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the table answers (otherwise the answer is a 500 problem).
    #[schema(schema_with = ok_schema)]
    status: &'static str,
}

fn ok_schema() -> utoipa::openapi::Object {
    shared::domain::schema::one_of("`ok` when the table answers.", &["ok"])
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

/// The document, generated from every HTTP function's handlers (`make openapi`).
const DOCUMENT: &str = include_str!("../openapi.json");

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "get_openapi", tag = "platform",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(openapi_json))
}

/// The API routes as this function serves them: without their OpenAPI description
/// (built by `api` for the document, not at every cold start).
pub fn routes() -> Router<AppState> {
    shared::served! { health; openapi_json }
}

pub fn router(state: AppState) -> Router {
    shared::http::layers::finish(routes().with_state(state.clone()), &state)
}
