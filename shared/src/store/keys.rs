//! Every key of the table, in one place.

use super::{s, Item, ItemExt, StoreError};
use crate::ids::{ChallengeId, OrgId, SessionId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Key { pk, sk: sk.into() }
    }

    pub fn to_item(&self) -> Item {
        [
            ("pk".to_owned(), s(&self.pk)),
            ("sk".to_owned(), s(&self.sk)),
        ]
        .into()
    }

    pub fn of(item: &Item) -> Result<Self, StoreError> {
        Ok(Key {
            pk: item.str("pk")?.to_owned(),
            sk: item.str("sk")?.to_owned(),
        })
    }

    /// A user's profile (credentials, login counters, head of the user's audit chain).
    pub fn user(user: &UserId) -> Self {
        Self::new(format!("USER#{user}"), "PROFILE")
    }

    pub fn session(user: &UserId, session: &SessionId) -> Self {
        Self::new(format!("USER#{user}"), format!("SESSION#{session}"))
    }

    /// A user's side of a membership, keyed by the (immutable) org slug so that a request
    /// naming `/orgs/{slug}` finds the caller's role without first resolving the slug.
    pub fn membership(user: &UserId, slug: &str) -> Self {
        Self::new(format!("USER#{user}"), format!("MEMBERSHIP#{slug}"))
    }

    /// A pending second login step (5 minutes, single use).
    pub fn challenge(user: &UserId, challenge: &ChallengeId) -> Self {
        Self::new(format!("USER#{user}"), format!("CHALLENGE#{challenge}"))
    }

    /// A TOTP time step that was accepted: the replay guard.
    pub fn totp_step(user: &UserId, step: u64) -> Self {
        Self::new(format!("USER#{user}"), format!("TOTPSTEP#{step}"))
    }

    /// One unused backup code of the current set.
    pub fn backup_code(user: &UserId, set: &str, index: usize) -> Self {
        Self::new(
            format!("USER#{user}"),
            format!("{BACKUP_CODE_PREFIX}{set}#{index}"),
        )
    }

    /// Global pointer: lower-cased e-mail → user id.
    pub fn email(email: &str) -> Self {
        Self::new(format!("EMAIL#{email}"), "EMAIL")
    }

    /// Failed logins of an e-mail address, whether or not an account uses it (own item, TTL).
    pub fn login_throttle_of_email(email: &str) -> Self {
        Self::new(format!("THROTTLE#LOGIN#EMAIL#{email}"), "THROTTLE")
    }

    /// Failed logins from a client network (see `ClientInfo::network`; own item, TTL).
    pub fn login_throttle_of_network(network: &str) -> Self {
        Self::new(format!("THROTTLE#LOGIN#NET#{network}"), "THROTTLE")
    }

    /// Failed API-key authentications against an org written to its audit log (own item, TTL).
    pub fn api_key_failures(org: &OrgId) -> Self {
        Self::new(format!("THROTTLE#APIKEY#ORG#{org}"), "THROTTLE")
    }

    /// The first answer to a POST sent with `Idempotency-Key` (`caller`: a hash of the
    /// credential, so no caller meets another's key).
    pub fn idempotency(caller: &str, key: &str) -> Self {
        Self::new(format!("IDEMPOTENCY#{caller}#{key}"), "IDEMPOTENCY")
    }

    /// The org's custom domain and its verification state.
    pub fn custom_domain(org: &OrgId) -> Self {
        Self::new(format!("ORG#{org}"), "CUSTOMDOMAIN")
    }

    /// The count of custom domain names holding a claim, against the regional quota.
    pub fn custom_domain_quota() -> Self {
        Self::new("QUOTA#custom_domains".into(), "COUNT")
    }

    /// The claim of a custom domain name by one org.
    pub fn domain_claim(domain: &str) -> Self {
        Self::new(format!("DOMAIN#{domain}"), "CLAIM")
    }

    /// The organization (settings, plan, status, owner count, head of its audit chain).
    pub fn org(org: &OrgId) -> Self {
        Self::new(format!("ORG#{org}"), "ORG")
    }

    /// What is left of a deleted organization, kept as long as its billing records.
    pub fn tombstone(org: &OrgId) -> Self {
        Self::new(format!("ORG#{org}"), "TOMBSTONE")
    }

    /// The organization's side of a membership (what the team list shows).
    pub fn member(org: &OrgId, user: &UserId) -> Self {
        Self::new(format!("ORG#{org}"), format!("MEMBER#{user}"))
    }

    /// An API key's metadata, under its org.
    pub fn api_key(org: &OrgId, key_id: &str) -> Self {
        Self::new(format!("ORG#{org}"), format!("{API_KEY_PREFIX}{key_id}"))
    }

    /// Global pointer: SHA-256 of an API key → its org and id.
    pub fn api_key_pointer(hash: &str) -> Self {
        Self::new(format!("APIKEY#{hash}"), "APIKEY")
    }

    pub fn mcp(org: &OrgId, mcp_id: &str) -> Self {
        Self::new(format!("ORG#{org}"), format!("{MCP_PREFIX}{mcp_id}"))
    }

    /// A webhook endpoint of the org (read by the event fan-out).
    pub fn webhook(org: &OrgId, webhook_id: &str) -> Self {
        Self::new(
            format!("ORG#{org}"),
            format!("{WEBHOOK_PREFIX}{webhook_id}"),
        )
    }

    /// One logged delivery attempt to an endpoint (30 days, TTL).
    pub fn delivery(org: &OrgId, webhook_id: &str, delivery_id: &str) -> Self {
        Self::new(
            format!("ORG#{org}"),
            format!("{}{delivery_id}", delivery_prefix(webhook_id)),
        )
    }

    /// The record that a message reached an endpoint (`DeliveryJob::idempotency_key`):
    /// a redelivered queue message finds it and does not send again (30 days, TTL).
    pub fn delivered(org: &OrgId, idempotency_key: &str) -> Self {
        Self::new(format!("ORG#{org}"), format!("DELIVERED#{idempotency_key}"))
    }

    /// An invitation to join the org (what the org's admins list and revoke).
    pub fn invitation(org: &OrgId, invitation: &str) -> Self {
        Self::new(
            format!("ORG#{org}"),
            format!("{INVITATION_PREFIX}{invitation}"),
        )
    }

    /// The invited address's side of an invitation: one per (e-mail, org), which is what
    /// makes re-inviting replace the pending invitation; listed by `/v1/me/invitations`.
    pub fn invitee(email: &str, org: &OrgId) -> Self {
        Self::new(invitee_partition(email), format!("ORG#{org}"))
    }

    /// Global pointer: invitation id → its org and address (accept/decline by id).
    pub fn invitation_pointer(invitation: &str) -> Self {
        Self::new(format!("INVITATION#{invitation}"), "INVITATION")
    }

    /// A data export job of the org.
    pub fn export(org: &OrgId, export: &str) -> Self {
        Self::new(org_partition(org), format!("{EXPORT_PREFIX}{export}"))
    }

    /// One plan change of the org (`at`: a time-ordered, unique suffix).
    pub fn billing_change(org: &OrgId, at: &str) -> Self {
        Self::new(org_partition(org), format!("{BILLING_PREFIX}{at}"))
    }

    /// The org's requests to one MCP server on one UTC day (`YYYY-MM-DD`).
    pub fn usage_day(org: &OrgId, date: &str, mcp_id: &str) -> Self {
        Self::new(org_partition(org), format!("{USAGE_PREFIX}{date}#{mcp_id}"))
    }

    /// The org's requests in one UTC month (`YYYY-MM`).
    pub fn usage_month(org: &OrgId, month: &str) -> Self {
        Self::new(org_partition(org), format!("USAGEMONTH#{month}"))
    }

    /// The record that the org's month passed `percent` of its plan's requests (once).
    pub fn usage_threshold(org: &OrgId, month: &str, percent: u64) -> Self {
        Self::new(
            org_partition(org),
            format!("USAGETHRESHOLD#{month}#{percent}"),
        )
    }

    /// The record that a mail was handed to SES, under the mail's owner partition.
    pub fn mail_sent(owner: &str, mail_id: &str) -> Self {
        Self::new(owner.to_owned(), format!("MAILSENT#{mail_id}"))
    }

    /// Global pointer: slug → org id; its existence is what makes a slug unique.
    pub fn slug(slug: &str) -> Self {
        Self::new(format!("SLUG#{slug}"), "SLUG")
    }
}

