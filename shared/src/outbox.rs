//! The outbox: what a change must cause beyond the table (a webhook event, a platform
//! DNS record, a worker's job, an e-mail) is written in the same transaction as the
//! change, relayed to the events queue right after commit, and removed from the outbox
//! by its worker once done. The outbox sweep re-sends entries that are still there after
//! a while, so a message survives a crash between commit and enqueue.

use crate::aws::LazySqs;
use crate::domain_release::DomainRelease;
use crate::events::Event;
use crate::exports::ExportMessage;
use crate::ids::MessageId;
use crate::mail::Mail;
use crate::org_deletion::OrgDeletion;
use crate::platform_hostname::HostnameRecord;
use crate::store::keys::{outbox_shard, Key, OUTBOX_PREFIX};
use crate::store::{s, Item, StoreError};
use serde::{Deserialize, Serialize};

/// What the outbox carries: a webhook event, a platform DNS record to write
/// (`platform_hostname`), an export job for the export worker, an organization to
/// delete for the deletion worker, a custom domain's edge to release for the domain
/// worker, or an e-mail for the mail worker. All travel the same way — written in the transaction
/// of their change, relayed to the events queue, taken off the outbox by its worker once
/// done. (Untagged: each kind has a field the others lack.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outboxed {
    Event(Event),
    Hostname(HostnameRecord),
    Export(ExportMessage),
    Deletion(OrgDeletion),
    /// Before `Mail`; the only kind with `certificate_arn`.
    DomainRelease(DomainRelease),
    /// Last: the only kind without `organization_id`, so no other kind parses as it.
    Mail(Mail),
}

impl From<Event> for Outboxed {
    fn from(event: Event) -> Self {
        Outboxed::Event(event)
    }
}

impl From<HostnameRecord> for Outboxed {
    fn from(record: HostnameRecord) -> Self {
        Outboxed::Hostname(record)
    }
}

impl From<ExportMessage> for Outboxed {
    fn from(message: ExportMessage) -> Self {
        Outboxed::Export(message)
    }
}

impl From<OrgDeletion> for Outboxed {
    fn from(message: OrgDeletion) -> Self {
        Outboxed::Deletion(message)
    }
}

impl From<DomainRelease> for Outboxed {
    fn from(release: DomainRelease) -> Self {
        Outboxed::DomainRelease(release)
    }
}

impl From<Mail> for Outboxed {
    fn from(mail: Mail) -> Self {
        Outboxed::Mail(mail)
    }
}

impl Outboxed {
    pub fn id(&self) -> &MessageId {
        match self {
            Outboxed::Event(e) => &e.id,
            Outboxed::Hostname(h) => &h.id,
            Outboxed::Export(x) => &x.id,
            Outboxed::Deletion(d) => &d.id,
            Outboxed::DomainRelease(r) => &r.id,
            Outboxed::Mail(m) => &m.id,
        }
    }

    /// The partition of the outbox entry: the organization's, for an e-mail its owner's, for
    /// a domain's release the name's.
    pub fn partition(&self) -> String {
        let org = match self {
            Outboxed::Event(e) => &e.organization_id,
            Outboxed::Hostname(h) => &h.organization_id,
            Outboxed::Export(x) => &x.organization_id,
            Outboxed::Deletion(d) => &d.organization_id,
            // The name's: it outlives the org's partition, which the deletion sweeps.
            Outboxed::DomainRelease(r) => return Key::domain_claim(&r.domain).pk,
            Outboxed::Mail(m) => return m.owner.clone(),
        };
        crate::store::keys::org_partition(org)
    }

