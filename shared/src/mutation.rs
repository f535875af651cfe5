//! The one place every mutation goes through: the change, its audit entry and (when the
//! change is a webhook event or needs a platform DNS record) its outbox entry are written
//! in a single `TransactWriteItems`. If the change committed, its audit entry and its
//! outbox message exist.
//!
//! The audit chain's head (`audit_seq`, `audit_hash`) lives on the chain owner's item
//! (the organization item, or the user's profile). The transaction advances it with a
//! condition on the sequence it read, so two concurrent changes cannot fork the chain:
//! the loser re-reads the head and tries again. Changes to the owner item itself
//! (renaming an org, resetting a login counter) are merged into that same update,
//! because a transaction may touch each item only once.
//!
//! What the handler decided from what it read is a condition of the very write that acts
//! on it, on every attempt — also when the commit is retried against a new chain head:
//! `decided_on` pins an attribute of the owner item as read (PIN protection on/off), and
//! `guard` adds a condition check on another item (the caller's membership and role as
//! read). If one of them no longer holds, the commit fails with `CommitError::Changed`
//! instead of acting on a stale decision.

use crate::audit::{AuditDraft, AuditEntry, GENESIS_HASH};
use crate::audit_log;
use crate::error::Error;
use crate::outbox::Outboxed;
use crate::store::item::time;
use crate::store::keys::AUDIT_PREFIX;
use crate::store::write::UpdateExpression;
use crate::store::{check, n, put, s, Cond, Item, ItemExt, Key, StoreError, Table};
use crate::AppState;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::Utc;
use std::collections::HashMap;

/// Attempts before a change that keeps losing the race for the audit chain gives up
/// (with a 409 the client may retry); each retry waits a little, with jitter.
const MAX_CHAIN_ATTEMPTS: u32 = 10;

enum Head {
    Moved,
    Changed,
    Same,
}

/// The item a transaction write touches.
fn key_of(write: &TransactWriteItem) -> Option<Key> {
    let key = match write {
        TransactWriteItem { put: Some(p), .. } => return Key::of(p.item()).ok(),
        TransactWriteItem {
            update: Some(u), ..
        } => u.key(),
        TransactWriteItem {
            delete: Some(d), ..
        } => d.key(),
        TransactWriteItem {
            condition_check: Some(c),
            ..
        } => c.key(),
        _ => return None,
    };
    Key::of(key).ok()
}

/// The item whose audit chain records the change.
pub enum ChainOwner {
    /// An existing item, with the head read earlier in the request.
    Existing {
        key: Key,
        seq: u64,
        hash: String,
        /// How long the owner's entries are kept (an org's, by plan); `None`: for good.
        retention_days: Option<i64>,
    },
    /// An item created by this very change (signup, creating an organization).
    Creating(Item),
}

impl ChainOwner {
    pub fn existing(key: Key, item: &Item) -> Self {
        ChainOwner::Existing {
            retention_days: retention_of(item),
            seq: item.opt_num("audit_seq").unwrap_or(0) as u64,
            hash: item
                .opt_str("audit_hash")
                .unwrap_or(GENESIS_HASH)
                .to_owned(),
            key,
        }
    }

    fn retention_days(&self) -> Option<i64> {
        match self {
            ChainOwner::Existing { retention_days, .. } => *retention_days,
            ChainOwner::Creating(item) => retention_of(item),
        }
    }

    pub(crate) fn pk(&self) -> Result<String, StoreError> {
        match self {
            ChainOwner::Existing { key, .. } => Ok(key.pk.clone()),
            ChainOwner::Creating(item) => Ok(item.str("pk")?.to_owned()),
        }
    }
}

/// An organization's retention of audit entries, from its plan (users' entries: `None`).
fn retention_of(item: &Item) -> Option<i64> {
    let plan = item.opt_str("plan")?;
    Some(audit_log::retention_days(
        plan,
        item.opt_num("audit_retention_days"),
    ))
}

/// The name of a write added without one (`Mutation::write`).
pub const UNNAMED: &str = "unnamed";

