//! Billing: the plan (the state other features read — request limits, custom domains,
//! audit retention) and its history. There is no payment provider here; changing the
//! plan is owners' and admins' and **PIN-gated**.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::Permission;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::Path;
use shared::http::{Json, Problem};
use shared::mutation::CommitError;
use shared::pin_gate::{self, PinHeader};
use shared::store::item::{stored_now, time};
use shared::store::keys::BILLING_PREFIX;
use shared::store::{put, s, Item, ItemExt, Key, StoreError};
use shared::{AppState, Error};
use utoipa::ToSchema;

const HISTORY_SHOWN: i32 = 100;
/// On the org item: the sort key of the newest plan change, the billing view's version
/// (the plan alone could go free → pro → free and look unchanged).
const PLAN_CHANGE: &str = "plan_change";

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
    #[schema(schema_with = shared::domain::schema::plan)]
    plan: String,
}

#[derive(Serialize, ToSchema)]
pub struct PlanChange {
    from: String,
    to: String,
    changed_by: String,
    changed_at: DateTime<Utc>,
}

/// A plan change as the org's history keeps it (`ORG#o / BILLING#<micros>#<random>`),
/// built and read here only.
impl PlanChange {
    fn item(&self, key: &Key) -> Item {
        let mut item = key.to_item();
        item.insert("from".into(), s(&self.from));
        item.insert("to".into(), s(&self.to));
        item.insert("changed_by".into(), s(&self.changed_by));
        item.insert("changed_at".into(), time(self.changed_at));
        item
    }

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
    #[schema(schema_with = shared::domain::schema::plan)]
    plan: String,
    /// Requests a month the plan includes; null is unlimited.
    monthly_request_limit: Option<u64>,
    /// Plan changes, newest first (the last 100).
    history: Vec<PlanChange>,
}

async fn view(state: &AppState, access: &OrgAccess, plan: &str) -> Result<BillingView, Error> {
    Ok(BillingView {
        plan: plan.to_owned(),
        monthly_request_limit: monthly_request_limit(plan),
        history: history(state, access).await?,
    })
}

/// The last `HISTORY_SHOWN` plan changes, newest first, as `(sort key, change)`.
async fn history_items(
    state: &AppState,
    access: &OrgAccess,
) -> Result<Vec<(String, PlanChange)>, Error> {
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
    items
        .iter()
        .map(|item| Ok((item.str("sk")?.to_owned(), PlanChange::from_item(item)?)))
        .collect()
}

async fn history(state: &AppState, access: &OrgAccess) -> Result<Vec<PlanChange>, Error> {
    Ok(history_items(state, access)
        .await?
        .into_iter()
        .map(|(_, change)| change)
        .collect())
}

/// The plan and its history (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/billing", operation_id = "get_billing", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, body = BillingView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change the plan only from that version"))),
        (status = 404, body = Problem),
    ))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
) -> Result<Tagged<BillingView>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(view(&state, &access, &access.org.plan).await?))
}

/// Change the plan (owners and admins; **PIN-gated**).
#[utoipa::path(put, path = "/v1/orgs/{slug}/billing", operation_id = "change_plan", tag = "billing", security(("session" = [])),
    params(("slug" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on"), ("If-Match" = Option<String>, Header, description = "an ETag of the billing view: the plan changes only from that version")),
    request_body = ChangePlan,
    responses(
        (status = 200, body = BillingView, headers(("ETag" = String, description = "the version after the change"))),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 412, description = "`precondition_failed`: the plan is not (or no longer) the version If-Match names", body = Problem),
        (status = 422, body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn change_plan(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(slug): Path<String>,
    if_match: IfMatch,
    Json(body): Json<ChangePlan>,
) -> Result<Tagged<BillingView>, Error> {
    if !shared::domain::plan::PLANS.contains(&body.plan.as_str()) {
        return Err(Error::invalid(
            "plan",
            "must be one of free, pro, team, enterprise",
        ));
    }
    let (access, _, gate) = pin_gate::load(
        &state,
        &credential,
        &slug,
        Permission::Administer,
        &pin,
        &client,
        |_| None,
    )
    .await?;
    let from = access.org.plan.clone();
    // The version named is checked against the view as read (one more read, only then).
    let as_read = match (if_match.given(), from == body.plan) {
        (false, false) => None,
        _ => Some(view(&state, &access, &from).await?),
    };
    if let Some(Err(stale)) = as_read.as_ref().map(|v| if_match.check(&etag::of(v))) {
        return Err(gate.refuse(&state, stale).await);
    }
    if let (Some(unchanged), true) = (as_read, from == body.plan) {
        gate.release(&state).await;
        return Ok(Tagged(unchanged));
    }
    let now = stored_now();
    let change_key = Key::billing_change(
        &access.org.id,
        &format!(
            "{}#{}",
            now.timestamp_micros(),
            &shared::crypto::random_secret()[..6]
        ),
    );
    let committed = PlanChange {
        from: from.clone(),
        to: body.plan.clone(),
        changed_by: access.actor().id,
        changed_at: now,
    };
    let mut mutation = access
        .mutation(
            "billing.plan_changed",
            Category::Billing,
            Target::new("organization", &access.org.id),
            &client,
        )
        .details(json!({ "from": from, "to": body.plan }))
        .set("plan", s(&body.plan))
        .set(PLAN_CHANGE, s(&change_key.sk))
        .write(put(
            &state.table,
            committed.item(&change_key),
            "attribute_not_exists(pk)",
        )?);
    if if_match.given() {
        // The version If-Match named is the one changed: no plan change meanwhile.
        mutation = mutation.decided_on(PLAN_CHANGE, access.org_item.get(PLAN_CHANGE).cloned());
    }
    // The history the answer shows is read beside the commit (one round trip for both):
    // the new change goes first, whether or not the read already saw it.
    let (outcome, earlier) = tokio::join!(
        gate.commit(&state, mutation),
        history_items(&state, &access)
    );
    outcome.map_err(|e| match e {
        CommitError::Changed => if_match.changed(CommitError::Changed.into()),
        other => other.into(),
    })?;
    let mut history = vec![committed];
    history.extend(
        earlier?
            .into_iter()
            .filter(|(sk, _)| *sk != change_key.sk)
            .map(|(_, change)| change),
    );
    history.truncate(HISTORY_SHOWN as usize);
    Ok(Tagged(BillingView {
        monthly_request_limit: monthly_request_limit(&body.plan),
        plan: body.plan,
        history,
    }))
}
