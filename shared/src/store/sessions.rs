//! Login sessions: stored under the user, with the SHA-256 of the token's secret.
//! Idle timeout 7 days, absolute 30 days; `last_seen_at` is written at most once a minute.

use super::{n, s, Item, ItemExt, Key, StoreError, Table};
use crate::client_info::ClientInfo;
use crate::crypto::constant_time_eq;
use crate::ids::{SessionId, UserId};
use crate::store::item::time;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use chrono::{DateTime, Duration, Utc};

pub const IDLE_TIMEOUT: Duration = Duration::days(7);
pub const ABSOLUTE_TIMEOUT: Duration = Duration::days(30);
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

#[derive(Clone, Debug)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("session {what}"));
        Ok(Session {
            id: SessionId::parse(item.str("session_id")?).ok_or_else(|| corrupt("id"))?,
            user_id: UserId::parse(item.str("user_id")?).ok_or_else(|| corrupt("user"))?,
            created_at: item.time("created_at")?,
            last_seen_at: item.time("last_seen_at")?,
            expires_at: item.time("expires_at")?,
            ip: item.opt_str("ip").map(str::to_owned),
            user_agent: item.opt_str("user_agent").map(str::to_owned),
        })
    }

    /// Valid now: neither past its absolute expiry nor idle for too long.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at && now < self.last_seen_at + IDLE_TIMEOUT
    }

    /// The session if `item` exists, matches the token's secret and is live.
    pub fn verify(item: Option<&Item>, secret_hash: &str, now: DateTime<Utc>) -> Option<Session> {
        let item = item?;
        if !constant_time_eq(item.opt_str("token_hash")?, secret_hash) {
            return None;
        }
        Session::from_item(item)
            .ok()
            .filter(|session| session.is_live(now))
    }
}

/// When DynamoDB may drop the item: the earlier of the absolute and idle expiries.
fn ttl(expires_at: DateTime<Utc>, last_seen_at: DateTime<Utc>) -> i64 {
    expires_at.min(last_seen_at + IDLE_TIMEOUT).timestamp()
}

pub fn new_item(
    user: &UserId,
    id: &SessionId,
    secret_hash: &str,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Item {
    let mut item = Key::session(user, id).to_item();
    let expires_at = now + ABSOLUTE_TIMEOUT;
    item.insert("session_id".into(), s(id.as_str()));
    item.insert("user_id".into(), s(user.as_str()));
    item.insert("token_hash".into(), s(secret_hash));
    item.insert("created_at".into(), time(now));
    item.insert("last_seen_at".into(), time(now));
    item.insert("expires_at".into(), time(expires_at));
    item.insert("ttl".into(), n(ttl(expires_at, now)));
    if let Some(ip) = &client.ip {
        item.insert("ip".into(), s(ip));
    }
    if let Some(ua) = &client.user_agent {
        item.insert("user_agent".into(), s(ua));
    }
    item
}

/// Records activity, at most once a minute; a racing request that already did is fine.
pub async fn touch_if_stale(
    table: &Table,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if now - session.last_seen_at < TOUCH_INTERVAL {
        return Ok(());
    }
    let result = table
        .client()
        .update_item()
        .table_name(table.name())
        .set_key(Some(Key::session(&session.user_id, &session.id).to_item()))
        .update_expression("SET last_seen_at = :now, #ttl = :ttl")
        .condition_expression("attribute_exists(pk) AND last_seen_at < :stale")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":now", time(now))
        .expression_attribute_values(":ttl", n(ttl(session.expires_at, now)))
        .expression_attribute_values(":stale", time(now - TOUCH_INTERVAL))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(err))
            if matches!(
                err.err(),
                UpdateItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}
