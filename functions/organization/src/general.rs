//! Settings → General: create an organization, read it, change its name and description.
//! The slug is unique (a `SLUG#` reservation written in the creating transaction) and
//! cannot be changed afterwards.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::auth::{authenticate, Bearer};
use shared::client_info::ClientInfo;
use shared::domain::{Description, Name, OrgSlug, Permission, Role};
use shared::error::Validator;
use shared::founding::founding;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::Path;
use shared::http::{Created, Json, Problem};
use shared::ids::OrgId;
use shared::mutation::{ChainOwner, CommitError, Mutation};
use shared::platform_hostname::{api_hostname, HostnameRecord};
use shared::store::members::{Member, Membership};
use shared::store::orgs::{self, Org};
use shared::store::users::User;
use shared::store::{put, s, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    #[schema(schema_with = shared::domain::schema::name)]
    name: String,
    #[schema(schema_with = shared::domain::schema::slug)]
    slug: String,
    #[schema(schema_with = shared::domain::schema::description_or_null)]
    description: Option<String>,
}

/// Only `name` and `description` can change; any other field is rejected.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[schema(schema_with = shared::domain::schema::name_or_null)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = shared::domain::schema::description_or_null)]
    description: Option<Option<String>>,
    /// Accepted only if equal to the current slug: slugs are immutable (422 `slug_immutable`).
    #[schema(value_type = Option<String>)]
    slug: Option<serde_json::Value>,
    /// Enterprise plan, owners only: days audit entries are kept, 30–3,650. Applies to
    /// entries written from now on.
    #[serde(
        default,
        deserialize_with = "shared::http::extract::optional_whole_number"
    )]
    #[schema(minimum = 30, maximum = 3650)]
    audit_retention_days: Option<i64>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct OrgView {
    id: OrgId,
    name: String,
    slug: String,
    description: String,
    #[schema(schema_with = shared::domain::schema::plan)]
    plan: String,
    created_at: DateTime<Utc>,
    pin_protection_enabled: bool,
    /// Days new audit entries are kept: 30 on Free and Pro, 365 on Team, the org's own
    /// setting on Enterprise.
    audit_retention_days: i64,
    /// `<slug>.<platform domain>`: the org's host name for API calls, a CNAME to the
    /// gateway in the platform's DNS zone (written within seconds of the org's creation).
    api_hostname: String,
}

/// The org item's attributes an `OrgView` shows (its ETag covers them).
const VIEWED: [&str; 5] = [
    "name",
    "description",
    "plan",
    "pin_protection_enabled",
    "audit_retention_days",
];

impl OrgView {
    fn of(org: Org, state: &AppState) -> Self {
        let audit_retention_days =
            shared::audit_log::retention_days(&org.plan, org.audit_retention_days);
        OrgView {
            api_hostname: api_hostname(&org.slug, &state.config),
            id: org.id,
            name: org.name,
            slug: org.slug,
            description: org.description,
            plan: org.plan,
            created_at: org.created_at,
            pin_protection_enabled: org.pin_protection_enabled,
            audit_retention_days,
        }
    }
}

/// Another org holds the slug.
const SLUG_TAKEN: &str = "slug_taken";
/// The founder's profile changed since it was read (another org founded meanwhile).
const FOUNDER_CHANGED: &str = "founder_changed";

/// Create an organization; the caller becomes its owner. Plan `free`.
#[utoipa::path(post, path = "/v1/orgs", operation_id = "create_org", tag = "organizations", security(("session" = [])), request_body = CreateOrg,
    responses(
        (status = 201, body = OrgView, headers(("Location" = String, description = "the new resource's path"))),
        (status = 401, body = Problem),
        (status = 409, description = "`conflict` (the slug is taken), `membership_limit` or `org_limit` (100 created in all)", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "`rate_limited`: 10 organizations created today; `retry_after` is the time to the next UTC day", body = Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Json(body): Json<CreateOrg>,
) -> Result<Created<OrgView>, Error> {
    let user_key = Key::user(&bearer.0.user_id);
    let (_, mut items) = authenticate(&state, &bearer, std::slice::from_ref(&user_key)).await?;
    let profile = items.remove(&user_key).ok_or(Error::Unauthorized)?;
    let user = User::from_item(&profile)?;

    let mut v = Validator::default();
    let name = v.field("name", Name::parse(&body.name));
    let slug = v.field("slug", OrgSlug::parse(&body.slug));
    let description = v.field(
        "description",
        Description::parse(body.description.as_deref().unwrap_or_default()),
    );
    let (Some(name), Some(slug), Some(description)) = (name, slug, description) else {
        return Err(v.error());
    };

    let now = Utc::now();
    // The caps on founding (a day, in all, memberships), decided on the profile as read.
    let founding = founding(&state.table, &user.id, &profile, now)?;
    let id = OrgId::generate();
    let org_item = orgs::new_item(&id, &name, &slug, &description, now);
    let owner = Member::joining(&user, Role::Owner, now);
    let membership = Membership {
        org_id: id.clone(),
        slug: slug.as_str().to_owned(),
        role: Role::Owner,
    };
    let audit = AuditDraft::new(
        Actor::user(&user.id, Some(&user.email)),
        "org.created",
        Category::Settings,
        Target::new("organization", &id),
        &client,
    )
    .details(json!({ "name": name.as_str(), "slug": slug.as_str() }));
    Mutation::new(ChainOwner::Creating(org_item.clone()), audit)
        .write_named(
            SLUG_TAKEN,
            put(
                &state.table,
                orgs::slug_reservation(&slug, &id),
                "attribute_not_exists(pk)",
            )?,
        )
        .write(put(
            &state.table,
            owner.item(&id),
            "attribute_not_exists(pk)",
        )?)
        .write(put(
            &state.table,
            membership.item(&user.id),
            "attribute_not_exists(pk)",
        )?)
        .write_named(FOUNDER_CHANGED, founding)
        .emit(HostnameRecord::new(&id, slug.as_str(), &state.config, now))
        .commit(&state)
        .await
        .map_err(|e| match e {
            CommitError::Conflict(SLUG_TAKEN) => {
                Error::conflict("conflict", format!("the slug `{}` is taken", slug.as_str()))
            }
            // The profile changed since it was read (another org founded meanwhile).
            CommitError::Conflict(FOUNDER_CHANGED) => Error::conflict(
                "conflict",
                "your account changed while this request ran; retry",
            ),
            other => other.into(),
        })?;
    let org = Org::from_item(&org_item)?
        .ok_or_else(|| Error::Internal("new org is not active".into()))?;
    Ok(Created::at(
        format!("/v1/orgs/{}", org.slug),
        OrgView::of(org, &state),
    ))
}

/// Read an organization (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}", operation_id = "get_org", tag = "organizations", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)),
    responses((status = 200, body = OrgView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
) -> Result<Tagged<OrgView>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(OrgView::of(access.org, &state)))
}

