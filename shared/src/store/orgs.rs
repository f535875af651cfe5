//! The organization item and the slug reservation.

use super::{n, s, Item, ItemExt, Key, StoreError};
use crate::domain::{Description, Name, OrgSlug};
use crate::ids::OrgId;
use crate::store::item::time;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

pub const ACTIVE: &str = "active";
/// Being deleted (`POST /v1/orgs/{slug}/delete`): gone for every route and key.
pub const DELETING: &str = "deleting";

#[derive(Clone, Debug)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub pin_protection_enabled: bool,
    /// Owners left; kept on the org item so "the last owner cannot leave" is a condition.
    pub owner_count: i64,
    /// Enterprise only: how long audit entries are kept (30–3,650 days), set by owners.
    pub audit_retention_days: Option<i64>,
}

impl Org {
    /// `None` for an org that is being deleted: from that moment it is gone for every route.
    pub fn from_item(item: &Item) -> Result<Option<Self>, StoreError> {
        if item.str("status")? != ACTIVE {
            return Ok(None);
        }
        Ok(Some(Org {
            id: OrgId::parse(item.str("org_id")?)
                .ok_or_else(|| StoreError::Corrupt("org_id".into()))?,
            name: item.str("name")?.to_owned(),
            slug: item.str("slug")?.to_owned(),
            description: item.opt_str("description").unwrap_or_default().to_owned(),
            plan: item.str("plan")?.to_owned(),
            created_at: item.time("created_at")?,
            pin_protection_enabled: item.flag("pin_protection_enabled"),
            owner_count: item.num("owner_count")?,
            audit_retention_days: item.opt_num("audit_retention_days"),
        }))
    }
}

pub fn new_item(
    id: &OrgId,
    name: &Name,
    slug: &OrgSlug,
    description: &Description,
    now: DateTime<Utc>,
) -> Item {
    let mut item = Key::org(id).to_item();
    item.insert("org_id".into(), s(id.as_str()));
    item.insert("name".into(), s(name.as_str()));
    item.insert("slug".into(), s(slug.as_str()));
    item.insert("description".into(), s(description.as_str()));
    item.insert("plan".into(), s("free"));
    item.insert("status".into(), s(ACTIVE));
    item.insert("created_at".into(), time(now));
    item.insert("pin_protection_enabled".into(), AttributeValue::Bool(false));
    item.insert("owner_count".into(), n(1));
    item
}

pub fn slug_reservation(slug: &OrgSlug, id: &OrgId) -> Item {
    let mut item = Key::slug(slug.as_str()).to_item();
    item.insert("org_id".into(), s(id.as_str()));
    item
}
