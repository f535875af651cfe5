//! Counting failed attempts at a secret (a password now; PINs and TOTP codes later) so
//! that `max` consecutive failures lock further attempts for `window`.
//!
//! An attempt is *reserved* with a conditional update before the secret is checked, and
//! the success path resets the counter. So 20 wrong guesses sent in parallel cannot get
//! more than `max` of them checked: the condition admits only `max` reservations.
//!
//! A count is forgotten when its last attempt is older than `window`, so "locked" means
//! `max` failures with less than `window` between them. Counters either live on an item
//! that exists (the profile, the org) or, for login throttles, in an item of their own
//! that the first attempt creates and whose TTL removes it once the window has passed
//! (the logic above does not wait for TTL, which in AWS can lag by hours).

use crate::error::Error;
use crate::store::item::time;
use crate::store::{delete, n, s, Item, ItemExt, Key, StoreError, Table};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct AttemptLimit {
    /// Name of the counter attribute; `<counter>_at` holds the time of the last reservation.
    pub counter: &'static str,
    pub max: i64,
    pub window: Duration,
    /// The counter has an item of its own (`Key::login_throttle…`), created on first use.
    pub own_item: bool,
}

/// Failed password checks per e-mail address (at login, and when setting up 2FA),
/// whether or not an account uses the address: a lockout says nothing about accounts.
pub const LOGIN: AttemptLimit = AttemptLimit {
    counter: "failures",
    max: 5,
    window: Duration::minutes(15),
    own_item: true,
};

/// Failed logins per client network (an IPv4 address or an IPv6 /64), across addresses.
pub const LOGIN_NETWORK: AttemptLimit = AttemptLimit {
    counter: "failures",
    max: 100,
    window: Duration::minutes(15),
    own_item: true,
};

/// Second-factor checks (TOTP or backup code, and the password when disabling 2FA).
pub const TWO_FACTOR: AttemptLimit = AttemptLimit {
    counter: "two_factor_failures",
    max: 5,
    window: Duration::minutes(15),
    own_item: false,
};

/// Wrong PINs of an organization (any member's): counted on the org item.
pub const PIN: AttemptLimit = AttemptLimit {
    counter: "pin_failures",
    max: 5,
    window: Duration::minutes(15),
    own_item: false,
};

/// Failed API-key authentications against an org that go into its audit log. Anyone can
/// send a made-up key, so a flood costs the org at most this many entries an hour.
pub const API_KEY_FAILURES: AttemptLimit = AttemptLimit {
    counter: "failures",
    max: 10,
    window: Duration::hours(1),
    own_item: true,
};

pub enum Reservation {
    /// The attempt may proceed; the item as it is after the reservation.
    Granted(Item),
    Locked {
        retry_after: u64,
    },
    /// The item does not exist (never for a counter with an item of its own).
    Missing,
    /// The item does not meet the reservation's precondition (`reserve_if`): nothing was
    /// reserved; the item as it is.
    Declined(Item),
}

/// Attribute values an item must have for an attempt to be reserved on it.
pub type Precondition = &'static [(&'static str, Required)];

/// An attribute's required value: `true`, or a string.
#[derive(Clone, Copy, Debug)]
pub enum Required {
    True,
    Is(&'static str),
}

impl Required {
    fn value(self) -> AttributeValue {
        match self {
            Required::True => AttributeValue::Bool(true),
            Required::Is(value) => s(value),
        }
    }
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
        self.reserve_if(table, key, &[], now).await
    }

    /// Reserves one attempt on `key`'s item if it meets `only_if` (a condition of the
    /// write, not a read before it); whatever the outcome, the item comes back with it.
    pub async fn reserve_if(
        &self,
        table: &Table,
        key: &Key,
        only_if: Precondition,
        now: DateTime<Utc>,
    ) -> Result<Reservation, Error> {
        let met = |item: &Item| {
            only_if
                .iter()
                .all(|(attr, value)| item.get(*attr) == Some(&value.value()))
        };
        for _ in 0..3 {
            match self.increment(table, key, only_if, now).await? {
                Ok(item) => return Ok(Reservation::Granted(item)),
                Err(None) => return Ok(Reservation::Missing),
                Err(Some(old)) if !met(&old) => return Ok(Reservation::Declined(old)),
                Err(Some(old)) => {
                    // As stored: the reset below is conditioned on this very text, which
                    // a version before the table's one time format wrote differently.
                    let stored = old.opt_str(&self.at_attr()).unwrap_or_default();
                    let last = DateTime::parse_from_rfc3339(stored).ok();
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
                    if let Some(item) = self.restart(table, key, only_if, stored, now).await? {
                        return Ok(Reservation::Granted(item));
                    }
                }
            }
        }
        Err(Error::Internal("attempt counter stayed contended".into()))
    }

