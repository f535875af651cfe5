//! Identity: signup, login, logout, the profile (`/v1/me`) and session management
//! (Profile → Sessions).

mod audit_logs;
mod invitations;
mod login;
mod me;
mod sessions;
mod signup;
mod two_factor;

use axum::Router;
use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This function's routes with their OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup::signup))
        .routes(routes!(login::login))
        .routes(routes!(login::login_second_factor))
        .routes(routes!(login::logout))
        .routes(routes!(me::me))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(sessions::revoke_all))
        .routes(routes!(two_factor::setup))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::disable))
        .routes(routes!(two_factor::regenerate_backup_codes))
        .routes(routes!(invitations::list))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::decline))
        .routes(routes!(audit_logs::list))
}

pub fn router(state: AppState) -> Router {
    let expose = state.config.expose_round_trips;
    shared::http::layers::finish(api().split_for_parts().0.with_state(state), expose)
}
