//! The single DynamoDB table. Every item of an organization or a user has that id in its
//! partition key; global lookup items (`SLUG#`, `EMAIL#`) hold only a pointer to their
//! owner. Access patterns are listed in `docs/data-model.md`.
//!
//! No `Scan` anywhere: point reads are (batch) gets, lists are one `Query` per page, and
//! every invariant that spans items is one `TransactWriteItems` with conditions.

pub mod cursor;
pub mod invitations;
pub mod item;
pub mod keys;
pub mod members;
pub mod orgs;
pub mod sessions;
pub mod users;

pub mod write;

pub use item::{n, s, ItemExt};
pub use keys::Key;
pub use write::{check, delete, delete_if, put, put_if, update_if, update_with, Cond};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, WriteRequest};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// The most keys one `BatchGetItem` may ask for.
const BATCH_GET_MAX: usize = 100;
/// The most puts and deletes one `BatchWriteItem` may carry.
const BATCH_WRITE_MAX: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Aws(String),
    /// A transaction was cancelled; one reason code per item in request order
    /// (`ConditionalCheckFailed`, `TransactionConflict`, `None`, ...).
    #[error("transaction cancelled: {0:?}")]
    Cancelled(Vec<String>),
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

impl<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug> From<SdkError<E, R>>
    for StoreError
{
    fn from(err: SdkError<E, R>) -> Self {
        crate::aws::AwsError::from(err).into()
    }
}

impl From<crate::aws::AwsError> for StoreError {
    fn from(err: crate::aws::AwsError) -> Self {
        StoreError::Aws(err.0)
    }
}

#[derive(Clone)]
pub struct Table {
    client: crate::aws::LazyDynamoDb,
    name: String,
}

impl Table {
    pub fn new(client: crate::aws::LazyDynamoDb, name: String) -> Self {
        Table { client, name }
    }

    /// The client, built by the first call that needs it.
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.client.client()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Strongly consistent point read.
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    /// Strongly consistent read of several items in one round trip: one `BatchGetItem`
    /// per 100 keys (the most it takes), side by side, plus retries of the keys DynamoDB
    /// left unprocessed under throttling, with backoff.
    pub async fn get_many(&self, keys: &[Key]) -> Result<HashMap<Key, Item>, StoreError> {
        let unique = unique(keys);
        let chunks = futures_util::future::try_join_all(
            unique
                .chunks(BATCH_GET_MAX)
                .map(|chunk| self.get_chunk(chunk)),
        )
        .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    /// `get_many` of at most 100 keys.
    async fn get_chunk(&self, chunk: &[Key]) -> Result<HashMap<Key, Item>, StoreError> {
        let mut found = HashMap::new();
        let mut pending: Vec<Item> = chunk.iter().map(Key::to_item).collect();
        let mut retries = 0u32;
        while !pending.is_empty() {
            if retries > 0 {
                let millis = (10u64 << retries.min(6)).min(1_000);
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            }
            if retries > 10 {
                return Err(StoreError::Aws(
                    "BatchGetItem left keys unprocessed after 10 retries".into(),
                ));
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Aws(e.to_string()))?;
            let out = self
                .client()
                .batch_get_item()
                .request_items(&self.name, request)
                .send()
                .await?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.name))
                .unwrap_or_default()
            {
                found.insert(Key::of(&item)?, item);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.name))
                .map(|k| k.keys)
                .unwrap_or_default();
            retries += 1;
        }
        Ok(found)
    }

    /// Puts and deletes of unrelated items, 25 to a `BatchWriteItem` (the most it takes),
    /// retrying what DynamoDB left unprocessed under throttling, with backoff. Not atomic:
    /// for idempotent work only (a deletion that a rerun finishes).
    pub async fn write_many(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk.to_vec();
            let mut retries = 0u32;
            while !pending.is_empty() {
                if retries > 10 {
                    return Err(StoreError::Aws(
                        "BatchWriteItem left items unprocessed after 10 retries".into(),
                    ));
                }
                if retries > 0 {
                    let millis = (10u64 << retries.min(6)).min(1_000);
                    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
                }
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(&self.name, pending)
                    .send()
                    .await?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.name))
                    .unwrap_or_default();
                retries += 1;
            }
        }
        Ok(())
    }

    /// One page of a partition, items whose sort key starts with `prefix`.
    pub async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        limit: i32,
        start: Option<Item>,
        newest_first: bool,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client()
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .scan_index_forward(!newest_first)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Every item of a partition with a sort-key prefix (bounded sets only: sessions of a user).
    pub async fn query_all(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.query_prefix(pk, prefix, 200, start, false).await?;
            items.extend(page);
            match next {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// Every item of a partition whose sort key lies in `from..=to`, strongly consistent
    /// (bounded sets only): several kinds of a user's items in one round trip.
    pub async fn query_range(
        &self,
        pk: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// `expression` on `key` while the item exists: `None` (and no change) when it is gone,
    /// e.g. taken off by a concurrent consumer. Returns the item as updated.
    pub async fn update_existing(
        &self,
        key: &Key,
        expression: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Option<Item>, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(&self.name)
            .set_key(Some(key.to_item()))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        for (placeholder, value) in values {
            update = update.expression_attribute_values(*placeholder, value.clone());
        }
        match update.send().await {
            Ok(out) => Ok(out.attributes),
            Err(SdkError::ServiceError(err))
                if err.err().is_conditional_check_failed_exception() =>
            {
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// All or nothing; a cancellation reports its per-item reasons.
    pub async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    Err(StoreError::Cancelled(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect(),
                    ))
                }
                other => Err(StoreError::Aws(DisplayErrorContext(other).to_string())),
            },
            Err(other) => Err(other.into()),
        }
    }
}

fn unique(keys: &[Key]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter()
        .filter(|key| seen.insert(*key))
        .cloned()
        .collect()
}