/// The partition of everything an organization owns.
pub fn org_partition(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// The base of the audit-log index partitions of the chain owned by `owner_pk`.
pub fn audit_log_index(owner_pk: &str) -> String {
    format!("AUDITLOG#{owner_pk}")
}

pub const SESSION_PREFIX: &str = "SESSION#";
pub const MEMBERSHIP_PREFIX: &str = "MEMBERSHIP#";
pub const BACKUP_CODE_PREFIX: &str = "BACKUPCODE#";
pub const API_KEY_PREFIX: &str = "APIKEY#";
pub const MCP_PREFIX: &str = "MCP#";
pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

/// The sort-key prefix of an endpoint's delivery log.
pub fn delivery_prefix(webhook_id: &str) -> String {
    format!("DELIVERY#{webhook_id}#")
}
pub const BILLING_PREFIX: &str = "BILLING#";
pub const USAGE_PREFIX: &str = "USAGE#";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const EXPORT_PREFIX: &str = "EXPORT#";
pub const INVITATION_PREFIX: &str = "INVITE#";

/// The partition of the invitations addressed to `email` (one item per inviting org).
pub fn invitee_partition(email: &str) -> String {
    format!("INVITEE#{email}")
}
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const OUTBOX_PREFIX: &str = "OUTBOX#";
/// The sparse `gsi1` index lists outbox entries by age (for the sweep) in this many
/// partitions, `OUTBOX#0` … `OUTBOX#15`, so that no one index partition takes the write of
/// every commit in the system.
pub const OUTBOX_SHARDS: u8 = 16;
/// Where the sweep parks an entry it has relayed too often (a poison event): out of the
/// shards it sweeps, listed for operators.
pub const OUTBOX_PARKED: &str = "OUTBOX#PARKED";

/// The index partition of an outbox entry: a stable hash of its message id.
pub fn outbox_shard(message_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let shard = Sha256::digest(message_id.as_bytes())[0] % OUTBOX_SHARDS;
    outbox_shard_name(shard)
}

pub fn outbox_shard_name(shard: u8) -> String {
    format!("OUTBOX#{shard}")
}
