//! Memberships, stored twice in one transaction: under the org (the team list) and under
//! the user, keyed by org slug (so a request for `/orgs/{slug}` finds the caller's role
//! with the session, in one round trip). Both always carry the same role.

use super::{s, Item, ItemExt, Key, StoreError};
use crate::domain::Role;
use crate::ids::{OrgId, UserId};
use crate::store::item::time;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub org_id: OrgId,
    pub slug: String,
    pub role: Role,
}

fn role_of(item: &Item) -> Result<Role, StoreError> {
    Role::parse(item.str("role")?).map_err(StoreError::Corrupt)
}

impl Member {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Member {
            user_id: UserId::parse(item.str("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("member user_id".into()))?,
            email: item.str("email")?.to_owned(),
            name: item.str("name")?.to_owned(),
            role: role_of(item)?,
            joined_at: item.time("joined_at")?,
        })
    }

    pub fn item(&self, org: &OrgId) -> Item {
        let mut item = Key::member(org, &self.user_id).to_item();
        item.insert("user_id".into(), s(self.user_id.as_str()));
        item.insert("email".into(), s(&self.email));
        item.insert("name".into(), s(&self.name));
        item.insert("role".into(), s(self.role.as_str()));
        item.insert("joined_at".into(), time(self.joined_at));
        item
    }
}

impl Membership {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Membership {
            org_id: OrgId::parse(item.str("org_id")?)
                .ok_or_else(|| StoreError::Corrupt("membership org_id".into()))?,
            slug: item.str("slug")?.to_owned(),
            role: role_of(item)?,
        })
    }

    pub fn item(&self, user: &UserId) -> Item {
        let mut item = Key::membership(user, &self.slug).to_item();
        item.insert("org_id".into(), s(self.org_id.as_str()));
        item.insert("slug".into(), s(&self.slug));
        item.insert("role".into(), s(self.role.as_str()));
        item
    }
}

/// Changes the role on one side of a membership, only if it still is `old`.
pub fn set_role(
    table: &super::Table,
    key: &Key,
    new: Role,
    old: Role,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let update = aws_sdk_dynamodb::types::Update::builder()
        .table_name(table.name())
        .set_key(Some(key.to_item()))
        .update_expression("SET #role = :new")
        .condition_expression("#role = :old")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":new", s(new.as_str()))
        .expression_attribute_values(":old", s(old.as_str()))
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
}
