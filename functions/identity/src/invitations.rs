//! Profile → Invitations: the invitations addressed to the caller's login e-mail
//! (including ones made before the account existed), and accepting or declining them.
//!
//! Accepting adds the membership (both sides), removes the invitation, counts the
//! membership against the caller's cap, emits `team.member_added` and appends the org's
//! audit entry — one transaction. An invitation that expired, was revoked or replaced is
//! a 404. Three round trips: session + profile + the invitation's pointer; the org, the
//! address's invitation and the caller's member item; the transaction.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::auth::{authenticate, Bearer};
use shared::client_info::ClientInfo;
use shared::domain::Role;
use shared::event_data::{self, EventData};
use shared::events::Event;
use shared::http::page::query_page;
use shared::http::{Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::{InvitationId, OrgId};
use shared::mutation::{ChainOwner, CommitError, Mutation};
use shared::store::invitations::{inviter_of_pointer, pointer_target, Invitation, INVITATION_GONE};
use shared::store::keys::invitee_partition;
use shared::store::members::{self, Member, Membership};
use shared::store::orgs::{Org, ACTIVE};
use shared::store::users::User;
use shared::store::{put, s, Cond, Item, Key};
use shared::{AppState, Error};
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct InvitingOrg {
    id: OrgId,
    slug: String,
    name: String,
}

/// An invitation as the invited person sees it.
#[derive(Serialize, ToSchema)]
pub struct MyInvitation {
    id: InvitationId,
    organization: InvitingOrg,
    role: Role,
    #[schema(schema_with = shared::domain::schema::invitation_status)]
    status: &'static str,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<Invitation> for MyInvitation {
    fn from(i: Invitation) -> Self {
        MyInvitation {
            status: i.status(Utc::now()),
            id: i.id,
            organization: InvitingOrg {
                id: i.org_id,
                slug: i.org_slug,
                name: i.org_name,
            },
            role: i.role,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// The caller's invitations (matched on the login e-mail).
#[utoipa::path(get, path = "/v1/me/invitations", operation_id = "list_my_invitations", tag = "team", security(("session" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<MyInvitation>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    bearer: Bearer,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<MyInvitation>>, Error> {
    let (user, _) = shared::account::caller_profile(&state, &bearer).await?;
    let page = query_page(
        &state,
        &invitee_partition(&user.email),
        "ORG#",
        &query,
        |i| Invitation::from_item(i).map(MyInvitation::from),
    )
    .await?;
    Ok(axum::Json(page))
}

/// What accept and decline start from: the caller, their pending invitation `id`, and
/// the org item as read (the head of its audit chain).
struct Answering {
    user: User,
    invitation: Invitation,
    org: Org,
    org_item: Item,
    /// The inviter's membership item's key (invitations made before it was recorded: none).
    inviter: Option<Key>,
    items: HashMap<Key, Item>,
}

async fn answering(
    state: &AppState,
    bearer: &Bearer,
    id: Option<&InvitationId>,
) -> Result<Answering, Error> {
    let user_key = Key::user(&bearer.0.user_id);
    let mut first = vec![user_key.clone()];
    first.extend(id.as_ref().map(|id| Key::invitation_pointer(id.as_str())));
    let (_, mut items) = authenticate(state, bearer, &first).await?;
    let user = User::from_item(&items.remove(&user_key).ok_or(Error::Unauthorized)?)?;
    let (id, pointer) = id
        .and_then(|id| Some((items.remove(&Key::invitation_pointer(id.as_str()))?, id)))
        .map(|(pointer, id)| (id, pointer))
        .ok_or(Error::NotFound)?;
    let (org_id, email) = pointer_target(&pointer)?;
    // Someone else's invitation is as good as none.
    if email != user.email {
        return Err(Error::NotFound);
    }
    let (org_key, invitee_key) = (Key::org(&org_id), Key::invitee(&email, &org_id));
    let member_key = Key::member(&org_id, &user.id);
    let inviter = inviter_of_pointer(&pointer).map(|id| Key::member(&org_id, &id));
    let mut keys = vec![org_key.clone(), invitee_key.clone(), member_key.clone()];
    keys.extend(inviter.clone());
    let mut items = state.table.get_many(&keys).await?;
    let org_item = items.remove(&org_key).ok_or(Error::NotFound)?;
    let org = Org::from_item(&org_item)?.ok_or(Error::NotFound)?;
    let invitation = items
        .remove(&invitee_key)
        .map(|i| Invitation::from_item(&i))
        .transpose()?
        .filter(|i| &i.id == id && i.is_pending(Utc::now()))
        .ok_or(Error::NotFound)?;
    Ok(Answering {
        user,
        invitation,
        org,
        org_item,
        inviter,
        items,
    })
}

impl Answering {
    /// A change to the org by the invited person, in the org's audit chain, committed
    /// only while the org is active.
    fn mutation(&self, action: &'static str, target: Target, client: &ClientInfo) -> Mutation {
        let audit = AuditDraft::new(
            Actor::user(&self.user.id, Some(&self.user.email)),
            action,
            Category::Team,
            target,
            client,
        );
        Mutation::new(
            ChainOwner::existing(Key::org(&self.org.id), &self.org_item),
            audit,
        )
        .require("status", "=", s(ACTIVE))
    }
}

#[derive(Serialize, ToSchema)]
pub struct InvitationAccepted {
    organization: InvitingOrg,
    role: Role,
}

/// Accept an invitation: join the organization with the invited role.
#[utoipa::path(post, path = "/v1/me/invitations/{invitation_id}/accept", operation_id = "accept_invitation", tag = "team", security(("session" = [])),
    params(("invitation_id" = String, Path)),
    responses(
        (status = 200, body = InvitationAccepted),
        (status = 401, body = Problem),
        (status = 403, description = "`email_unverified`: the caller's address is not verified yet", body = Problem),
        (status = 404, description = "No such pending invitation for the caller (expired, revoked, replaced)", body = Problem),
        (status = 409, description = "`conflict` (already a member) or `membership_limit`", body = Problem),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Path(id): Path<PathId<InvitationId>>,
) -> Result<axum::Json<InvitationAccepted>, Error> {
    let answering = answering(&state, &bearer, id.as_ref()).await?;
    let (user, invitation, org) = (&answering.user, &answering.invitation, &answering.org);
    // Whoever signs up with an address first must not take its invitations: only an
    // account that proved it receives the address's mail joins.
    if !user.email_verified {
        return Err(Error::EmailUnverified);
    }
    // An invitation lapses with its maker's right to grant the role (removed, demoted):
    // checked on what was read, and held as a condition of the commit.
    let grantors: &[Role] = match invitation.role {
        Role::Owner => &[Role::Owner],
        _ => &[Role::Owner, Role::Admin],
    };
    let inviter_guard = match &answering.inviter {
        None => None,
        Some(key) => {
            let role = answering.items.get(key).map(members::role_of).transpose()?;
            if !role.is_some_and(|r| grantors.contains(&r)) {
                return Err(Error::NotFound);
            }
            let mut cond = Cond::new(
                (0..grantors.len())
                    .map(|i| format!("#role = :g{i}"))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            )
            .name("#role", "role");
            for (i, grantor) in grantors.iter().enumerate() {
                cond = cond.value(&format!(":g{i}"), s(grantor.as_str()));
            }
            Some((key.clone(), cond))
        }
    };
    if answering
        .items
        .contains_key(&Key::member(&org.id, &user.id))
    {
        return Err(Error::conflict(
            "conflict",
            "you are already a member of this organization",
        ));
    }
    let now = Utc::now();
    let member = Member::joining(user, invitation.role, now);
    let membership = Membership {
        org_id: org.id.clone(),
        slug: org.slug.clone(),
        role: invitation.role,
    };
    let data = event_data::TeamMemberAdded {
        user_id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: invitation.role,
        invitation_id: invitation.id.clone(),
    };
    let mutation = answering.mutation("team.member_added", Target::new("user", &user.id), &client);
    let mut mutation = mutation
        .writes_named(invitation.withdrawal(&state.table)?)
        .details(data.json())
        .write_named(
            ALREADY_MEMBER,
            put(
                &state.table,
                member.item(&org.id),
                "attribute_not_exists(pk)",
            )?,
        )
        .write_named(
            ALREADY_MEMBER,
            put(
                &state.table,
                membership.item(&user.id),
                "attribute_not_exists(pk)",
            )?,
        )
        .write_named(
            TOO_MANY_MEMBERSHIPS,
            members::joined(&state.table, &user.id)?,
        )
        .emit(Event::of(&org.id, &data, now));
    if invitation.role == Role::Owner {
        mutation = mutation.add("owner_count", 1);
    }
    if let Some((key, cond)) = inviter_guard {
        mutation = mutation.guard(key, cond);
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Conflict(INVITATION_GONE) | CommitError::Owner => Error::NotFound,
        CommitError::Conflict(ALREADY_MEMBER) => {
            Error::conflict("conflict", "you are already a member of this organization")
        }
        CommitError::Conflict(TOO_MANY_MEMBERSHIPS) => shared::founding::too_many_memberships(),
        other => other.into(),
    })?;
    Ok(axum::Json(InvitationAccepted {
        organization: InvitingOrg {
            id: org.id.clone(),
            slug: org.slug.clone(),
            name: org.name.clone(),
        },
        role: invitation.role,
    }))
}

/// The person became a member meanwhile (another invitation of the same org).
const ALREADY_MEMBER: &str = "already_member";
/// The person's count of memberships reached its cap meanwhile.
const TOO_MANY_MEMBERSHIPS: &str = "too_many_memberships";

/// Decline an invitation: it is removed, and the org's audit log records it.
#[utoipa::path(post, path = "/v1/me/invitations/{invitation_id}/decline", operation_id = "decline_invitation", tag = "team", security(("session" = [])),
    params(("invitation_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn decline(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Path(id): Path<PathId<InvitationId>>,
) -> Result<StatusCode, Error> {
    let answering = answering(&state, &bearer, id.as_ref()).await?;
    let mutation = answering.mutation(
        "team.invitation_declined",
        Target::new("invitation", &answering.invitation.id),
        &client,
    );
    let invitation = &answering.invitation;
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
