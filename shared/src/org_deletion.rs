//! Deleting an organization (Settings → Danger Zone). One transaction marks the org
//! `deleting` — from that commit it is gone for every route, key and worker — and puts
//! an `OrgDeletion` in the outbox; the deletion worker (`functions/org-deletion`) then
//! removes everything in resumable batches. What stays: the billing records, kept with a
//! TTL of `BILLING_RETENTION_DAYS`, and a tombstone (`tombstone_item`) kept as long.

use crate::ids::{MessageId, OrgId};
use crate::store::item::time;
use crate::store::{n, s, Item, Key};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The outbox message that hands a deletion to the deletion worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrgDeletion {
    pub id: MessageId,
    pub organization_id: OrgId,
    pub timestamp: String,
    /// Who asked (the tombstone says so).
    pub deleted_by: String,
}

impl OrgDeletion {
    pub fn new(org: &OrgId, deleted_by: &str, now: DateTime<Utc>) -> Self {
        OrgDeletion {
            id: MessageId::generate(),
            organization_id: org.clone(),
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            deleted_by: deleted_by.to_owned(),
        }
    }
}

/// When the kept billing records and the tombstone expire (a DynamoDB TTL, seconds).
pub fn retention_ttl(deleted_at: DateTime<Utc>, retention_days: i64) -> i64 {
    (deleted_at + Duration::days(retention_days)).timestamp()
}

/// What is left of the org: who deleted it and when, under its own partition.
pub fn tombstone_item(
    org: &OrgId,
    slug: &str,
    name: &str,
    deleted_at: DateTime<Utc>,
    deleted_by: &str,
    ttl: i64,
) -> Item {
    let mut item = Key::tombstone(org).to_item();
    item.insert("org_id".into(), s(org.as_str()));
    item.insert("slug".into(), s(slug));
    item.insert("name".into(), s(name));
    item.insert("deleted_at".into(), time(deleted_at));
    item.insert("deleted_by".into(), s(deleted_by));
    item.insert("ttl".into(), n(ttl));
    item
}
