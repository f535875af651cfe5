//! Reading and writing attribute values without `unwrap`: a missing or mistyped
//! attribute in a stored item is a `StoreError::Corrupt`, never a panic.

use super::{Item, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Now, at the precision the table keeps times (`time`: milliseconds), so that what an
/// answer shows of a write is what a later read shows.
pub fn stored_now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}

pub fn time(value: DateTime<Utc>) -> AttributeValue {
    s(value.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub trait ItemExt {
    fn str(&self, name: &str) -> Result<&str, StoreError>;
    fn opt_str(&self, name: &str) -> Option<&str>;
    fn num(&self, name: &str) -> Result<i64, StoreError>;
    fn opt_num(&self, name: &str) -> Option<i64>;
    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError>;
    fn flag(&self, name: &str) -> bool;
}

impl ItemExt for Item {
    fn str(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_str(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing string attribute {name}")))
    }

    fn opt_str(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }

    fn num(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_num(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing number attribute {name}")))
    }

    fn opt_num(&self, name: &str) -> Option<i64> {
        self.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(self.str(name)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a timestamp")))
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(AttributeValue::Bool(true)))
    }
}
