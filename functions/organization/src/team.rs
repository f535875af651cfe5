//! The team: list members, add an existing user, change a role, remove a member.
//! Admins cannot touch owners (nor make anyone an owner); the last owner can neither be
//! removed nor demoted — `owner_count` on the org item is changed in the same
//! transaction under the condition `owner_count > 1`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::domain::{Email, Permission, Role};
use shared::error::Validator;
use shared::events::{Event, EventType};
use shared::http::page::query_page;
use shared::http::{ClientInfo, Json, Page, PageQuery, Problem, Query};
use shared::ids::UserId;
use shared::pin_gate::{self, PinHeader};
use shared::store::keys::MEMBER_PREFIX;
use shared::store::members::{set_role, Member, Membership};
use shared::store::users::{user_id_of_pointer, User};
use shared::store::{delete, n, put, CommitError, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    user_id: UserId,
    email: String,
    name: String,
    role: Role,
    joined_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// E-mail address of an existing account.
    email: String,
    #[schema(value_type = Role)]
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    #[schema(value_type = Role)]
    role: String,
}

fn last_owner() -> Error {
    Error::conflict(
        "last_owner",
        "the last owner cannot be removed or demoted; make another member an owner first",
    )
}

fn guard_owners(access: &OrgAccess, target: Role, new: Option<Role>) -> Result<(), Error> {
    if access.role != Role::Owner && (target == Role::Owner || new == Some(Role::Owner)) {
        return Err(Error::Forbidden(
            "only owners can change owners or grant the owner role",
        ));
    }
    Ok(())
}

/// List the team (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/members", operation_id = "list_members", tag = "team", security(("bearer" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<MemberView>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<MemberView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    let page = query_page(
        &state.table,
        &access.org_key().pk,
        MEMBER_PREFIX,
        &query,
        |i| Member::from_item(i).map(MemberView::from),
    )
    .await?;
    Ok(axum::Json(page))
}

/// Add an existing user to the team (owners and admins). Emits `team.member_added`.
#[utoipa::path(post, path = "/v1/orgs/{slug}/members", operation_id = "add_member", tag = "team", security(("bearer" = [])),
    params(("slug" = String, Path)), request_body = AddMember,
    responses(
        (status = 201, body = MemberView),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Already a member", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn add(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<AddMember>,
) -> Result<(StatusCode, axum::Json<MemberView>), Error> {
    let mut v = Validator::default();
    let email = v.field("email", Email::parse(&body.email));
    let role = v.field("role", Role::parse(&body.role));
    let (Some(email), Some(role)) = (email, role) else {
        return Err(v.error());
    };
    let email_key = Key::email(email.as_str());
    let access = OrgAccess::load_with(
        &state,
        &credential,
        &slug,
        std::slice::from_ref(&email_key),
        |_, items| {
            items
                .get(&email_key)
                .and_then(|p| user_id_of_pointer(p).ok())
                .map(|id| Key::user(&id))
                .into_iter()
                .collect()
        },
    )
    .await?;
    access.require(Permission::Administer)?;
    guard_owners(&access, Role::Member, Some(role))?;
    let profile = access
        .items
        .get(&email_key)
        .map(user_id_of_pointer)
        .transpose()?
        .and_then(|id| access.items.get(&Key::user(&id)))
        .ok_or_else(|| Error::invalid("email", "no account uses this e-mail address"))?;
    let user = User::from_item(profile)?;

    let org = &access.org;
    let member = Member {
        user_id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        role,
        joined_at: Utc::now(),
    };
    let membership = Membership {
        org_id: org.id.clone(),
        slug: org.slug.clone(),
        role,
    };
    let data = json!({ "user_id": user.id, "email": user.email, "name": user.name, "role": role });
    let mut mutation = access
        .mutation(
            "team.member_added",
            Category::Team,
            Target::new("user", &user.id),
            &client,
        )
        .details(data.clone())
        .write(put(
            &state.table,
            member.item(&org.id),
            "attribute_not_exists(pk)",
        )?)
        .write(put(
            &state.table,
            membership.item(&user.id),
            "attribute_not_exists(pk)",
        )?)
        .emit(Event::new(
            EventType::TeamMemberAdded,
            &org.id,
            data,
            Utc::now(),
        ));
    if role == Role::Owner {
        mutation = mutation.add("owner_count", 1);
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Write(_) => Error::conflict("conflict", "this user is already a member"),
        CommitError::Owner => Error::NotFound,
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, axum::Json(member.into())))
}