    /// `Ok(item)` when reserved; `Err(Some(old))` when over the limit or the count is
    /// stale; `Err(None)` when missing.
    async fn increment(
        &self,
        table: &Table,
        key: &Key,
        only_if: Precondition,
        now: DateTime<Utc>,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        let exists = if self.own_item {
            ""
        } else {
            "attribute_exists(pk) AND "
        };
        let result = self
            .update(table, key, only_if, now)
            .update_expression(format!(
                "SET #c = if_not_exists(#c, :zero) + :one, #at = :now{}",
                self.ttl_clause()
            ))
            .condition_expression(format!(
                "{exists}{}(attribute_not_exists(#c) OR (#c < :max AND #at > :since))",
                preconditions(only_if)
            ))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":max", n(self.max))
            .expression_attribute_values(":since", time(now - self.window))
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

    /// An update of the counter on `key` with the placeholders every statement uses.
    fn update(
        &self,
        table: &Table,
        key: &Key,
        only_if: Precondition,
        now: DateTime<Utc>,
    ) -> UpdateItemFluentBuilder {
        let mut builder = table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(key.to_item()))
            .expression_attribute_names("#c", self.counter)
            .expression_attribute_names("#at", self.at_attr())
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", time(now));
        for (i, (attr, value)) in only_if.iter().enumerate() {
            builder = builder
                .expression_attribute_names(format!("#if{i}"), *attr)
                .expression_attribute_values(format!(":if{i}"), value.value());
        }
        if self.own_item {
            builder
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n((now + self.window).timestamp()))
        } else {
            builder
        }
    }

    /// The write, for the transaction of a success, that forgets the failures counted in
    /// an item of its own.
    pub fn forgive(&self, table: &Table, key: &Key) -> TransactWriteItem {
        delete(table, key, None)
    }

    /// The write, for the transaction of a success, that gives back the attempt reserved
    /// on a budget many accounts share: only failures count against it.
    pub fn refund(
        &self,
        table: &Table,
        key: &Key,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        Update::builder()
            .table_name(table.name())
            .set_key(Some(key.to_item()))
            .update_expression(
                "SET #c = if_not_exists(#c, :one) - :one, #at = if_not_exists(#at, :now), \
                 #ttl = if_not_exists(#ttl, :ttl)",
            )
            .expression_attribute_names("#c", self.counter)
            .expression_attribute_names("#at", self.at_attr())
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":ttl", n((now + self.window).timestamp()))
            .build()
            .map(|update| TransactWriteItem::builder().update(update).build())
            .map_err(|e| StoreError::Aws(e.to_string()))
    }

    fn ttl_clause(&self) -> &'static str {
        if self.own_item {
            ", #ttl = :ttl"
        } else {
            ""
        }
    }

    async fn restart(
        &self,
        table: &Table,
        key: &Key,
        only_if: Precondition,
        last: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .update(table, key, only_if, now)
            .update_expression(format!("SET #c = :one, #at = :now{}", self.ttl_clause()))
            .condition_expression(format!("{}#at = :last", preconditions(only_if)))
            .expression_attribute_values(":last", s(last))
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

/// `#if0 = :if0 AND #if1 = :if1 AND ` for `update`'s placeholders.
fn preconditions(only_if: Precondition) -> String {
    (0..only_if.len())
        .map(|i| format!("#if{i} = :if{i} AND "))
        .collect()
}

/// The budgets a password check spends: the e-mail address's (`LOGIN`) and, at login, the
/// client network's (`LOGIN_NETWORK`).
pub struct LoginThrottle {
    email: Option<Key>,
    network: Option<Key>,
    now: DateTime<Utc>,
}

impl LoginThrottle {
    /// `email` is the normalised address (None when it does not parse: no account can
    /// use it, so only the network's budget applies); `network` as `ClientInfo::network`.
    pub fn new(email: Option<&str>, network: Option<&str>) -> Self {
        LoginThrottle {
            email: email.map(Key::login_throttle_of_email),
            network: network.map(Key::login_throttle_of_network),
            now: Utc::now(),
        }
    }

    /// Reserves one attempt on each budget, in parallel; 429 when either is spent. Both
    /// reservations run to the end, so a refused attempt still counts for the network.
    pub async fn reserve(&self, table: &Table) -> Result<(), Error> {
        let (email, network) = tokio::join!(
            Self::reserve_one(LOGIN, self.email.as_ref(), table, self.now),
            Self::reserve_one(LOGIN_NETWORK, self.network.as_ref(), table, self.now),
        );
        email.and(network)
    }

    async fn reserve_one(
        limit: AttemptLimit,
        key: Option<&Key>,
        table: &Table,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(key) = key else { return Ok(()) };
        match limit.reserve(table, key, now).await? {
            Reservation::Locked { retry_after } => Err(Error::RateLimited { retry_after }),
            Reservation::Granted(_) | Reservation::Missing | Reservation::Declined(_) => Ok(()),
        }
    }

    /// The writes of a right password, for its transaction: the address's failures are
    /// forgotten and the network gets its attempt back.
    pub fn passed(&self, table: &Table) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut writes = Vec::new();
        if let Some(key) = &self.email {
            writes.push(LOGIN.forgive(table, key));
        }
        if let Some(key) = &self.network {
            writes.push(LOGIN_NETWORK.refund(table, key, self.now)?);
        }
        Ok(writes)
    }
}
