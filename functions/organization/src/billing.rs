//! Billing: the plan (the state other features read — request limits, custom domains,
//! audit retention) and its history. There is no payment provider here; changing the
//! plan is owners' and admins' and **PIN-gated**.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::domain::Permission;
use shared::http::Path;
use shared::http::{ClientInfo, Json, Problem};
use shared::pin_gate::{self, PinHeader};
use shared::store::item::time;
use shared::store::keys::BILLING_PREFIX;
use shared::store::{put, s, Item, ItemExt, Key, StoreError};
use shared::{AppState, Error};
use utoipa::ToSchema;

pub const PLANS: &[&str] = &["free", "pro", "team", "enterprise"];

fn plan_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some("The plan to move to."))
        .enum_values(Some(PLANS.iter().copied()))
        .build()
}
const HISTORY_SHOWN: i32 = 100;

/// Requests a month the plan includes; `None` is unlimited.
pub fn monthly_request_limit(plan: &str) -> Option<u64> {
    match plan {
        "free" => Some(1_000),
        "pro" => Some(50_000),
        "team" => Some(250_000),
        _ => None,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    #[schema(schema_with = plan_schema)]
    plan: String,
}

#[derive(Serialize, ToSchema)]
pub struct PlanChange {
    from: String,
    to: String,
    changed_by: String,
    changed_at: DateTime<Utc>,
}

impl PlanChange {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(PlanChange {
            from: item.str("from")?.to_owned(),
            to: item.str("to")?.to_owned(),
            changed_by: item.str("changed_by")?.to_owned(),
            changed_at: item.time("changed_at")?,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct BillingView {
    plan: String,
    /// Requests a month the plan includes; null is unlimited.
    monthly_request_limit: Option<u64>,
    /// Plan changes, newest first (the last 100).
    history: Vec<PlanChange>,
}

async fn view(state: &AppState, access: &OrgAccess, plan: &str) -> Result<BillingView, Error> {
    let (items, _) = state
        .table
        .query_prefix(
            &access.org_key().pk,
            BILLING_PREFIX,
            HISTORY_SHOWN,
            None,
            true,
        )
        .await?;
    let history = items
        .iter()
        .map(PlanChange::from_item)
        .collect::<Result<_, _>>()?;
    Ok(BillingView {
        plan: plan.to_owned(),
        monthly_request_limit: monthly_request_limit(plan),
        history,
    })
}

/// The plan and its history (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/billing", operation_id = "get_billing", tag = "billing", security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses((status = 200, body = BillingView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
) -> Result<axum::Json<BillingView>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    Ok(axum::Json(view(&state, &access, &access.org.plan).await?))
}

/// Change the plan (owners and admins; **PIN-gated**).
#[utoipa::path(put, path = "/v1/orgs/{slug}/billing", operation_id = "change_plan", tag = "billing", security(("bearer" = [])),
    params(("slug" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on")),
    request_body = ChangePlan,
    responses(
        (status = 200, body = BillingView),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 422, body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn change_plan(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(slug): Path<String>,
    Json(body): Json<ChangePlan>,
) -> Result<axum::Json<BillingView>, Error> {
    if !PLANS.contains(&body.plan.as_str()) {
        return Err(Error::invalid(
            "plan",
            "must be one of free, pro, team, enterprise",
        ));
    }
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    let gate = pin_gate::check(&state, &access, &pin, &client).await?;
    let from = access.org.plan.clone();
    if from == body.plan {
        gate.release(&state).await;
        return Ok(axum::Json(view(&state, &access, &from).await?));
    }
    let now = Utc::now();
    let actor = access.actor().id;
    let mut change = Key {
        pk: access.org_key().pk,
        sk: format!(
            "{BILLING_PREFIX}{}#{}",
            now.timestamp_micros(),
            shared::crypto::random_secret()[..6].to_owned()
        ),
    }
    .to_item();
    for (attr, value) in [
        ("from", from.as_str()),
        ("to", body.plan.as_str()),
        ("changed_by", actor.as_str()),
    ] {
        change.insert(attr.into(), s(value));
    }
    change.insert("changed_at".into(), time(now));
    let mutation = access
        .mutation(
            "billing.plan_changed",
            Category::Billing,
            Target::new("organization", &access.org.id),
            &client,
        )
        .details(json!({ "from": from, "to": body.plan }))
        .set("plan", s(&body.plan))
        .write(put(&state.table, change, "attribute_not_exists(pk)")?);
    gate.commit(&state, mutation).await?;
    Ok(axum::Json(view(&state, &access, &body.plan).await?))
}
