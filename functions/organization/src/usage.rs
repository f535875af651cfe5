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
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub const THRESHOLDS: [u64; 4] = [50, 75, 90, 100];
const MAX_DAYS: i64 = 366;
/// The most records one batch holds.
const MAX_BATCH: usize = 100;

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordUsageBatch {
    /// 1 to 100 records; several of one MCP are added up.
    #[schema(min_items = 1, max_items = 100)]
    records: Vec<RecordUsage>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageBatchRecorded {
    /// Records counted.
    records: usize,
    /// Their requests and tokens, added up.
    requests: u64,
    tokens: u64,
    #[serde(flatten)]
    counted: UsageRecorded,
}

#[derive(Serialize, ToSchema)]
pub struct UsageRecorded {
    date: String,
    month: String,
    /// Requests so far this month, this record included.
    month_requests: u64,
    /// Null when the plan is unlimited.
    monthly_request_limit: Option<u64>,
    /// Thresholds (percent of the limit) this record (or batch) crossed.
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
    let mcp_id = checked(&mut v, "", &body);
    let Some(mcp_id) = mcp_id.filter(|_| !v.has_errors()) else {
        return Err(v.error());
    };
    let per_mcp = BTreeMap::from([(mcp_id, (body.requests, body.tokens))]);
    count(&state, &credential, &client, &slug, per_mcp, |_| {
        "mcp_id".into()
    })
    .await
    .map(axum::Json)
}

/// Record usage of many MCPs at once, as a gateway that adds up its traffic sends it
/// (members and up, typically an API key): 1 to 100 records, counted together — the
/// records of one MCP are added to its day's counter in one write, and the batch to the
/// month's in one — with the thresholds of the month's total announced once each, as for
/// single records. A bad record (422, named by its index) counts none.
#[utoipa::path(post, path = "/v1/orgs/{slug}/usage/batch", operation_id = "record_usage_batch", tag = "usage", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)), request_body = RecordUsageBatch,
    responses((status = 200, body = UsageBatchRecorded), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_batch(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<RecordUsageBatch>,
) -> Result<axum::Json<UsageBatchRecorded>, Error> {
    let mut v = Validator::default();
    if !(1..=MAX_BATCH).contains(&body.records.len()) {
        v.field::<()>(
            "records",
            Err(format!("must hold 1 to {MAX_BATCH} records")),
        );
        return Err(v.error());
    }
    let mut per_mcp: BTreeMap<McpId, (u64, u64)> = BTreeMap::new();
    for (i, record) in body.records.iter().enumerate() {
        if let Some(mcp_id) = checked(&mut v, &format!("records[{i}]."), record) {
            let counts = per_mcp.entry(mcp_id).or_default();
            *counts = (counts.0 + record.requests, counts.1 + record.tokens);
        }
    }
    if v.has_errors() {
        return Err(v.error());
    }
    let (requests, tokens) = per_mcp.values().fold((0, 0), |(r, t), (requests, tokens)| {
        (r + requests, t + tokens)
    });
    // An MCP the org does not have is named by the first record of it.
    let field = |unknown: &McpId| {
        let at = body
            .records
            .iter()
            .position(|r| r.mcp_id == unknown.as_str());
        format!("records[{}].mcp_id", at.unwrap_or_default())
    };
    let counted = count(&state, &credential, &client, &slug, per_mcp, field).await?;
    Ok(axum::Json(UsageBatchRecorded {
        records: body.records.len(),
        requests,
        tokens,
        counted,
    }))
}

/// The MCP id of a valid record; its errors go to `v`, under `prefix`.
fn checked(v: &mut Validator, prefix: &str, record: &RecordUsage) -> Option<McpId> {
    let mcp_id = v.field(
        &format!("{prefix}mcp_id"),
        McpId::parse(&record.mcp_id).ok_or_else(|| "is not an MCP id".to_string()),
    );
    v.field(
        &format!("{prefix}requests"),
        if (1..=1_000_000).contains(&record.requests) {
            Ok(())
        } else {
            Err("must be 1 to 1,000,000".into())
        },
    );
    v.field(
        &format!("{prefix}tokens"),
        if record.tokens <= 1_000_000_000 {
            Ok(())
        } else {
            Err("must be at most 1,000,000,000".into())
        },
    );
    mcp_id
}

/// Adds each MCP's requests and tokens to its counter of the day and their sum to the
/// month's, side by side, then announces each threshold the month's total crossed. The
/// caller must be allowed to contribute, and every MCP must be the org's (else 422 on
/// the field `field` names for it).
async fn count(
    state: &AppState,
    credential: &Credential,
    client: &ClientInfo,
    slug: &str,
    per_mcp: BTreeMap<McpId, (u64, u64)>,
    field: impl Fn(&McpId) -> String,
) -> Result<UsageRecorded, Error> {
    let access = OrgAccess::load_with(state, credential, slug, &[], |m, _| {
        per_mcp
            .keys()
            .map(|mcp| Key::mcp(&m.org_id, mcp.as_str()))
            .collect()
    })
    .await?;
    access.require(Permission::Contribute)?;
    let org_id = &access.org.id;
    if let Some(unknown) = per_mcp
        .keys()
        .find(|mcp| !access.items.contains_key(&Key::mcp(org_id, mcp.as_str())))
    {
        return Err(Error::invalid(
            &field(unknown),
            "no MCP of this organization has this id",
        ));
    }
    let now = Utc::now();
    let (date, month) = (
        now.format("%Y-%m-%d").to_string(),
        now.format("%Y-%m").to_string(),
    );
    let requests: u64 = per_mcp.values().map(|(requests, _)| requests).sum();
    let days = futures_util::future::join_all(per_mcp.iter().map(|(mcp, (requests, tokens))| {
        UsageDay::add(
            &state.table,
            org_id,
            &date,
            mcp.as_str(),
            *requests,
            *tokens,
        )
        .send()
    }));
    let (days, month_result) = tokio::join!(
        days,
        add_to_month(&state.table, org_id, &month, requests).send(),
    );
    for day in days {
        day.map_err(StoreError::from)?;
    }
    let after = month_total(&month_result.map_err(StoreError::from)?)
        .ok_or_else(|| Error::Internal("the month counter returned no total".into()))?;
    let before = after.saturating_sub(requests);
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
                client,
            )
            .details(data.json())
            .write_named(
                THRESHOLD_EMITTED,
                put(&state.table, marker, "attribute_not_exists(pk)")?,
            )
            .emit(Event::of(&access.org.id, &data, now))
            .commit(state)
            .await;
        match emitted {
            // Already emitted this month.
            Ok(_) | Err(CommitError::Conflict(THRESHOLD_EMITTED)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(UsageRecorded {
        date,
        month,
        month_requests: after,
        monthly_request_limit: limit,
        thresholds_crossed: crossed.into_iter().map(|(pct, _)| pct).collect(),
    })
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
