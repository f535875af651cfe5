//! Every organization's API host name, `<slug>.<PLATFORM_DOMAIN>`: a CNAME to
//! `GATEWAY_CNAME_TARGET` in the platform hosted zone.
//!
//! Creating an organization writes the request for its record to the outbox in the same
//! transaction. The events worker makes the Route53 change (an UPSERT, so doing it twice
//! changes nothing) and only then takes the request off the outbox: a Route53 failure
//! never fails the signup, and the request is retried by queue redelivery and the outbox
//! sweep until the record exists.

use crate::config::Config;
use crate::ids::{MessageId, OrgId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The org's API host name (slugs are immutable, so it never changes).
pub fn api_hostname(slug: &str, config: &Config) -> String {
    format!("{slug}.{}", config.platform_domain)
}

/// An outbox message: "`hostname` must be a CNAME to the gateway".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostnameRecord {
    pub id: MessageId,
    pub organization_id: OrgId,
    pub timestamp: String,
    pub hostname: String,
}

impl HostnameRecord {
    pub fn new(org: &OrgId, slug: &str, config: &Config, now: DateTime<Utc>) -> Self {
        HostnameRecord {
            id: MessageId::generate(),
            organization_id: org.clone(),
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            hostname: api_hostname(slug, config),
        }
    }
}
