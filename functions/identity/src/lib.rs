//! Identity: signup, login, logout, the profile (`/v1/me`) and session management
//! (Profile → Sessions).

mod audit_logs;
mod invitations;
mod login;
mod me;
mod sessions;
mod signup;
mod two_factor;
mod verify_email;

use axum::Router;
use shared::{documented, served, AppState};
use utoipa_axum::router::OpenApiRouter;

/// Every route of this function, listed once: `router` serves them and `api` describes
/// them for the platform's OpenAPI document (`shared::http::routes`).
macro_rules! each_route {
    ($with:ident) => {
        $with! {
            signup::signup;
            verify_email::verify;
            verify_email::resend;
            login::login;
            login::login_second_factor;
            login::logout;
            me::me;
            sessions::list;
            sessions::revoke;
            sessions::revoke_all;
            two_factor::setup;
            two_factor::enable;
            two_factor::disable;
            two_factor::regenerate_backup_codes;
            invitations::list;
            invitations::accept;
            invitations::decline;
            audit_logs::list;
        }
    };
}

/// This function's routes with their OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    each_route!(documented)
}

/// The routes as this function serves them: without their OpenAPI description, which
/// only the platform function builds.
pub fn router(state: AppState) -> Router {
    shared::http::layers::finish(each_route!(served).with_state(state.clone()), &state)
}
