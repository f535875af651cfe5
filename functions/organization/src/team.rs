//! The team: list members, change a role, remove a member (people join by invitation,
//! `invitations.rs`). Admins cannot touch owners (nor make anyone an owner); the last
//! owner can neither be removed nor demoted — `owner_count` on the org item is changed in
//! the same transaction under the condition `owner_count > 1`. Every write is conditioned
//! on the target's role as read, so a concurrent promotion cannot slip in between.
//! Managing the team needs a person's session: API keys get 403.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::{Permission, Role};
use shared::event_data::{self, EventData};
use shared::events::Event;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::page::query_page;
use shared::http::{Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::UserId;
use shared::mutation::CommitError;
use shared::pin_gate::{self, PinHeader};
use shared::store::keys::MEMBER_PREFIX;
use shared::store::members::{self, set_role, set_role_of_member, Member};
use shared::store::{delete, delete_if, n, s, Cond, Item, Key};
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

pub(crate) fn guard_owners(
    access: &OrgAccess,
    target: Role,
    new: Option<Role>,
) -> Result<(), Error> {
    if access.role != Role::Owner && (target == Role::Owner || new == Some(Role::Owner)) {
        return Err(Error::Forbidden(
            "only owners can change owners or grant the owner role",
        ));
    }
    Ok(())
}

/// The member is not as read any more (role, API keys), or is gone.
const MEMBER_CHANGED: &str = "member_changed";

fn member_changed() -> Error {
    Error::conflict(
        "conflict",
        "the member changed while this request ran (role, membership or API keys); nothing was changed — retry",
    )
}

/// List the team (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/members", operation_id = "list_members", tag = "team", security(("session" = []), ("api_key" = [])),
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
    let page = query_page(&state, &access.org_key().pk, MEMBER_PREFIX, &query, |i| {
        Member::from_item(i).map(MemberView::from)
    })
    .await?;
    Ok(axum::Json(page))
}

/// `/v1/orgs/{slug}/members/{user_id}`.
#[derive(Deserialize)]
pub struct MemberPath {
    slug: String,
    user_id: PathId<UserId>,
}

/// Loads the caller's access and the target member (404 if not a member), with the
/// member's item as read.
async fn target(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    user_id: Option<&UserId>,
) -> Result<(OrgAccess, Member, Item), Error> {
    let (access, item) = OrgAccess::load_target(state, credential, slug, |org| {
        user_id.map(|id| Key::member(org, id))
    })
    .await?;
    let item = item.ok_or(Error::NotFound)?;
    Ok((access, Member::from_item(&item)?, item))
}

/// One member (any member), with the `ETag` a role change may name in `If-Match`.
#[utoipa::path(get, path = "/v1/orgs/{slug}/members/{user_id}", operation_id = "get_member", tag = "team", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 200, body = MemberView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(MemberPath { slug, user_id }): Path<MemberPath>,
) -> Result<Tagged<MemberView>, Error> {
    let (access, member, _) = target(&state, &credential, &slug, user_id.as_ref()).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(member.into()))
}

