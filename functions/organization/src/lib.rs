//! Organization: general settings (name, immutable slug, description) and the team.

mod general;
mod team;

use axum::Router;
use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(general::create))
        .routes(routes!(general::get, general::update))
        .routes(routes!(team::list, team::add))
        .routes(routes!(team::change_role, team::remove))
}

pub fn router(state: AppState) -> Router {
    let expose = state.config.expose_round_trips;
    shared::http::layers::finish(api().split_for_parts().0.with_state(state), expose)
}
