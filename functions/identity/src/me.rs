use axum::extract::State;
use serde::Serialize;
use shared::account::caller_profile;
use shared::auth::Bearer;
use shared::domain::Role;
use shared::http::Problem;
use shared::ids::{OrgId, UserId};
use shared::store::keys::MEMBERSHIP_PREFIX;
use shared::store::members::Membership;
use shared::store::orgs::Org;
use shared::store::Key;
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct OrgMembershipView {
    id: OrgId,
    slug: String,
    name: String,
    role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    id: UserId,
    email: String,
    name: String,
    two_factor_enabled: bool,
    /// The address was proven by its verification link (needed to accept invitations).
    email_verified: bool,
    organizations: Vec<OrgMembershipView>,
}

/// The caller's profile and organizations.
///
/// Three round trips: session + profile, the caller's memberships, their orgs.
#[utoipa::path(get, path = "/v1/me", operation_id = "get_me", tag = "identity", security(("session" = [])),
    responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<axum::Json<MeView>, Error> {
    let (user, _) = caller_profile(&state, &bearer).await?;
    let memberships = state
        .table
        .query_all(&Key::user(&user.id).pk, MEMBERSHIP_PREFIX)
        .await?
        .iter()
        .map(Membership::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let org_keys: Vec<Key> = memberships.iter().map(|m| Key::org(&m.org_id)).collect();
    let orgs = state.table.get_many(&org_keys).await?;
    let mut organizations = Vec::with_capacity(memberships.len());
    for membership in memberships {
        // An org being deleted is gone for its members too.
        let Some(org) = orgs
            .get(&Key::org(&membership.org_id))
            .map(Org::from_item)
            .transpose()?
            .flatten()
        else {
            continue;
        };
        organizations.push(OrgMembershipView {
            id: org.id,
            slug: org.slug,
            name: org.name,
            role: membership.role,
        });
    }
    Ok(axum::Json(MeView {
        id: user.id,
        email: user.email,
        name: user.name,
        two_factor_enabled: user.two_factor_enabled,
        email_verified: user.email_verified,
        organizations,
    }))
}