/// Change a member's role (owners and admins; only owners grant or take `owner`).
#[utoipa::path(patch, path = "/v1/orgs/{slug}/members/{user_id}", operation_id = "change_member_role", tag = "team", security(("session" = [])),
    params(("slug" = String, Path), ("user_id" = String, Path), ("If-Match" = Option<String>, Header, description = "The member's `ETag` as read: the role changes only if the member is still that version")),
    request_body = ChangeRole,
    responses(
        (status = 200, body = MemberView, headers(("ETag" = String, description = "the member's version after the change"))),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`last_owner`, or `conflict` when the member changed meanwhile", body = Problem),
        (status = 412, description = "`precondition_failed`: the member is not (or no longer) the version If-Match names", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn change_role(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(MemberPath { slug, user_id }): Path<MemberPath>,
    if_match: IfMatch,
    Json(body): Json<ChangeRole>,
) -> Result<Tagged<MemberView>, Error> {
    let new = Role::parse(&body.role).map_err(|m| Error::invalid("role", m))?;
    let (access, mut member, item) = target(&state, &credential, &slug, user_id.as_ref()).await?;
    access.require(Permission::Administer)?;
    access.require_person()?;
    guard_owners(&access, member.role, Some(new))?;
    let viewed = MemberView::from(member.clone());
    if_match.check(&etag::of(&viewed))?;
    if member.role == new {
        return Ok(Tagged(viewed));
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
        // The role as read, of the membership as read (a member who left and came back
        // meanwhile is another version): what the view shows is what is changed.
        .write_named(
            MEMBER_CHANGED,
            set_role_of_member(&state.table, &item, new, old)?,
        )
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
        CommitError::Conflict(MEMBER_CHANGED) => if_match.changed(member_changed()),
        other => other.into(),
    })?;
    member.role = new;
    Ok(Tagged(member.into()))
}

#[derive(Serialize, ToSchema)]
pub struct MemberRemoved {
    user_id: UserId,
    /// The API keys the member had created, revoked in the same transaction.
    revoked_api_keys: usize,
}

/// Remove a member (owners and admins; **PIN-gated**), or leave (any member removing
/// themselves, no PIN). The API keys the member created are revoked with the membership.
/// Emits `team.member_removed`.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/members/{user_id}", operation_id = "remove_member", tag = "team", security(("session" = [])),
    params(("slug" = String, Path), ("user_id" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on (not needed to leave)")),
    responses(
        (status = 200, body = MemberRemoved),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`last_owner`, or `conflict` when the member changed meanwhile", body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(MemberPath { slug, user_id }): Path<MemberPath>,
) -> Result<axum::Json<MemberRemoved>, Error> {
    // Leaving needs no PIN: members need not know it.
    let leaving = match &credential {
        Credential::Session(bearer) => user_id.as_ref() == Some(&bearer.0.user_id),
        Credential::ApiKey(..) => false,
    };
    let (access, member, gate) = if leaving {
        let (access, member, _) = target(&state, &credential, &slug, user_id.as_ref()).await?;
        (access, member, None)
    } else {
        let (access, item, gate) = pin_gate::load(
            &state,
            &credential,
            &slug,
            Permission::Administer,
            &pin,
            &client,
            |org| user_id.as_ref().map(|id| Key::member(org, id)),
        )
        .await?;
        let member = match item.map(|item| Member::from_item(&item)) {
            Some(Ok(member)) => member,
            Some(Err(corrupt)) => return Err(gate.refuse(&state, corrupt.into()).await),
            None => return Err(gate.refuse(&state, Error::NotFound).await),
        };
        if let Err(error) = guard_owners(&access, member.role, None) {
            return Err(gate.refuse(&state, error).await);
        }
        (access, member, Some(gate))
    };
    access.require_person()?;
    let org = &access.org;
    let revoked = member.api_keys.len();
    let data = event_data::TeamMemberRemoved {
        user_id: member.user_id.clone(),
        email: member.email.clone(),
        name: member.name.clone(),
        role: member.role,
        revoked_api_keys: revoked,
    };
    let action = if leaving {
        "team.member_left"
    } else {
        "team.member_removed"
    };
    // The member as read: same role, same API keys (a key created meanwhile bumps the
    // version, so it cannot outlive the membership).
    let as_read = member.as_read();
    let mut mutation = access
        .mutation(
            action,
            Category::Team,
            Target::new("user", &member.user_id),
            &client,
        )
        .details(data.json())
        .write_named(
            MEMBER_CHANGED,
            delete_if(
                &state.table,
                &Key::member(&org.id, &member.user_id),
                &as_read,
            )?,
        )
        .write_named(
            MEMBER_CHANGED,
            delete_if(
                &state.table,
                &Key::membership(&member.user_id, &org.slug),
                &Cond::new("#role = :role")
                    .name("#role", "role")
                    .value(":role", s(member.role.as_str())),
            )?,
        )
        .write_named(
            MEMBER_CHANGED,
            members::left(&state.table, &member.user_id)?,
        )
        .emit(Event::of(&org.id, &data, Utc::now()));
    for (key_id, hash) in &member.api_keys {
        mutation = mutation
            .write_named(
                MEMBER_CHANGED,
                delete(&state.table, &Key::api_key(&org.id, key_id), None),
            )
            .write_named(
                MEMBER_CHANGED,
                delete(&state.table, &Key::api_key_pointer(hash), None),
            );
    }
    if member.role == Role::Owner {
        mutation = mutation
            .add("owner_count", -1)
            .require("owner_count", ">", n(1));
    }
    let committed = match gate {
        Some(gate) => gate.commit(&state, mutation).await,
        None => mutation.commit(&state).await,
    };
    committed.map_err(|e| match e {
        CommitError::Owner if member.role == Role::Owner => last_owner(),
        CommitError::Owner => Error::NotFound,
        CommitError::Conflict(MEMBER_CHANGED) => member_changed(),
        other => other.into(),
    })?;
    Ok(axum::Json(MemberRemoved {
        user_id: member.user_id,
        revoked_api_keys: revoked,
    }))
}
