//! How many organizations a person may create: [`PER_DAY`] a (UTC) day and [`IN_ALL`]
//! over the account's life — each org is a Route53 record and a slug, and one fresh
//! account must not mint them by the thousand. Counted on the profile by the same
//! update that counts the founder's new membership (a transaction touches the profile
//! once), under conditions that hold what was read.

use crate::error::Error;
use crate::ids::UserId;
use crate::store::members::MAX_MEMBERSHIPS_PER_USER;
use crate::store::{n, update_with, Cond, Item, ItemExt, Key, Table};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Days, Utc};

/// The error when a user would pass [`MAX_MEMBERSHIPS_PER_USER`] (founding an org or
/// joining one).
pub fn too_many_memberships() -> Error {
    Error::conflict(
        "membership_limit",
        format!("an account can belong to at most {MAX_MEMBERSHIPS_PER_USER} organizations"),
    )
}

/// Organizations one person may create in a UTC day.
pub const PER_DAY: i64 = 10;
/// Organizations one person may create over the account's life.
pub const IN_ALL: i64 = 100;

/// The profile update of `user` creating an organization at `now`, decided on the
/// profile as read — or why they may not (429 until tomorrow, 409 past the other caps).
pub fn founding(
    table: &Table,
    user: &UserId,
    profile: &Item,
    now: DateTime<Utc>,
) -> Result<TransactWriteItem, Error> {
    let count = |attr: &str| profile.opt_num(attr).unwrap_or(0);
    if count("membership_count") >= MAX_MEMBERSHIPS_PER_USER {
        return Err(too_many_memberships());
    }
    if count("orgs_created") >= IN_ALL {
        return Err(Error::conflict(
            "org_limit",
            format!("an account can create at most {IN_ALL} organizations"),
        ));
    }
    // One counter a day, in an attribute named by the day: no branch on what day the
    // last one was, so concurrent first creations of a day cannot trip each other. The
    // counters of past days seen on the profile go in the same update.
    let today = day_attribute(now);
    if count(&today) >= PER_DAY {
        let tomorrow = now
            .date_naive()
            .checked_add_days(Days::new(1))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .unwrap_or(now);
        return Err(Error::RateLimited {
            retry_after: (tomorrow - now).num_seconds().max(1) as u64,
        });
    }
    let mut cond = Cond::new(
        "attribute_exists(pk) AND (attribute_not_exists(#c) OR #c < :max_memberships) \
         AND (attribute_not_exists(#a) OR #a < :in_all) \
         AND (attribute_not_exists(#t) OR #t < :per_day)",
    )
    .name("#c", "membership_count")
    .name("#a", "orgs_created")
    .name("#t", &today)
    .value(":zero", n(0))
    .value(":one", n(1))
    .value(":max_memberships", n(MAX_MEMBERSHIPS_PER_USER))
    .value(":in_all", n(IN_ALL))
    .value(":per_day", n(PER_DAY));
    let mut past = Vec::new();
    for (i, attr) in profile
        .keys()
        .filter(|a| a.starts_with(DAY_PREFIX) && **a != today)
        .enumerate()
    {
        cond = cond.name(&format!("#p{i}"), attr);
        past.push(format!("#p{i}"));
    }
    let mut expression = String::from(
        "SET #c = if_not_exists(#c, :zero) + :one, #a = if_not_exists(#a, :zero) + :one, \
         #t = if_not_exists(#t, :zero) + :one",
    );
    if !past.is_empty() {
        expression.push_str(&format!(" REMOVE {}", past.join(", ")));
    }
    Ok(update_with(table, &Key::user(user), &expression, &cond)?)
}

const DAY_PREFIX: &str = "orgs_created_on_";

/// The profile attribute counting the orgs created on `now`'s UTC day.
pub fn day_attribute(now: DateTime<Utc>) -> String {
    format!("{DAY_PREFIX}{}", now.format("%Y-%m-%d"))
}
