//! A person's account: the profile item and the e-mail pointer that makes addresses unique.

use super::{s, Item, ItemExt, Key, StoreError, Table};
use crate::domain::{Email, Name, PasswordHash};
use crate::ids::UserId;
use crate::store::item::time;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub two_factor_enabled: bool,
    /// The account proved it receives mail at `email` (`email_verification`).
    pub email_verified: bool,
}

impl User {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::parse(item.str("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("user_id".into()))?,
            email: item.str("email")?.to_owned(),
            name: item.str("name")?.to_owned(),
            created_at: item.time("created_at")?,
            two_factor_enabled: item.flag("two_factor_enabled"),
            email_verified: item.flag("email_verified"),
        })
    }

    pub fn password_hash(item: &Item) -> Result<PasswordHash, StoreError> {
        Ok(PasswordHash(item.str("password_hash")?.to_owned()))
    }
}

pub fn profile_item(
    id: &UserId,
    email: &Email,
    name: &Name,
    hash: &PasswordHash,
    now: DateTime<Utc>,
) -> Item {
    let mut item = Key::user(id).to_item();
    item.insert("user_id".into(), s(id.as_str()));
    item.insert("email".into(), s(email.as_str()));
    item.insert("name".into(), s(name.as_str()));
    item.insert("password_hash".into(), s(&hash.0));
    item.insert("created_at".into(), time(now));
    item.insert("two_factor_enabled".into(), AttributeValue::Bool(false));
    item.insert("email_verified".into(), AttributeValue::Bool(false));
    item
}

pub fn email_pointer(email: &Email, id: &UserId) -> Item {
    let mut item = Key::email(email.as_str()).to_item();
    item.insert("user_id".into(), s(id.as_str()));
    item
}

pub fn user_id_of_pointer(item: &Item) -> Result<UserId, StoreError> {
    UserId::parse(item.str("user_id")?).ok_or_else(|| StoreError::Corrupt("email pointer".into()))
}

pub async fn id_by_email(table: &Table, email: &Email) -> Result<Option<UserId>, StoreError> {
    table
        .get(&Key::email(email.as_str()))
        .await?
        .map(|item| user_id_of_pointer(&item))
        .transpose()
}
