//! One pass over an organization's partition, page by page. Each item is classified
//! (`Plan::add`): what points into the org from other partitions is removed before the
//! item that names it, so a run that dies between the two leaves the item, and the
//! next run finds the pointer again from it:
//!
//! - a member: the user's membership (`USER#u/MEMBERSHIP#slug`, only if it is still this
//!   org's), their count of memberships and a mail telling them the org is being deleted
//!   (in their outbox), in one transaction: a run that finds the membership released
//!   already sends no second mail;
//! - an API key: its pointer `APIKEY#<sha256>`;
//! - an invitation: the address's side and the id pointer;
//! - the custom domain: its claim, only if it is still this org's, with the release of
//!   its certificate, domain name and mapping (in the name's outbox) in one transaction;
//! - billing records: kept, given the retention TTL;
//! - the org item and the tombstone: left for the final transaction.

use crate::DeletionError;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use shared::custom_domain::{quota, DomainRecord};
use shared::ids::{OrgId, UserId};
use shared::mail::{Links, Mail};
use shared::outbox::Outboxed;
use shared::store::keys::{API_KEY_PREFIX, BILLING_PREFIX, INVITATION_PREFIX, MEMBER_PREFIX};
use shared::store::members::left;
use shared::store::{delete_if, n, put, s, Cond, Item, ItemExt, Key, StoreError};
use shared::AppState;

/// Items a page holds at most (a `BatchWriteItem` takes 25, so 20 of them a page).
const PAGE: i32 = 500;

/// The org being deleted, as its item says.
pub struct Deleting<'a> {
    pub org: &'a OrgId,
    pub slug: &'a str,
    pub name: &'a str,
    pub deleted_at: DateTime<Utc>,
    /// When the kept billing records expire.
    pub ttl: i64,
}

/// Sweeps the partition once; returns how many items it removed or changed (0: only
/// what is kept is left).
pub async fn sweep(state: &AppState, deleting: &Deleting<'_>) -> Result<usize, DeletionError> {
    let (org, ttl) = (deleting.org, deleting.ttl);
    let pk = Key::org(org).pk;
    let mut start = None;
    let mut changed = 0;
    loop {
        let page = state
            .table
            .client()
            .query()
            .table_name(state.table.name())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .consistent_read(true)
            .limit(PAGE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::from)?;
        let mut plan = Plan::default();
        for item in page.items() {
            plan.add(item, org, ttl)?;
        }
        changed += plan.carry_out(state, deleting).await?;
        if shared::test_fault_once(&format!("deletion-dies.{org}")) {
            return Err(DeletionError::Died);
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return Ok(changed),
        }
    }
}

#[derive(Default)]
struct Plan {
    /// Members whose membership (and count) is released: who, at which address.
    members: Vec<(UserId, String)>,
    /// Custom domain names whose claim is released, and the release of their edge.
    claims: Vec<(String, Option<Outboxed>)>,
    /// Global items that point into the org.
    pointers: Vec<Key>,
    /// Billing records, rewritten with their TTL.
    kept: Vec<Item>,
    /// The org's own items.
    own: Vec<Key>,
}

impl Plan {
    fn add(&mut self, item: &Item, org: &OrgId, ttl: i64) -> Result<(), StoreError> {
        let key = Key::of(item)?;
        let sk = key.sk.as_str();
        if sk == Key::org(org).sk || sk == Key::tombstone(org).sk {
            return Ok(());
        }
        if sk.starts_with(BILLING_PREFIX) {
            if item.opt_num("ttl") != Some(ttl) {
                let mut kept = item.clone();
                kept.insert("ttl".into(), n(ttl));
                self.kept.push(kept);
            }
            return Ok(());
        }
        if sk.starts_with(MEMBER_PREFIX) {
            let user = UserId::parse(item.str("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("member user_id".into()))?;
            self.members.push((user, item.str("email")?.to_owned()));
        } else if sk.starts_with(API_KEY_PREFIX) {
            self.pointers
                .push(Key::api_key_pointer(item.str("key_hash")?));
        } else if let Some(invitation) = sk.strip_prefix(INVITATION_PREFIX) {
            self.pointers.push(Key::invitee(item.str("email")?, org));
            self.pointers.push(Key::invitation_pointer(invitation));
        } else if sk == Key::custom_domain(org).sk {
            let record = DomainRecord::from_item(item)?;
            let release = record.release(org, Utc::now()).map(Outboxed::from);
            self.claims.push((record.domain, release));
        }
        self.own.push(key);
        Ok(())
    }

    /// Returns how many items it removed or changed.
    async fn carry_out(
        self,
        state: &AppState,
        deleting: &Deleting<'_>,
    ) -> Result<usize, DeletionError> {
        let org = deleting.org;
        let this_org = Cond::new("org_id = :org").value(":org", s(org.as_str()));
        let links = Links(&state.config.app_url);
        for (user, email) in &self.members {
            let mail = Outboxed::Mail(Mail::org_deletion_started(
                Key::user(user).pk,
                email,
                deleting.name,
                deleting.deleted_at,
                &links,
                Utc::now(),
            ));
            let writes = vec![
                delete_if(
                    &state.table,
                    &Key::membership(user, deleting.slug),
                    &this_org,
                )?,
                left(&state.table, user)?,
                put(&state.table, mail.outbox_item(), "attribute_not_exists(pk)")?,
            ];
            match state.table.transact(writes).await {
                Ok(()) => state.events.relay_committed(&mail).await,
                other => released(other)?,
            }
        }
        for (domain, release) in &self.claims {
            // The claim (first: a claim already gone cancels the rest) and its slot.
            let mut writes = vec![
                delete_if(&state.table, &Key::domain_claim(domain), &this_org)?,
                quota::free(&state.table)?,
            ];
            if let Some(release) = release {
                writes.push(put(
                    &state.table,
                    release.outbox_item(),
                    "attribute_not_exists(pk)",
                )?);
            }
            match (state.table.transact(writes).await, release) {
                (Ok(()), Some(release)) => state.events.relay_committed(release).await,
                (other, _) => released(other)?,
            }
        }
        let deletes = |keys: Vec<Key>| -> Result<Vec<WriteRequest>, StoreError> {
            keys.into_iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key.to_item()))
                        .build()
                        .map_err(|e| StoreError::Aws(e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect()
        };
        state.table.write_many(deletes(self.pointers)?).await?;
        let changed = self.kept.len() + self.own.len();
        let puts = self
            .kept
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Aws(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        state.table.write_many(puts).await?;
        state.table.write_many(deletes(self.own)?).await?;
        Ok(changed)
    }
}

/// A release whose condition failed was done already (by an earlier run), or the item is
/// no longer this org's: either way there is nothing left to release.
fn released(result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Err(StoreError::Cancelled(reasons))
            if reasons
                .first()
                .is_some_and(|r| r == "ConditionalCheckFailed") =>
        {
            Ok(())
        }
        other => other,
    }
}