/// Why a mutation did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The owner item no longer exists or a condition added with `require` failed.
    #[error("a condition on the owner item failed")]
    Owner,
    /// The condition of the write added as `write_named(name, …)` failed (e.g. a
    /// uniqueness reservation exists); `UNNAMED` for one added with `write`.
    #[error("the condition of the write {0:?} failed")]
    Conflict(&'static str),
    /// Other changes to the same owner kept winning the race for its audit chain.
    #[error("the resource is being changed by other requests")]
    Contended,
    /// Something the handler decided on (a `decided_on` attribute, a `guard`) changed
    /// between the read and the commit: nothing was done.
    #[error("what this request was decided on changed while it ran")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling = 5 * u64::from(attempt);
    let millis = rand::thread_rng().gen_range(1..=ceiling);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

impl From<CommitError> for Error {
    fn from(err: CommitError) -> Self {
        match err {
            CommitError::Store(store) => Error::Store(store),
            CommitError::Changed => Error::conflict(
                "conflict",
                "the organization or your access to it changed while this request ran \
                 (a role, PIN protection); nothing was done — retry",
            ),
            // The handler maps the conditions it expects; one it did not expect means
            // the state changed under the request.
            other => Error::conflict(
                "conflict",
                format!("the resource changed concurrently; retry ({other})"),
            ),
        }
    }
}

pub struct Mutation {
    owner: ChainOwner,
    owner_update: UpdateExpression,
    /// Owner attributes as the handler read them: `None` for absent.
    decided: Vec<(String, Option<AttributeValue>)>,
    /// Condition checks on other items; one on an item that a write also touches is
    /// left out (a transaction touches each item once), that write's own condition
    /// must then say the same.
    guards: Vec<(Key, Cond)>,
    writes: Vec<(&'static str, TransactWriteItem)>,
    /// The change's audit entry first, then any it implies, appended in this order.
    audit: Vec<AuditDraft>,
    /// Outbox messages written with the change (an event, e-mails), relayed after commit.
    outboxed: Vec<Outboxed>,
}

impl Mutation {
    pub fn new(owner: ChainOwner, audit: AuditDraft) -> Self {
        Mutation {
            owner,
            owner_update: UpdateExpression::default(),
            decided: Vec::new(),
            guards: Vec::new(),
            writes: Vec::new(),
            audit: vec![audit],
            outboxed: Vec::new(),
        }
    }

    /// What the audit entry records about the change (never a secret).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.audit[0] = self.audit[0].clone().details(details);
        self
    }

    /// One more audit entry for the same change (e.g. "backup code used" with a login).
    pub fn and_audit(mut self, draft: AuditDraft) -> Self {
        self.audit.push(draft);
        self
    }

    /// Records the change as a failed attempt (`outcome: failure`).
    pub fn failed(mut self) -> Self {
        self.audit[0] = self.audit[0].clone().failed();
        self
    }

    /// A refused request: records its audit entry as a failed attempt and answers
    /// `error` — or why even the record could not be written.
    pub async fn refuse(self, state: &AppState, error: crate::error::Error) -> crate::error::Error {
        match self.failed().commit(state).await {
            Ok(_) => error,
            Err(e) => e.into(),
        }
    }

    /// `SET attr = value` on the (existing) owner item.
    pub fn set(mut self, attr: &str, value: AttributeValue) -> Self {
        let (name, value) = (self.owner_update.name(attr), self.owner_update.value(value));
        self.owner_update.sets.push(format!("{name} = {value}"));
        self
    }

    /// `SET attr = attr + delta` on the owner item.
    pub fn add(mut self, attr: &str, delta: i64) -> Self {
        let (name, value) = (
            self.owner_update.name(attr),
            self.owner_update.value(n(delta)),
        );
        self.owner_update
            .sets
            .push(format!("{name} = {name} + {value}"));
        self
    }

    pub fn remove(mut self, attr: &str) -> Self {
        let name = self.owner_update.name(attr);
        self.owner_update.removes.push(name);
        self
    }

    /// A condition on the owner item: `attr <op> value` (e.g. `status = active`).
    pub fn require(mut self, attr: &str, op: &str, value: AttributeValue) -> Self {
        let (name, value) = (self.owner_update.name(attr), self.owner_update.value(value));
        self.owner_update
            .conditions
            .push(format!("{name} {op} {value}"));
        self
    }

    /// The handler decided on `attr` of the owner item as it read it (`None`: absent):
    /// the commit holds only while it still is so.
    pub fn decided_on(mut self, attr: &str, as_read: Option<AttributeValue>) -> Self {
        let name = self.owner_update.name(attr);
        let condition = match &as_read {
            Some(value) => {
                let value = self.owner_update.value(value.clone());
                format!("{name} = {value}")
            }
            None => format!("attribute_not_exists({name})"),
        };
        self.owner_update.conditions.push(condition);
        self.decided.push((attr.to_owned(), as_read));
        self
    }

    /// The commit holds only while `cond` holds on `key` (e.g. the caller's role as read).
    pub fn guard(mut self, key: Key, cond: Cond) -> Self {
        self.guards.push((key, cond));
        self
    }

    /// Another item changed by the same transaction, whose condition the handler does
    /// not tell apart from the others' (`CommitError::Conflict(UNNAMED)`).
    pub fn write(self, write: TransactWriteItem) -> Self {
        self.write_named(UNNAMED, write)
    }

    /// Another item changed by the same transaction; when its condition fails, the
    /// commit fails with `CommitError::Conflict(name)`. Handlers declare the names beside
    /// the writes they build (`const SLUG_TAKEN: &str = "slug_taken"`).
    pub fn write_named(mut self, name: &'static str, write: TransactWriteItem) -> Self {
        self.writes.push((name, write));
        self
    }

    pub fn writes(self, writes: impl IntoIterator<Item = TransactWriteItem>) -> Self {
        writes.into_iter().fold(self, Mutation::write)
    }

    /// Writes named as `write_named` names one.
    pub fn writes_named(
        self,
        writes: impl IntoIterator<Item = (&'static str, TransactWriteItem)>,
    ) -> Self {
        writes.into_iter().fold(self, |mutation, (name, write)| {
            mutation.write_named(name, write)
        })
    }

    /// An outbox message written with the change: a webhook event, a platform record, a
    /// job for a worker or an e-mail (several may go with one change).
    pub fn emit(mut self, message: impl Into<Outboxed>) -> Self {
        self.outboxed.push(message.into());
        self
    }

    /// Commits, retrying only when another change advanced the audit chain first; then
    /// relays the event. Returns the committed audit entry of the change.
    pub async fn commit(mut self, state: &AppState) -> Result<AuditEntry, CommitError> {
        for attempt in 0..MAX_CHAIN_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut entries = self.entries();
            let table = &state.table;
            let mut items = Vec::with_capacity(entries.len() + self.writes.len() + 2);
            if let Some(last) = entries.last() {
                items.push(self.owner_write(table, last)?);
            }
            for entry in &entries {
                items.push(self.audit_write(table, entry)?);
            }
            for message in &self.outboxed {
                items.push(put(
                    &state.table,
                    message.outbox_item(),
                    "attribute_not_exists(pk)",
                )?);
            }
            let written: Vec<Key> = self.writes.iter().filter_map(|(_, w)| key_of(w)).collect();
            let guarded = items.len();
            for (key, cond) in &self.guards {
                if !written.contains(key) {
                    items.push(check(&state.table, key, cond)?);
                }
            }
            let fixed = items.len();
            items.extend(self.writes.iter().map(|(_, write)| write.clone()));
            #[cfg(feature = "test-hooks")]
            crate::test_hooks::before_commit(self.audit[0].action, &self.owner.pk()?).await;
            match state.table.transact(items).await {
                Ok(()) => {
                    for message in &self.outboxed {
                        state.events.relay_committed(message).await;
                    }
                    return Ok(entries.swap_remove(0));
                }
                Err(StoreError::Cancelled(reasons)) => {
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .is_some_and(|r| r == "ConditionalCheckFailed")
                    };
                    if let Some(i) = (fixed..reasons.len()).find(|&i| failed(i)) {
                        return Err(CommitError::Conflict(self.writes[i - fixed].0));
                    }
                    if (guarded..fixed).any(failed) {
                        return Err(CommitError::Changed);
                    }
                    if failed(0) {
                        match self.reload_head(&state.table).await? {
                            Head::Moved => {}
                            Head::Changed => return Err(CommitError::Changed),
                            Head::Same => return Err(CommitError::Owner),
                        }
                    }
                    // The head moved, or DynamoDB reported a transaction conflict: retry.
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(CommitError::Contended)
    }

    /// The entries, each linked to the one before, the first to the owner's head.
    fn entries(&self) -> Vec<AuditEntry> {
        let (mut seq, mut hash) = match &self.owner {
            ChainOwner::Existing { seq, hash, .. } => (*seq, hash.clone()),
            ChainOwner::Creating(_) => (0, GENESIS_HASH.to_owned()),
        };
        let now = Utc::now();
        let mut entries = Vec::with_capacity(self.audit.len());
        for draft in &self.audit {
            seq += 1;
            let entry = AuditEntry::from_draft(draft.clone(), seq, &hash, now);
            hash = entry.hash();
            entries.push(entry);
        }
        entries
    }

    /// Why the owner's condition failed: the chain head moved (retry), a decision no
    /// longer holds, or neither (a `require` failed, or the owner is gone).
    async fn reload_head(&mut self, table: &Table) -> Result<Head, StoreError> {
        let ChainOwner::Existing { key, seq, .. } = &self.owner else {
            return Ok(Head::Same);
        };
        let Some(item) = table.get(key).await? else {
            return Ok(Head::Same);
        };
        if self
            .decided
            .iter()
            .any(|(attr, as_read)| item.get(attr) != as_read.as_ref())
        {
            return Ok(Head::Changed);
        }
        let reloaded = ChainOwner::existing(key.clone(), &item);
        let moved = matches!(&reloaded, ChainOwner::Existing { seq: new, .. } if new != seq);
        self.owner = reloaded;
        Ok(if moved { Head::Moved } else { Head::Same })
    }

    fn owner_write(
        &self,
        table: &Table,
        entry: &AuditEntry,
    ) -> Result<TransactWriteItem, StoreError> {
        let hash = entry.hash();
        match &self.owner {
            ChainOwner::Creating(item) => {
                let mut item = item.clone();
                item.insert("audit_seq".into(), n(entry.seq as i64));
                item.insert("audit_hash".into(), s(hash));
                item.insert("audit_head_at".into(), s(&entry.occurred_at));
                put(table, item, "attribute_not_exists(pk)")
            }
            ChainOwner::Existing { key, seq, .. } => {
                let mut update = self.owner_update.clone();
                let (seq_name, hash_name) = (update.name("audit_seq"), update.name("audit_hash"));
                let next = update.value(n(entry.seq as i64));
                let hash_value = update.value(s(hash));
                update.sets.push(format!("{seq_name} = {next}"));
                update.sets.push(format!("{hash_name} = {hash_value}"));
                // When the head entry was written: a check of the chain knows whether
                // the newest entries may be gone by retention rather than by deletion.
                let (at_name, at_value) = (
                    update.name("audit_head_at"),
                    update.value(s(&entry.occurred_at)),
                );
                update.sets.push(format!("{at_name} = {at_value}"));
                let head_condition = if *seq == 0 {
                    format!("attribute_not_exists({seq_name})")
                } else {
                    let expected = update.value(n(*seq as i64));
                    format!("{seq_name} = {expected}")
                };
                update
                    .conditions
                    .insert(0, format!("attribute_exists(pk) AND {head_condition}"));
                let mut expression = format!("SET {}", update.sets.join(", "));
                if !update.removes.is_empty() {
                    expression.push_str(&format!(" REMOVE {}", update.removes.join(", ")));
                }
                let built = Update::builder()
                    .table_name(table.name())
                    .set_key(Some(key.to_item()))
                    .update_expression(expression)
                    .condition_expression(update.conditions.join(" AND "))
                    .set_expression_attribute_names(Some(update.names))
                    .set_expression_attribute_values(Some(update.values))
                    .build()
                    .map_err(|e| StoreError::Aws(e.to_string()))?;
                Ok(TransactWriteItem::builder().update(built).build())
            }
        }
    }

    fn audit_write(
        &self,
        table: &Table,
        entry: &AuditEntry,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item: Item = HashMap::new();
        item.insert("pk".into(), s(self.owner.pk()?));
        item.insert("sk".into(), s(format!("{AUDIT_PREFIX}{:012}", entry.seq)));
        item.insert("id".into(), s(entry.id.as_str()));
        item.insert("occurred_at".into(), s(&entry.occurred_at));
        item.insert("action".into(), s(&entry.action));
        item.insert("actor_id".into(), s(&entry.actor.id));
        item.insert("entry".into(), s(entry.canonical()));
        item.insert("prev_hash".into(), s(&entry.prev_hash));
        item.insert("hash".into(), s(entry.hash()));
        let now = Utc::now();
        item.insert("recorded_at".into(), time(now));
        if let Some(days) = self.owner.retention_days() {
            // An org's entries: listed by the audit-log indexes, kept by plan.
            item.extend(audit_log::index_attributes(&self.owner.pk()?, entry));
            item.insert(
                "ttl".into(),
                n((now + chrono::Duration::days(days)).timestamp()),
            );
        }
        put(table, item, "attribute_not_exists(sk)")
    }
}
