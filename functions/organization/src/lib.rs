//! Organization: general settings (name, immutable slug, description) and the team.

mod api_keys;
mod audit_logs;
mod billing;
mod custom_domain;
mod deletion;
mod exports;
mod general;
mod invitations;
mod mcps;
mod security;
mod team;
mod usage;
mod webhook_deliveries;
mod webhooks;

use axum::Router;
use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(general::create))
        .routes(routes!(general::get, general::update))
        .routes(routes!(deletion::delete))
        .routes(routes!(team::list, invitations::invite))
        .routes(routes!(invitations::list))
        .routes(routes!(invitations::get, invitations::revoke))
        .routes(routes!(team::change_role, team::remove))
        .routes(routes!(security::get))
        .routes(routes!(security::set_pin, security::disable_pin))
        .routes(routes!(mcps::create, mcps::list))
        .routes(routes!(mcps::get, mcps::update, mcps::remove))
        .routes(routes!(mcps::report_health))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(billing::get, billing::change_plan))
        .routes(routes!(usage::record, usage::report))
        .routes(routes!(webhooks::event_types))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::remove))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhook_deliveries::test))
        .routes(routes!(webhook_deliveries::list))
        .routes(routes!(webhook_deliveries::redeliver))
        .routes(routes!(audit_logs::list))
        .routes(routes!(audit_logs::verify_chain))
        .routes(routes!(
            custom_domain::get,
            custom_domain::put,
            custom_domain::remove
        ))
        .routes(routes!(custom_domain::verify))
        .routes(routes!(exports::create, exports::list))
        .routes(routes!(exports::get))
        .routes(routes!(exports::create_audit))
}

pub fn router(state: AppState) -> Router {
    let expose = state.config.expose_round_trips;
    shared::http::layers::finish(api().split_for_parts().0.with_state(state), expose)
}
