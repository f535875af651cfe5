//! Team → Invite: owners and admins invite an e-mail address with a role; the person
//! joins by accepting (`/v1/me/invitations`, in the identity function). The answer is the
//! same whether or not an account uses the address. One pending invitation per (org,
//! address): inviting again replaces it. A person's session is needed (no API keys).

use crate::team::guard_owners;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::{Email, Permission, Role};
use shared::error::Validator;
use shared::http::page::query_page;
use shared::http::{Created, Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::InvitationId;
use shared::mail::{Links, Mail};
use shared::mutation::CommitError;
use shared::store::invitations::{Invitation, INVITATION_GONE, INVITATION_LIFETIME};
use shared::store::keys::INVITATION_PREFIX;
use shared::store::users::user_id_of_pointer;
use shared::store::{check, delete, put, put_if, s, Cond, ItemExt, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    /// The address to invite; it need not belong to an account yet.
    #[schema(schema_with = shared::domain::schema::email)]
    email: String,
    #[schema(value_type = Role)]
    role: String,
}

/// An invitation as the org's admins see it.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    id: InvitationId,
    email: String,
    role: Role,
    #[schema(schema_with = shared::domain::schema::invitation_status)]
    status: &'static str,
    /// The user id of who invited.
    invited_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        InvitationView {
            status: i.status(Utc::now()),
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// The invited person became a member meanwhile.
const ALREADY_MEMBER: &str = "already_member";

/// Invite someone to the team (owners and admins; only owners invite owners). The same
/// answer whether or not an account uses the address; a current member → 409.
#[utoipa::path(post, path = "/v1/orgs/{slug}/members", operation_id = "invite_member", tag = "team", security(("session" = [])),
    params(("slug" = String, Path)), request_body = InviteMember,
    responses(
        (status = 201, body = InvitationView, headers(("Location" = String, description = "the new resource's path"))),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Already a member", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn invite(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<InviteMember>,
) -> Result<Created<InvitationView>, Error> {
    let mut v = Validator::default();
    let email = v.field("email", Email::parse(&body.email));
    let role = v.field("role", Role::parse(&body.role));
    let (Some(email), Some(role)) = (email, role) else {
        return Err(v.error());
    };
    let email_key = Key::email(email.as_str());
    // The inviter's profile: their name goes in the invitation mail.
    let inviter_key = match &credential {
        Credential::Session(bearer) => Some(Key::user(&bearer.0.user_id)),
        Credential::ApiKey(..) => None,
    };
    let first: Vec<Key> = std::iter::once(email_key.clone())
        .chain(inviter_key.clone())
        .collect();
    let access = OrgAccess::load_with(&state, &credential, &slug, &first, |m, items| {
        let mut keys = vec![Key::invitee(email.as_str(), &m.org_id)];
        if let Some(user) = items
            .get(&email_key)
            .and_then(|p| user_id_of_pointer(p).ok())
        {
            keys.push(Key::member(&m.org_id, &user));
        }
        keys
    })
    .await?;
    access.require(Permission::Administer)?;
    access.require_person()?;
    guard_owners(&access, Role::Member, Some(role))?;
    let org = &access.org;
    let account = access
        .items
        .get(&email_key)
        .map(user_id_of_pointer)
        .transpose()?;
    if let Some(user) = &account {
        if access.items.contains_key(&Key::member(&org.id, user)) {
            return Err(Error::conflict(
                "conflict",
                "this person is already a member",
            ));
        }
    }
    let replaced = access
        .items
        .get(&Key::invitee(email.as_str(), &org.id))
        .map(Invitation::from_item)
        .transpose()?;
    // Replacing an invitation takes it back: the same right as revoking it (an admin
    // cannot downgrade an owner's invitation by re-inviting). The replaced one is a
    // condition of the write below.
    if let Some(old) = &replaced {
        guard_owners(&access, old.role, None)?;
    }

    let now = Utc::now();
    let invitation = Invitation {
        id: InvitationId::generate(),
        org_id: org.id.clone(),
        org_slug: org.slug.clone(),
        org_name: org.name.clone(),
        email: email.as_str().to_owned(),
        role,
        invited_by: access.actor().id,
        created_at: now,
        expires_at: now + INVITATION_LIFETIME,
    };
    // The address's side is the one-per-(address, org) item: replace exactly what was
    // read, so two concurrent invitations cannot both land.
    let invitee_cond = match &replaced {
        Some(old) => Cond::new("invitation_id = :old").value(":old", s(old.id.as_str())),
        None => Cond::new("attribute_not_exists(pk)"),
    };
    let mut mutation = access
        .mutation(
            "team.invitation_created",
            Category::Team,
            Target::new("invitation", &invitation.id),
            &client,
        )
        .details(json!({
            "invitation_id": invitation.id,
            "email": invitation.email,
            "role": role,
            "replaces": replaced.as_ref().map(|old| &old.id),
        }))
        .write(put(
            &state.table,
            invitation.item(),
            "attribute_not_exists(pk)",
        )?)
        .write(put_if(
            &state.table,
            invitation.invitee_item(),
            &invitee_cond,
        )?)
        .write(put(
            &state.table,
            invitation.pointer_item(),
            "attribute_not_exists(pk)",
        )?);
    if let Some(user) = &account {
        // Not a member at commit time either (they may accept another invitation now).
        mutation = mutation.write_named(
            ALREADY_MEMBER,
            check(
                &state.table,
                &Key::member(&org.id, user),
                &Cond::new("attribute_not_exists(pk)"),
            )?,
        );
    }
    if let Some(old) = &replaced {
        mutation = mutation
            .write(delete(&state.table, &old.key(), None))
            .write(delete(&state.table, &old.pointer_key(), None));
    }
    let inviter = inviter_key
        .and_then(|key| access.items.get(&key))
        .and_then(|profile| profile.opt_str("name"))
        .unwrap_or("A member of the organization");
    let links = Links(&state.config.app_url);
    mutation = mutation.emit(Mail::invitation(&invitation, inviter, &links, now));
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Conflict(ALREADY_MEMBER) => {
            Error::conflict("conflict", "this person is already a member")
        }
        CommitError::Conflict(_) => Error::conflict(
            "conflict",
            "another invitation for this address was made at the same time; retry",
        ),
        CommitError::Owner => Error::NotFound,
        other => other.into(),
    })?;
    Ok(Created::at(
        access.org_path(&format!("/invitations/{}", invitation.id)),
        invitation.into(),
    ))
}