    fn timestamp(&self) -> &str {
        match self {
            Outboxed::Event(e) => &e.timestamp,
            Outboxed::Hostname(h) => &h.timestamp,
            Outboxed::Export(x) => &x.timestamp,
            Outboxed::Deletion(d) => &d.timestamp,
            Outboxed::DomainRelease(r) => &r.timestamp,
            Outboxed::Mail(m) => &m.timestamp,
        }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn outbox_key(&self) -> Key {
        Key {
            pk: self.partition(),
            sk: format!("{OUTBOX_PREFIX}{}", self.id()),
        }
    }

    /// The outbox entry: listed by age in a shard of the sparse `gsi1` index for the sweep.
    pub fn outbox_item(&self) -> Item {
        let id = self.id().as_str();
        let mut item = self.outbox_key().to_item();
        item.insert("gsi1pk".into(), s(outbox_shard(id)));
        item.insert("gsi1sk".into(), s(format!("{}#{id}", self.timestamp())));
        item.insert("body".into(), s(self.body()));
        item
    }
}

/// Puts events on the events queue.
#[derive(Clone)]
pub struct EventRelay {
    sqs: LazySqs,
    queue_url: String,
}

impl EventRelay {
    pub fn new(sqs: LazySqs, queue_url: String) -> Self {
        EventRelay { sqs, queue_url }
    }

    pub async fn send(&self, body: &str) -> Result<(), StoreError> {
        self.sqs
            .client()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await?;
        Ok(())
    }

    /// Right after commit. A failure is only logged: the entry stays in the outbox and the
    /// sweep relays it, so the request that made the change still succeeds.
    pub async fn relay_committed(&self, message: &Outboxed) {
        #[cfg(feature = "test-hooks")]
        if crate::test_hooks::relay_fails(&message.partition()) {
            tracing::warn!(message_id = %message.id(), "relay after commit failed (test switch)");
            return;
        }
        if let Err(err) = self.send(&message.body()).await {
            tracing::warn!(message_id = %message.id(), error = %err, "relay after commit failed; the outbox sweep will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;
    use crate::ids::OrgId;
    use chrono::Utc;

    #[test]
    fn outbox_entries_spread_over_every_shard_and_stay_in_theirs() {
        use crate::store::keys::{outbox_shard_name, OUTBOX_SHARDS};
        let mut seen = std::collections::HashMap::new();
        for _ in 0..1600 {
            let event = Event::new(
                EventType::McpCreated,
                &OrgId::generate(),
                serde_json::json!({}),
                Utc::now(),
            );
            let shard = Outboxed::from(event.clone()).outbox_item()["gsi1pk"]
                .as_s()
                .unwrap()
                .clone();
            assert_eq!(shard, outbox_shard(event.id.as_str()), "stable");
            *seen.entry(shard).or_insert(0) += 1;
        }
        for shard in 0..OUTBOX_SHARDS {
            let count = seen.get(&outbox_shard_name(shard)).copied().unwrap_or(0);
            assert!(
                (50..=150).contains(&count),
                "shard {shard}: {count} of 1600"
            );
        }
    }

    #[test]
    fn the_outbox_body_says_which_kind_of_message_it_is() {
        let org = OrgId::generate();
        let config = crate::config::Config::from_lookup(|key| match key {
            "DATA_KEY" => Some("k".repeat(32)),
            "PLATFORM_DOMAIN" => Some("plexmcp.test".into()),
            "DNS_NAMESERVERS" | "BILLING_RETENTION_DAYS" | "CUSTOM_DOMAIN_QUOTA" => None,
            _ => Some("x".into()),
        })
        .unwrap();
        let event = Event::new(
            EventType::McpCreated,
            &org,
            serde_json::json!({}),
            Utc::now(),
        );
        let record = HostnameRecord::new(&org, "acme", &config, Utc::now());
        assert_eq!(record.hostname, "acme.plexmcp.test");
        let job = crate::exports::ExportJob::new(
            &org,
            crate::exports::Format::Json,
            vec![crate::exports::Category::Mcps],
            None,
            "usr_x".into(),
            Utc::now(),
        );
        let export = ExportMessage::of(&job);
        for message in [
            Outboxed::from(event),
            Outboxed::from(record),
            Outboxed::from(export),
            Outboxed::from(OrgDeletion::new(&org, "usr_x", Utc::now())),
            Outboxed::from(DomainRelease::new(
                &org,
                "api.example.com",
                "arn:aws:acm:us-east-1:123456789012:certificate/x",
                Utc::now(),
            )),
        ] {
            let back: Outboxed = serde_json::from_str(&message.body()).unwrap();
            assert_eq!(back, message);
            let partition = match &back {
                Outboxed::DomainRelease(_) => "DOMAIN#api.example.com".to_owned(),
                _ => format!("ORG#{org}"),
            };
            assert_eq!(back.outbox_key().pk, partition);
        }
    }
}
