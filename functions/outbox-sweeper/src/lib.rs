//! The outbox sweep (on a schedule): relays events that are still in the outbox a while
//! after their commit — the relay right after commit failed or the process died before
//! it. The consumer removes an event from the outbox once fanned out, so what is left
//! here is exactly what may not have reached the queue.
//!
//! Entries are listed by age in 16 shards of the sparse `gsi1` index; each run takes the
//! oldest page of every shard. A relayed entry is counted (`relays`) and moved to the
//! back of its shard (its index sort key becomes the relay time), so entries that keep
//! coming back cannot hold newer ones up; after `MAX_RELAYS` relays an entry is parked
//! (`OUTBOX#PARKED`, logged at error level for the alarm) instead of relayed again.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use shared::store::item::time;
use shared::store::keys::{outbox_shard_name, Key, OUTBOX_PARKED, OUTBOX_SHARDS};
use shared::store::{n, s, Item, ItemExt, StoreError};
use shared::AppState;

/// Younger entries are probably on their way through the normal relay.
pub const GRACE: Duration = Duration::seconds(60);
/// The oldest entries of each shard that one run relays; the next run continues.
const PER_SHARD: i32 = 64;
/// Relays after which an entry is parked: with the grace between two, about 10 minutes
/// of an event the consumer never takes off the outbox.
pub const MAX_RELAYS: i64 = 10;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub relayed: usize,
    pub parked: usize,
}

/// One run: the shards are swept side by side (one round trip of 16 queries, not 16),
/// each shard's entries in order.
pub async fn sweep(state: &AppState, grace: Duration) -> Result<SweepReport, StoreError> {
    let now = Utc::now();
    let cutoff = (now - grace).to_rfc3339_opts(SecondsFormat::Secs, true);
    let shards = (0..OUTBOX_SHARDS).map(|shard| sweep_shard(state, shard, &cutoff, now));
    let mut report = SweepReport::default();
    for shard in futures_util::future::try_join_all(shards).await? {
        report.relayed += shard.relayed;
        report.parked += shard.parked;
    }
    Ok(report)
}

async fn sweep_shard(
    state: &AppState,
    shard: u8,
    cutoff: &str,
    now: DateTime<Utc>,
) -> Result<SweepReport, StoreError> {
    let page = state
        .table
        .client()
        .query()
        .table_name(state.table.name())
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :pk AND gsi1sk < :cutoff")
        .expression_attribute_values(":pk", s(outbox_shard_name(shard)))
        .expression_attribute_values(":cutoff", s(cutoff))
        .limit(PER_SHARD)
        .send()
        .await?;
    let mut report = SweepReport::default();
    for entry in page.items() {
        if entry.opt_num("relays").unwrap_or(0) >= MAX_RELAYS {
            park(state, entry, now).await?;
            report.parked += 1;
        } else {
            state.events.send(entry.str("body")?).await?;
            relayed(state, entry, now).await?;
            report.relayed += 1;
        }
    }
    Ok(report)
}

/// Counts the relay and moves the entry to the back of its shard.
async fn relayed(state: &AppState, entry: &Item, now: DateTime<Utc>) -> Result<(), StoreError> {
    let key = Key::of(entry)?;
    let message = key.sk.trim_start_matches("OUTBOX#");
    let back = format!(
        "{}#{message}",
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    // The consumer may have taken it off meanwhile: then there is nothing to count.
    state
        .table
        .update_existing(
            &key,
            "SET relays = if_not_exists(relays, :zero) + :one, gsi1sk = :back",
            &[(":zero", n(0)), (":one", n(1)), (":back", s(back))],
        )
        .await
        .map(drop)
}

/// Takes the entry out of the swept shards, for an operator to look at.
async fn park(state: &AppState, entry: &Item, now: DateTime<Utc>) -> Result<(), StoreError> {
    let key = Key::of(entry)?;
    tracing::error!(
        outbox_entry = %key.pk,
        entry = %key.sk,
        relays = entry.opt_num("relays").unwrap_or(0),
        parked = true,
        "outbox entry parked: relayed {MAX_RELAYS} times and never taken off the outbox"
    );
    state
        .table
        .update_existing(
            &key,
            "SET gsi1pk = :parked, parked_at = :now",
            &[(":parked", s(OUTBOX_PARKED)), (":now", time(now))],
        )
        .await
        .map(drop)
}