/// Loads the caller's access and the target member (404 if not a member).
async fn target(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    user_id: &str,
) -> Result<(OrgAccess, Member), Error> {
    let user_id = UserId::parse(user_id);
    let target_id = user_id.clone();
    let access = OrgAccess::load_with(state, credential, slug, &[], |m, _| {
        target_id
            .map(|id| Key::member(&m.org_id, &id))
            .into_iter()
            .collect()
    })
    .await?;
    let member = user_id
        .and_then(|id| access.items.get(&Key::member(&access.org.id, &id)))
        .map(Member::from_item)
        .transpose()?
        .ok_or(Error::NotFound)?;
    Ok((access, member))
}

/// Change a member's role (owners and admins; only owners grant or take `owner`).
#[utoipa::path(patch, path = "/v1/orgs/{slug}/members/{user_id}", operation_id = "change_member_role", tag = "team", security(("bearer" = [])),
    params(("slug" = String, Path), ("user_id" = String, Path)), request_body = ChangeRole,
    responses(
        (status = 200, body = MemberView),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn change_role(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path((slug, user_id)): Path<(String, String)>,
    Json(body): Json<ChangeRole>,
) -> Result<axum::Json<MemberView>, Error> {
    let new = Role::parse(&body.role).map_err(|m| Error::invalid("role", m))?;
    let (access, mut member) = target(&state, &credential, &slug, &user_id).await?;
    access.require(Permission::Administer)?;
    guard_owners(&access, member.role, Some(new))?;
    if member.role == new {
        return Ok(axum::Json(member.into()));
    }
    let old = member.role;
    let mut mutation = access
        .mutation(
            "team.role_changed",
            Category::Team,
            Target::new("user", &member.user_id),
            &client,
        )
        .details(json!({ "from": old, "to": new }))
        .write(set_role(
            &state.table,
            &Key::member(&access.org.id, &member.user_id),
            new,
            old,
        )?)
        .write(set_role(
            &state.table,
            &Key::membership(&member.user_id, &access.org.slug),
            new,
            old,
        )?);
    if old == Role::Owner {
        mutation = mutation
            .add("owner_count", -1)
            .require("owner_count", ">", n(1));
    } else if new == Role::Owner {
        mutation = mutation.add("owner_count", 1);
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Owner if old == Role::Owner => last_owner(),
        CommitError::Owner => Error::NotFound,
        other => other.into(),
    })?;
    member.role = new;
    Ok(axum::Json(member.into()))
}

/// Remove a member (owners and admins; **PIN-gated**), or leave (any member removing
/// themselves, no PIN). Emits `team.member_removed`.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/members/{user_id}", operation_id = "remove_member", tag = "team", security(("bearer" = [])),
    params(("slug" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 204),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`last_owner`", body = Problem),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let (access, member) = target(&state, &credential, &slug, &user_id).await?;
    let leaving = access.user_id() == Some(&member.user_id);
    // Leaving needs no PIN: members need not know it.
    let gate = if leaving {
        None
    } else {
        access.require(Permission::Administer)?;
        guard_owners(&access, member.role, None)?;
        Some(pin_gate::check(&state, &access, &pin, &client).await?)
    };
    let org = &access.org;
    let data = json!({ "user_id": member.user_id, "email": member.email, "name": member.name, "role": member.role });
    let action = if leaving {
        "team.member_left"
    } else {
        "team.member_removed"
    };
    let mut mutation = access
        .mutation(
            action,
            Category::Team,
            Target::new("user", &member.user_id),
            &client,
        )
        .details(data.clone())
        .write(delete(
            &state.table,
            &Key::member(&org.id, &member.user_id),
            Some("attribute_exists(pk)"),
        ))
        .write(delete(
            &state.table,
            &Key::membership(&member.user_id, &org.slug),
            None,
        ))
        .emit(Event::new(
            EventType::TeamMemberRemoved,
            &org.id,
            data,
            Utc::now(),
        ));
    if member.role == Role::Owner {
        mutation = mutation
            .add("owner_count", -1)
            .require("owner_count", ">", n(1));
    }
    if let Some(gate) = gate {
        mutation = gate.apply(mutation);
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Owner if member.role == Role::Owner => last_owner(),
        CommitError::Owner | CommitError::Write(_) => Error::NotFound,
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
