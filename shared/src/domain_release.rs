//! The release of a custom domain's edge: "the certificate `certificate_arn` of `domain`,
//! with the API Gateway domain name and mapping it made, is no longer needed". Written to
//! the outbox with the change that ends the domain (removed, replaced, expired) and sent
//! to the domain worker's queue by the deletion worker, so it is done even when the
//! release itself fails for a while (`custom_domain::edge::Edge::release`).

use crate::ids::{MessageId, OrgId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRelease {
    pub id: MessageId,
    pub organization_id: OrgId,
    pub timestamp: String,
    pub domain: String,
    pub certificate_arn: String,
}

impl DomainRelease {
    pub fn new(org: &OrgId, domain: &str, certificate_arn: &str, now: DateTime<Utc>) -> Self {
        DomainRelease {
            id: MessageId::generate(),
            organization_id: org.clone(),
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            domain: domain.to_owned(),
            certificate_arn: certificate_arn.to_owned(),
        }
    }
}
