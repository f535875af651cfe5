//! Memberships, stored twice in one transaction: under the org (the team list) and under
//! the user, keyed by org slug (so a request for `/orgs/{slug}` finds the caller's role
//! with the session, in one round trip). Both always carry the same role.

use super::{s, Item, ItemExt, Key, StoreError};
use crate::domain::Role;
use crate::ids::{OrgId, UserId};
use crate::store::item::time;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    /// The API keys this member created, `(key id, SHA-256 of the key)`: they die with
    /// the membership, in the same transaction.
    pub api_keys: Vec<(String, String)>,
    /// Bumped by every key created or revoked: a removal conditioned on it cannot miss
    /// a key created while it ran.
    pub api_keys_version: Option<i64>,
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
    /// A person joining now (creating the org, or accepting an invitation).
    pub fn joining(user: &crate::store::users::User, role: Role, now: DateTime<Utc>) -> Self {
        Member {
            user_id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            role,
            joined_at: now,
            api_keys: Vec::new(),
            api_keys_version: None,
        }
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Member {
            user_id: UserId::parse(item.str("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("member user_id".into()))?,
            email: item.str("email")?.to_owned(),
            name: item.str("name")?.to_owned(),
            role: role_of(item)?,
            joined_at: item.time("joined_at")?,
            api_keys: item
                .get(API_KEYS)
                .and_then(|v| v.as_ss().ok())
                .map(|set| {
                    set.iter()
                        .filter_map(|e| e.split_once(':'))
                        .map(|(id, hash)| (id.to_owned(), hash.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            api_keys_version: item.opt_num(API_KEYS_VERSION),
        })
    }

    /// The member item is still as read: same role, same API keys.
    pub fn as_read(&self) -> super::Cond {
        let cond = super::Cond::new(match self.api_keys_version {
            Some(_) => "#role = :role AND #v = :v",
            None => "#role = :role AND attribute_not_exists(#v)",
        })
        .name("#role", "role")
        .name("#v", API_KEYS_VERSION)
        .value(":role", s(self.role.as_str()));
        match self.api_keys_version {
            Some(v) => cond.value(":v", super::n(v)),
            None => cond,
        }
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

/// The most organizations one user may belong to: `/v1/me` lists them all, and every
/// request that names an org must find the caller's membership cheaply.
pub const MAX_MEMBERSHIPS_PER_USER: i64 = 1_000;

/// The error when a user would pass [`MAX_MEMBERSHIPS_PER_USER`].
pub fn too_many_memberships() -> crate::error::Error {
    crate::error::Error::conflict(
        "membership_limit",
        format!("an account can belong to at most {MAX_MEMBERSHIPS_PER_USER} organizations"),
    )
}

fn count_update(
    table: &super::Table,
    user: &UserId,
    expression: &str,
    condition: &str,
    with_max: bool,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut update = aws_sdk_dynamodb::types::Update::builder()
        .table_name(table.name())
        .set_key(Some(Key::user(user).to_item()))
        .update_expression(expression)
        .condition_expression(condition)
        .expression_attribute_names("#c", "membership_count")
        .expression_attribute_values(":one", super::n(1));
    if with_max {
        update = update
            .expression_attribute_values(":zero", super::n(0))
            .expression_attribute_values(":max", super::n(MAX_MEMBERSHIPS_PER_USER));
    }
    let update = update.build().map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
}

/// The user's count of memberships, one up, only while under the cap (its failure is
/// [`too_many_memberships`]).
pub fn joined(
    table: &super::Table,
    user: &UserId,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    count_update(
        table,
        user,
        "SET #c = if_not_exists(#c, :zero) + :one",
        "attribute_exists(pk) AND (attribute_not_exists(#c) OR #c < :max)",
        true,
    )
}

/// The user's count of memberships, one down.
pub fn left(
    table: &super::Table,
    user: &UserId,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    count_update(
        table,
        user,
        "SET #c = if_not_exists(#c, :one) - :one",
        "attribute_exists(pk)",
        false,
    )
}

const API_KEYS: &str = "api_keys";
const API_KEYS_VERSION: &str = "api_keys_version";
/// The most API keys one member may hold: removing a member revokes them all in one
/// transaction (two writes each, within DynamoDB's 100).
pub const MAX_API_KEYS_PER_MEMBER: i64 = 40;

fn api_key_entry(key_id: &str, hash: &str) -> AttributeValue {
    AttributeValue::Ss(vec![format!("{key_id}:{hash}")])
}

/// Records on the creator's member item a key they created (while under the cap).
pub fn key_created(
    table: &super::Table,
    org: &OrgId,
    creator: &UserId,
    key_id: &str,
    hash: &str,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let update = aws_sdk_dynamodb::types::Update::builder()
        .table_name(table.name())
        .set_key(Some(Key::member(org, creator).to_item()))
        .update_expression("ADD #k :entry, #v :one")
        .condition_expression(
            "attribute_exists(pk) AND (attribute_not_exists(#k) OR size(#k) < :max)",
        )
        .expression_attribute_names("#k", API_KEYS)
        .expression_attribute_names("#v", API_KEYS_VERSION)
        .expression_attribute_values(":entry", api_key_entry(key_id, hash))
        .expression_attribute_values(":one", super::n(1))
        .expression_attribute_values(":max", super::n(MAX_API_KEYS_PER_MEMBER))
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
}

/// Takes a revoked key off its creator's member item.
pub fn key_revoked(
    table: &super::Table,
    org: &OrgId,
    creator: &UserId,
    key_id: &str,
    hash: &str,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let update = aws_sdk_dynamodb::types::Update::builder()
        .table_name(table.name())
        .set_key(Some(Key::member(org, creator).to_item()))
        .update_expression("DELETE #k :entry ADD #v :one")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#k", API_KEYS)
        .expression_attribute_names("#v", API_KEYS_VERSION)
        .expression_attribute_values(":entry", api_key_entry(key_id, hash))
        .expression_attribute_values(":one", super::n(1))
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
}
