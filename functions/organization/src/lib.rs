//! Organization: every route under `/v1/orgs/{slug}` — general settings, security and the
//! PIN, the team and invitations, MCP servers, API keys, usage, billing, webhooks, the
//! custom domain, audit logs, exports and deletion — creating an org, and the gateway's
//! lookup of a host name.

mod api_keys;
mod audit_logs;
mod billing;
mod custom_domain;
mod deletion;
mod exports;
mod general;
mod hostnames;
mod invitations;
mod mcps;
mod security;
mod team;
mod usage;
mod webhook_deliveries;
mod webhooks;

use axum::Router;
use shared::{documented, served, AppState};
use utoipa_axum::router::OpenApiRouter;

/// Every route of this function, listed once: `router` serves them and `api` describes
/// them for the platform's OpenAPI document (`shared::http::routes`).
macro_rules! each_route {
    ($with:ident) => {
        $with! {
            general::create;
            general::get, general::update;
            deletion::delete;
            team::list, invitations::invite;
            invitations::list;
            invitations::get, invitations::revoke;
            team::get, team::change_role, team::remove;
            security::get;
            security::set_pin, security::disable_pin;
            mcps::create, mcps::list;
            mcps::get, mcps::update, mcps::remove;
            mcps::report_health;
            api_keys::create, api_keys::list;
            api_keys::revoke;
            billing::get, billing::change_plan;
            usage::record, usage::report;
            usage::record_batch;
            webhooks::event_types;
            webhooks::create, webhooks::list;
            webhooks::get, webhooks::update, webhooks::remove;
            webhooks::rotate_secret;
            webhook_deliveries::test;
            webhook_deliveries::list;
            webhook_deliveries::redeliver;
            audit_logs::list;
            audit_logs::verify_chain;
            custom_domain::get, custom_domain::put, custom_domain::remove;
            custom_domain::verify;
            exports::create, exports::list;
            exports::get;
            exports::create_audit;
            hostnames::get;
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
