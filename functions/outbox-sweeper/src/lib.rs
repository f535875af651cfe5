//! The outbox sweep (on a schedule): relays events that are still in the outbox a while
//! after their commit — the relay right after commit failed or the process died before
//! it. The consumer removes an event from the outbox once fanned out, so what is left
//! here is exactly what may not have reached the queue.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, SecondsFormat, Utc};
use serde::Serialize;
use shared::store::keys::OUTBOX_INDEX_PK;
use shared::store::{ItemExt, StoreError};
use shared::AppState;

/// Younger entries are probably on their way through the normal relay.
pub const GRACE: Duration = Duration::seconds(60);
/// Bound on one run's work; the next run continues.
const MAX_PER_RUN: usize = 1000;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub relayed: usize,
}

pub async fn sweep(state: &AppState, grace: Duration) -> Result<SweepReport, StoreError> {
    let cutoff = (Utc::now() - grace).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut report = SweepReport::default();
    let mut start = None;
    loop {
        let page = state
            .table
            .client()
            .query()
            .table_name(state.table.name())
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :cutoff")
            .expression_attribute_values(":pk", AttributeValue::S(OUTBOX_INDEX_PK.into()))
            .expression_attribute_values(":cutoff", AttributeValue::S(cutoff.clone()))
            .limit(100)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            state.events.send(item.str("body")?).await?;
            report.relayed += 1;
        }
        start = page.last_evaluated_key;
        if start.is_none() || report.relayed >= MAX_PER_RUN {
            return Ok(report);
        }
    }
}
