//! Memberships, stored twice in one transaction: under the org (the team list) and under
//! the user, keyed by org slug (so a request for `/orgs/{slug}` finds the caller's role
//! with the session, in one round trip). Both always carry the same role.

use super::{n, s, update_with, Cond, Item, ItemExt, Key, StoreError, Table};
use crate::domain::Role;
use crate::ids::{OrgId, UserId};
use crate::store::item::time;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
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

pub fn role_of(item: &Item) -> Result<Role, StoreError> {
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
    pub fn as_read(&self) -> Cond {
        let cond = Cond::new(match self.api_keys_version {
            Some(_) => "#role = :role AND #v = :v",
            None => "#role = :role AND attribute_not_exists(#v)",
        })
        .name("#role", "role")
        .name("#v", API_KEYS_VERSION)
        .value(":role", s(self.role.as_str()));
        match self.api_keys_version {
            Some(v) => cond.value(":v", n(v)),
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
    table: &Table,
    key: &Key,
    new: Role,
    old: Role,
) -> Result<TransactWriteItem, StoreError> {
    let cond = Cond::new("#role = :old")
        .name("#role", "role")
        .value(":new", s(new.as_str()))
        .value(":old", s(old.as_str()));
    update_with(table, key, "SET #role = :new", &cond)
}

/// A member's role from `old` to `new`, on the membership as read (`item`): its role and
/// when it began (a member who left and joined again meanwhile is another membership).
pub fn set_role_of_member(
    table: &Table,
    item: &Item,
    new: Role,
    old: Role,
) -> Result<TransactWriteItem, StoreError> {
    let joined = item
        .get("joined_at")
        .cloned()
        .ok_or_else(|| StoreError::Corrupt("member joined_at".into()))?;
    let cond = Cond::new("#role = :old AND joined_at = :joined")
        .name("#role", "role")
        .value(":new", s(new.as_str()))
        .value(":old", s(old.as_str()))
        .value(":joined", joined);
    update_with(table, &Key::of(item)?, "SET #role = :new", &cond)
}

/// The most organizations one user may belong to: `/v1/me` lists them all, and every
/// request that names an org must find the caller's membership cheaply.
pub const MAX_MEMBERSHIPS_PER_USER: i64 = 1_000;

fn membership_count(condition: &str) -> Cond {
    Cond::new(condition)
        .name("#c", "membership_count")
        .value(":one", n(1))
}

/// The user's count of memberships, one up, only while under the cap (its failure is
/// `founding::too_many_memberships`).
pub fn joined(table: &Table, user: &UserId) -> Result<TransactWriteItem, StoreError> {
    let cond = membership_count("attribute_exists(pk) AND (attribute_not_exists(#c) OR #c < :max)")
        .value(":zero", n(0))
        .value(":max", n(MAX_MEMBERSHIPS_PER_USER));
    update_with(
        table,
        &Key::user(user),
        "SET #c = if_not_exists(#c, :zero) + :one",
        &cond,
    )
}

/// The user's count of memberships, one down.
pub fn left(table: &Table, user: &UserId) -> Result<TransactWriteItem, StoreError> {
    let cond = membership_count("attribute_exists(pk)");
    update_with(
        table,
        &Key::user(user),
        "SET #c = if_not_exists(#c, :one) - :one",
        &cond,
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

fn api_keys_of(condition: &str, key_id: &str, hash: &str) -> Cond {
    Cond::new(condition)
        .name("#k", API_KEYS)
        .name("#v", API_KEYS_VERSION)
        .value(":entry", api_key_entry(key_id, hash))
        .value(":one", n(1))
}

/// Records on the creator's member item a key they created (while under the cap).
pub fn key_created(
    table: &Table,
    org: &OrgId,
    creator: &UserId,
    key_id: &str,
    hash: &str,
) -> Result<TransactWriteItem, StoreError> {
    let cond = api_keys_of(
        "attribute_exists(pk) AND (attribute_not_exists(#k) OR size(#k) < :max)",
        key_id,
        hash,
    )
    .value(":max", n(MAX_API_KEYS_PER_MEMBER));
    update_with(
        table,
        &Key::member(org, creator),
        "ADD #k :entry, #v :one",
        &cond,
    )
}

/// Takes a revoked key off its creator's member item.
pub fn key_revoked(
    table: &Table,
    org: &OrgId,
    creator: &UserId,
    key_id: &str,
    hash: &str,
) -> Result<TransactWriteItem, StoreError> {
    let cond = api_keys_of("attribute_exists(pk)", key_id, hash);
    update_with(
        table,
        &Key::member(org, creator),
        "DELETE #k :entry ADD #v :one",
        &cond,
    )
}
