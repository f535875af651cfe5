//! Usage: requests and tokens per MCP, counted atomically per day and per month. When a
//! month's requests cross 50, 75, 90 and 100 % of the plan's limit, `usage.threshold` is
//! emitted once per threshold per month: the crossing is seen by whichever record made
//! the atomic counter pass it, and a conditional marker item makes the event single even
//! if two records think they crossed it.

use crate::billing::monthly_request_limit;
use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::Permission;
use shared::error::Validator;
use shared::event_data::{self, EventData};
use shared::events::Event;
use shared::http::Path;
use shared::http::{Json, Problem, Query};
use shared::ids::McpId;
use shared::mutation::CommitError;
use shared::store::item::time;
use shared::store::keys::USAGE_PREFIX;
use shared::store::{put, s, Key, StoreError};
use shared::usage::{add_to_month, month_total, UsageDay};
use shared::{AppState, Error};
use utoipa::ToSchema;

pub const THRESHOLDS: [u64; 4] = [50, 75, 90, 100];
const MAX_DAYS: i64 = 366;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordUsage {
    /// One of the org's MCPs (422 when it is not).
    #[schema(value_type = McpId)]
    mcp_id: String,
    #[serde(deserialize_with = "shared::http::extract::whole_number")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    requests: u64,
    #[serde(deserialize_with = "shared::http::extract::whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    tokens: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageRecorded {
    date: String,
    month: String,
    /// Requests so far this month, this record included.
    month_requests: u64,
    /// Null when the plan is unlimited.
    monthly_request_limit: Option<u64>,
    /// Thresholds (percent of the limit) this record crossed.
    thresholds_crossed: Vec<u64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageRange {
    /// First day (default: 29 days before `to`).
    #[param(value_type = Option<chrono::NaiveDate>, pattern = "^(?:20[0-9]{2}|2100)-")]
    from: Option<String>,
    /// Last day (default: today, UTC); not before `from`, at most 366 days in all. Days
    /// from 2000-01-01 to 2100-12-31.
    #[param(value_type = Option<chrono::NaiveDate>, pattern = "^(?:20[0-9]{2}|2100)-")]
    to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DailyUsage {
    date: String,
    requests: u64,
    tokens: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// Every day of the range, oldest first (zero when nothing was recorded).
    items: Vec<DailyUsage>,
    total_requests: u64,
    total_tokens: u64,
}

/// The month's threshold event was emitted already (its marker exists).
const THRESHOLD_EMITTED: &str = "threshold_emitted";

/// Record usage of one MCP (members and up, typically an API key).
#[utoipa::path(post, path = "/v1/orgs/{slug}/usage", operation_id = "record_usage", tag = "usage", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)), request_body = RecordUsage,
    responses((status = 200, body = UsageRecorded), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<RecordUsage>,
) -> Result<axum::Json<UsageRecorded>, Error> {
    let mut v = Validator::default();
    let mcp_id = v.field(
        "mcp_id",
        McpId::parse(&body.mcp_id).ok_or_else(|| "is not an MCP id".to_string()),
    );
    v.field(
        "requests",
        if (1..=1_000_000).contains(&body.requests) {
            Ok(())
        } else {
            Err("must be 1 to 1,000,000".into())
        },
    );
    v.field(
        "tokens",
        if body.tokens <= 1_000_000_000 {
            Ok(())
        } else {
            Err("must be at most 1,000,000,000".into())
        },
    );
    let Some(mcp_id) = mcp_id.filter(|_| !v.has_errors()) else {
        return Err(v.error());
    };
    let wanted = mcp_id.clone();
    let access = OrgAccess::load_with(&state, &credential, &slug, &[], |m, _| {
        vec![Key::mcp(&m.org_id, wanted.as_str())]
    })
    .await?;
    access.require(Permission::Contribute)?;
    if !access
        .items
        .contains_key(&Key::mcp(&access.org.id, mcp_id.as_str()))
    {
        return Err(Error::invalid(
            "mcp_id",
            "no MCP of this organization has this id",
        ));
    }
    let now = Utc::now();
    let (date, month) = (
        now.format("%Y-%m-%d").to_string(),
        now.format("%Y-%m").to_string(),
    );
    let org_id = &access.org.id;
    let (day_result, month_result) = tokio::join!(
        UsageDay::add(
            &state.table,
            org_id,
            &date,
            mcp_id.as_str(),
            body.requests,
            body.tokens
        )
        .send(),
        add_to_month(&state.table, org_id, &month, body.requests).send(),
    );
    day_result.map_err(StoreError::from)?;
    let after = month_total(&month_result.map_err(StoreError::from)?)
        .ok_or_else(|| Error::Internal("the month counter returned no total".into()))?;
    let before = after.saturating_sub(body.requests);
    let limit = monthly_request_limit(&access.org.plan);
    // Each threshold crossed, with the limit it is a share of.
    let crossed: Vec<(u64, u64)> = match limit {
        None => Vec::new(),
        Some(limit) => THRESHOLDS
            .into_iter()
            .filter(|pct| {
                (limit * pct).div_ceil(100) > before && (limit * pct).div_ceil(100) <= after
            })
            .map(|pct| (pct, limit))
            .collect(),
    };
    for &(pct, limit) in &crossed {
        let data = event_data::UsageThreshold {
            threshold_percent: pct,
            month: month.clone(),
            requests: after,
            limit,
            plan: access.org.plan.clone(),
        };
        let mut marker = Key::usage_threshold(org_id, &month, pct).to_item();
        marker.insert("reached_at".into(), time(now));
        let emitted = access
            .mutation(
                "usage.threshold_reached",
                Category::Billing,
                Target::new("organization", &access.org.id),
                &client,
            )
            .details(data.json())
            .write_named(
                THRESHOLD_EMITTED,
                put(&state.table, marker, "attribute_not_exists(pk)")?,
            )
            .emit(Event::of(&access.org.id, &data, now))
            .commit(&state)
            .await;
        match emitted {
            // Already emitted this month.
            Ok(_) | Err(CommitError::Conflict(THRESHOLD_EMITTED)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(axum::Json(UsageRecorded {
        date,
        month,
        month_requests: after,
        monthly_request_limit: limit,
        thresholds_crossed: crossed.into_iter().map(|(pct, _)| pct).collect(),
    }))
}

/// A day of the query: `YYYY-MM-DD` between 2000 and 2100, so that no date arithmetic
/// on it can overflow.
fn day(raw: &str, field: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .ok_or_else(|| {
            Error::InvalidQuery(format!(
                "{field} must be a date, YYYY-MM-DD, between 2000-01-01 and 2100-12-31"
            ))
        })
}

/// Daily totals for a range of days (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/usage", operation_id = "get_usage", tag = "usage", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), UsageRange),
    responses((status = 200, body = UsageReport), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(range): Query<UsageRange>,
) -> Result<axum::Json<UsageReport>, Error> {
    let to = range
        .to
        .as_deref()
        .map(|d| day(d, "to"))
        .transpose()?
        .unwrap_or_else(|| Utc::now().date_naive());
    let from = range
        .from
        .as_deref()
        .map(|d| day(d, "from"))
        .transpose()?
        .unwrap_or_else(|| to.checked_sub_signed(Duration::days(29)).unwrap_or(to));
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(Error::InvalidQuery(
            "from must not be after to, and the range at most 366 days".into(),
        ));
    }
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    let rows = state
        .table
        .client()
        .query()
        .table_name(state.table.name())
        .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
        .expression_attribute_values(":pk", s(access.org_key().pk))
        .expression_attribute_values(":from", s(format!("{USAGE_PREFIX}{from}")))
        .expression_attribute_values(":to", s(format!("{USAGE_PREFIX}{to}#~")))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(StoreError::from)?;
    let mut days: Vec<DailyUsage> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| DailyUsage {
            date: d.to_string(),
            requests: 0,
            tokens: 0,
        })
        .collect();
    for row in &rows {
        let counted = UsageDay::from_item(row)?;
        if let Some(day) = days.iter_mut().find(|d| d.date == counted.date) {
            day.requests += counted.requests;
            day.tokens += counted.tokens;
        }
    }
    let (total_requests, total_tokens) = days
        .iter()
        .fold((0, 0), |(r, t), d| (r + d.requests, t + d.tokens));
    Ok(axum::Json(UsageReport {
        items: days,
        total_requests,
        total_tokens,
    }))
}
