//! Usage counters, added to atomically: per day and MCP (`ORG#o / USAGE#<date>#<mcp>`:
//! requests and tokens) and per month (`ORG#o / USAGEMONTH#<month>`: requests). The one
//! place that writes and reads their attributes.

use crate::ids::OrgId;
use crate::store::{n, s, Item, ItemExt, Key, StoreError, Table};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::ReturnValue;

/// One MCP's counters for one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub mcp_id: String,
    pub requests: u64,
    pub tokens: u64,
}

impl UsageDay {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let count = |name| item.opt_num(name).unwrap_or(0).max(0) as u64;
        Ok(UsageDay {
            date: item.str("date")?.to_owned(),
            mcp_id: item.str("mcp_id")?.to_owned(),
            requests: count("requests"),
            tokens: count("tokens"),
        })
    }

    /// Adds to the day's counters of the MCP (made at the first record of the day).
    pub fn add(
        table: &Table,
        org: &OrgId,
        date: &str,
        mcp_id: &str,
        requests: u64,
        tokens: u64,
    ) -> UpdateItemFluentBuilder {
        table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(Key::usage_day(org, date, mcp_id).to_item()))
            .update_expression("SET #date = :date, mcp_id = :mcp ADD requests :r, tokens :t")
            .expression_attribute_names("#date", "date")
            .expression_attribute_values(":date", s(date))
            .expression_attribute_values(":mcp", s(mcp_id))
            .expression_attribute_values(":r", n(requests as i64))
            .expression_attribute_values(":t", n(tokens as i64))
    }
}

/// Adds to the month's request counter; the answer holds the month's total after it
/// (`month_total`).
pub fn add_to_month(
    table: &Table,
    org: &OrgId,
    month: &str,
    requests: u64,
) -> UpdateItemFluentBuilder {
    table
        .client()
        .update_item()
        .table_name(table.name())
        .set_key(Some(Key::usage_month(org, month).to_item()))
        .update_expression("SET #month = :month ADD requests :r")
        .expression_attribute_names("#month", "month")
        .expression_attribute_values(":month", s(month))
        .expression_attribute_values(":r", n(requests as i64))
        .return_values(ReturnValue::UpdatedNew)
}

/// The month's requests after `add_to_month`.
pub fn month_total(answer: &UpdateItemOutput) -> Option<u64> {
    answer
        .attributes()?
        .get("requests")?
        .as_n()
        .ok()?
        .parse()
        .ok()
}
