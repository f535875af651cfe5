//! Counting failed attempts at a secret (a password now; PINs and TOTP codes later) so
//! that `max` consecutive failures lock further attempts for `window`.
//!
//! An attempt is *reserved* with a conditional update before the secret is checked, and
//! the success path resets the counter. So 20 wrong guesses sent in parallel cannot get
//! more than `max` of them checked: the condition admits only `max` reservations.

use super::{n, s, Item, ItemExt, Key, StoreError, Table};
use crate::error::Error;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct AttemptLimit {
    /// Name of the counter attribute; `<counter>_at` holds the time of the last reservation.
    pub counter: &'static str,
    pub max: i64,
    pub window: Duration,
}

pub const LOGIN: AttemptLimit = AttemptLimit {
    counter: "login_failures",
    max: 5,
    window: Duration::minutes(15),
};

/// Second-factor checks (TOTP or backup code, and the password when disabling 2FA).
pub const TWO_FACTOR: AttemptLimit = AttemptLimit {
    counter: "two_factor_failures",
    max: 5,
    window: Duration::minutes(15),
};

/// Wrong PINs of an organization (any member's): counted on the org item.
pub const PIN: AttemptLimit = AttemptLimit {
    counter: "pin_failures",
    max: 5,
    window: Duration::minutes(15),
};

pub enum Reservation {
    /// The attempt may proceed; the item as it is after the reservation.
    Granted(Item),
    Locked {
        retry_after: u64,
    },
    /// The item does not exist.
    Missing,
}

impl AttemptLimit {
    fn at_attr(&self) -> String {
        format!("{}_at", self.counter)
    }

    /// Reserves one attempt on `key`'s item.
    pub async fn reserve(
        &self,
        table: &Table,
        key: &Key,
        now: DateTime<Utc>,
    ) -> Result<Reservation, Error> {
        for _ in 0..3 {
            match self.increment(table, key, now).await? {
                Ok(item) => return Ok(Reservation::Granted(item)),
                Err(None) => return Ok(Reservation::Missing),
                Err(Some(old)) => {
                    let last = old
                        .opt_str(&self.at_attr())
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    let Some(last) = last.map(|t| t.with_timezone(&Utc)) else {
                        return Err(
                            StoreError::Corrupt("attempt counter without time".into()).into()
                        );
                    };
                    let unlock = last + self.window;
                    if unlock > now {
                        let retry_after = (unlock - now).num_seconds().max(1) as u64;
                        return Ok(Reservation::Locked { retry_after });
                    }
                    // The lock has expired: start counting again (one racer wins the reset).
                    if let Some(item) = self.restart(table, key, &last, now).await? {
                        return Ok(Reservation::Granted(item));
                    }
                }
            }
        }
        Err(Error::Internal("attempt counter stayed contended".into()))
    }

    /// `Ok(item)` when reserved; `Err(Some(old))` when over the limit; `Err(None)` when missing.
    async fn increment(
        &self,
        table: &Table,
        key: &Key,
        now: DateTime<Utc>,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        let result = table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(key.to_item()))
            .update_expression("SET #c = if_not_exists(#c, :zero) + :one, #at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#c) OR #c < :max)",
            )
            .expression_attribute_names("#c", self.counter)
            .expression_attribute_names("#at", self.at_attr())
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(self.max))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(err)) => match err.err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Err(failed.item.clone()))
                }
                _ => Err(SdkError::ServiceError(err).into()),
            },
            Err(other) => Err(other.into()),
        }
    }

    async fn restart(
        &self,
        table: &Table,
        key: &Key,
        last: &DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Item>, StoreError> {
        let result = table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(key.to_item()))
            .update_expression("SET #c = :one, #at = :now")
            .condition_expression("#at = :last")
            .expression_attribute_names("#c", self.counter)
            .expression_attribute_names("#at", self.at_attr())
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":last", s(last.to_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes),
            Err(SdkError::ServiceError(err))
                if matches!(
                    err.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }
}
