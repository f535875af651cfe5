//! The stack's regional quotas: every proven name holds (or is about to hold) an ACM
//! certificate and an API Gateway domain name, and a region has 120 domain names by
//! default (`CUSTOM_DOMAIN_QUOTA`). One item counts the names whose claim is held; a
//! write that takes a claim takes a slot under the condition that one is free, one that
//! releases a claim frees its slot, and setting a domain is refused (409 `domain_quota`)
//! while no slot is free. The domain worker reports the count against the quota after
//! each batch, for the alarm at 80 %.

use crate::store::{check, n, update_with, Cond, ItemExt, Key, StoreError, Table};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// The name of the write that found no free slot.
pub const QUOTA_FULL: &str = "domain_quota_full";
/// Why a check that found the records in place leaves a domain pending.
pub const QUOTA_REACHED: &str =
    "the platform serves as many custom domains as its quota allows; the domain is verified once one is released";

const HELD: &str = "held";

fn key() -> Key {
    Key::custom_domain_quota()
}

fn free_slot(quota: i64) -> Cond {
    Cond::new("attribute_not_exists(#held) OR #held < :quota")
        .name("#held", HELD)
        .value(":quota", n(quota))
}

/// Takes a slot: commits only while fewer than `quota` are held.
pub fn take(table: &Table, quota: i64) -> Result<TransactWriteItem, StoreError> {
    let cond = free_slot(quota).value(":one", n(1));
    update_with(table, &key(), "ADD #held :one", &cond)
}

/// Frees a slot (of a claim the same transaction releases, whose condition decides: this
/// one holds always).
pub fn free(table: &Table) -> Result<TransactWriteItem, StoreError> {
    let cond = Cond::new("attribute_not_exists(pk) OR attribute_exists(pk)")
        .name("#held", HELD)
        .value(":minus_one", n(-1));
    update_with(table, &key(), "ADD #held :minus_one", &cond)
}

/// No change: commits only while a slot is free (a new domain may be set).
pub fn has_room(table: &Table, quota: i64) -> Result<TransactWriteItem, StoreError> {
    check(table, &key(), &free_slot(quota))
}

/// How many slots are held now.
pub async fn held(table: &Table) -> Result<i64, StoreError> {
    let item = table.get(&key()).await?;
    Ok(item.and_then(|i| i.opt_num(HELD)).unwrap_or(0))
}

/// Logs the count against the quota (`custom_domain_quota_used_percent` is the metric
/// the template's alarm watches).
pub async fn report(table: &Table, quota: i64) {
    match held(table).await {
        Ok(held) => tracing::info!(
            custom_domains_held = held,
            custom_domain_quota = quota,
            custom_domain_quota_used_percent = held * 100 / quota.max(1),
            "custom domains against the regional quota"
        ),
        Err(err) => tracing::warn!(error = %err, "the custom-domain count was not read"),
    }
}