/// Change the name and/or description (owners and admins).
#[utoipa::path(patch, path = "/v1/orgs/{slug}", operation_id = "update_org", tag = "organizations", security(("session" = [])),
    params(("slug" = String, Path), ("If-Match" = Option<String>, Header, description = "an ETag of the org: the change is made only to that version")), request_body = UpdateOrg,
    responses(
        (status = 200, body = OrgView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))),
        (status = 412, description = "`precondition_failed`: the org is not (or no longer) the version If-Match names", body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, description = "`validation_failed` or `slug_immutable`", body = Problem),
    ))]
pub async fn update(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    if_match: IfMatch,
    Json(body): Json<UpdateOrg>,
) -> Result<Tagged<OrgView>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    if body
        .slug
        .is_some_and(|requested| requested != serde_json::Value::String(access.org.slug.clone()))
    {
        return Err(Error::SlugImmutable);
    }
    let mut org = access.org.clone();
    let mut v = Validator::default();
    let name = match body.name.as_deref() {
        Some(raw) => v.field("name", Name::parse(raw)).map(Name::into_string),
        None => Some(org.name.clone()),
    };
    let description = match &body.description {
        Some(raw) => v
            .field(
                "description",
                Description::parse(raw.as_deref().unwrap_or_default()),
            )
            .map(|d| d.as_str().to_owned()),
        None => Some(org.description.clone()),
    };
    let retention = match body.audit_retention_days {
        Some(days) => v.field(
            "audit_retention_days",
            if (30..=3650).contains(&days) {
                Ok(Some(days))
            } else {
                Err("must be between 30 and 3650 days".to_owned())
            },
        ),
        None => Some(org.audit_retention_days),
    };
    let (Some(name), Some(description), Some(retention)) = (name, description, retention) else {
        return Err(v.error());
    };
    if_match.check(&etag::of(&OrgView::of(access.org.clone(), &state)))?;
    if retention != org.audit_retention_days {
        if access.role != shared::domain::Role::Owner {
            return Err(Error::Forbidden(
                "only owners set how long audit entries are kept",
            ));
        }
        if org.plan != "enterprise" {
            return Err(Error::PlanRequired(
                "the audit retention can be set on the Enterprise plan",
            ));
        }
    }
    if name == org.name && description == org.description && retention == org.audit_retention_days {
        return Ok(Tagged(OrgView::of(org, &state)));
    }
    let mut changes = serde_json::Map::new();
    if retention != org.audit_retention_days {
        changes.insert(
            "audit_retention_days".into(),
            json!({ "from": org.audit_retention_days, "to": retention }),
        );
    }
    if name != org.name {
        changes.insert("name".into(), json!({ "from": org.name, "to": name }));
    }
    if description != org.description {
        // The text itself may be long; the entry records that it changed.
        changes.insert("description".into(), json!({ "changed": true }));
    }
    let mut mutation = access
        .mutation(
            "org.updated",
            Category::Settings,
            Target::new("organization", &org.id),
            &client,
        )
        .details(changes.into())
        .set("name", s(&name))
        .set("description", s(&description));
    if if_match.given() {
        // The version If-Match named is the one committed over: what the view shows.
        for attr in VIEWED {
            mutation = mutation.decided_on(attr, access.org_item.get(attr).cloned());
        }
    }
    if let (Some(days), true) = (retention, retention != org.audit_retention_days) {
        // Allowed on the plan as read: a downgrade meanwhile fails the commit.
        mutation = mutation
            .decided_on("plan", Some(s(&org.plan)))
            .set("audit_retention_days", shared::store::n(days));
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Owner => Error::NotFound,
        CommitError::Changed => if_match.changed(CommitError::Changed.into()),
        other => other.into(),
    })?;
    org.name = name;
    org.description = description;
    org.audit_retention_days = retention;
    Ok(Tagged(OrgView::of(org, &state)))
}