/// The org's invitations, pending and recently expired (owners and admins).
#[utoipa::path(get, path = "/v1/orgs/{slug}/invitations", operation_id = "list_invitations", tag = "team", security(("session" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<InvitationView>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<InvitationView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    access.require_person()?;
    let page = query_page(
        &state,
        &access.org_key().pk,
        INVITATION_PREFIX,
        &query,
        |i| Invitation::from_item(i).map(InvitationView::from),
    )
    .await?;
    Ok(axum::Json(page))
}

/// `/v1/orgs/{slug}/invitations/{invitation_id}`.
#[derive(Deserialize)]
pub struct InvitationPath {
    slug: String,
    invitation_id: PathId<InvitationId>,
}

/// Loads the caller's access and the invitation named in the path (404 if none).
async fn target(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    id: Option<&InvitationId>,
) -> Result<(OrgAccess, Invitation), Error> {
    let (access, item) = OrgAccess::load_target(state, credential, slug, |org| {
        id.map(|id| Key::invitation(org, id.as_str()))
    })
    .await?;
    access.require(Permission::Administer)?;
    access.require_person()?;
    let invitation = Invitation::from_item(&item.ok_or(Error::NotFound)?)?;
    Ok((access, invitation))
}

/// One invitation of the org (owners and admins).
#[utoipa::path(get, path = "/v1/orgs/{slug}/invitations/{invitation_id}", operation_id = "get_invitation", tag = "team", security(("session" = [])),
    params(("slug" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(InvitationPath {
        slug,
        invitation_id,
    }): Path<InvitationPath>,
) -> Result<axum::Json<InvitationView>, Error> {
    let (_, invitation) = target(&state, &credential, &slug, invitation_id.as_ref()).await?;
    Ok(axum::Json(invitation.into()))
}

/// Revoke an invitation (owners and admins): it can no longer be accepted.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/invitations/{invitation_id}", operation_id = "revoke_invitation", tag = "team", security(("session" = [])),
    params(("slug" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(InvitationPath {
        slug,
        invitation_id,
    }): Path<InvitationPath>,
) -> Result<StatusCode, Error> {
    let (access, invitation) = target(&state, &credential, &slug, invitation_id.as_ref()).await?;
    guard_owners(&access, invitation.role, None)?;
    let mutation = access.mutation(
        "team.invitation_revoked",
        Category::Team,
        Target::new("invitation", &invitation.id),
        &client,
    );
    mutation
        .details(invitation.details())
        .writes_named(invitation.withdrawal(&state.table)?)
        .commit(&state)
        .await
        .map_err(|e| match e {
            CommitError::Conflict(INVITATION_GONE) | CommitError::Owner => Error::NotFound,
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
