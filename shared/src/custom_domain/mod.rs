//! Custom domains: an org's own host name for its gateway, proven by DNS. The org keeps
//! one record (`ORG#o / CUSTOMDOMAIN`) with a token of its own; only proof claims the
//! name: the check that finds the org's CNAME and TXT token writes the claim
//! (`DOMAIN#<name> / CLAIM`), under the condition that no other org holds it. A pending
//! record claims nothing, so any number of orgs may wait on a name side by side and none
//! of them blocks or learns of another; a verified (or failed) name is the org's until it
//! is released (removed, replaced, expired after 7 days failed, or the org deleted).

pub mod check;
pub mod dns;
#[cfg(feature = "edge")]
pub mod edge;
pub mod host;
pub mod quota;

use crate::domain::CustomDomain;
use crate::domain_release::DomainRelease;
use crate::event_data::CustomDomainStatusChanged;
use crate::events::Event;
use crate::ids::OrgId;
use crate::mutation::{CommitError, Mutation};
use crate::store::item::time;
use crate::store::{delete_if, n, put_if, s, Cond, Item, ItemExt, Key, StoreError};
use crate::{AppState, Error};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;

pub use check::{CheckSchedule, DomainCheck};
pub use dns::{Finding, Nameservers};

/// A pending domain that no check verified in this time is expired and released.
pub const PENDING_FOR: Duration = Duration::hours(48);
/// A verified domain whose records stay gone this long is released.
pub const FAILED_FOR: Duration = Duration::days(7);

pub use crate::domain::hostname::{
    ACTIVE, CERTIFICATE_PENDING, EXPIRED, FAILED, PENDING, STATUSES, VERIFIED,
};

/// ACM's status of an issued certificate, and of one waiting for its DNS validation.
pub const ISSUED: &str = "ISSUED";
pub const PENDING_VALIDATION: &str = "PENDING_VALIDATION";

/// The domain's ACM certificate as the domain worker last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub arn: String,
    /// ACM's status: `PENDING_VALIDATION`, `ISSUED`, `FAILED`, `VALIDATION_TIMED_OUT`,
    /// `REVOKED`, `EXPIRED`, `INACTIVE` (or `MISSING`: deleted outside the stack).
    pub status: String,
    /// The record the customer publishes so that ACM validates the certificate, once ACM
    /// has made it.
    pub validation_record: Option<ValidationRecord>,
    /// Why ACM failed it.
    pub failure: Option<String>,
}

impl Certificate {
    /// Whether the certificate can no longer be issued (or serve): a new one is needed.
    pub fn is_over(&self) -> bool {
        self.status != ISSUED && self.status != PENDING_VALIDATION
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationRecord {
    pub r#type: String,
    pub name: String,
    pub value: String,
}

/// The org's custom domain and where its verification stands.
#[derive(Clone, Debug)]
pub struct DomainRecord {
    pub domain: String,
    pub status: String,
    /// What `_plexmcp-challenge.<domain>` must hold.
    pub token: String,
    pub created_at: DateTime<Utc>,
    /// When a pending domain expires.
    pub expires_at: DateTime<Utc>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub checks: i64,
    /// Why the last check did not verify it.
    pub reason: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    /// When a verified domain's records were first found gone (while failed).
    pub failed_since: Option<DateTime<Utc>>,
    pub certificate: Option<Certificate>,
    /// When it was last made active.
    pub active_at: Option<DateTime<Utc>>,
    /// How many times the record was written: what a write is conditioned on.
    pub revision: i64,
}

impl DomainRecord {
    /// A new pending domain with a fresh token, or with the org's earlier token for the
    /// same name (`token`), so that a TXT record already published still proves it.
    pub fn pending(domain: &CustomDomain, token: Option<&str>, now: DateTime<Utc>) -> Self {
        let token = token.map(str::to_owned).unwrap_or_else(|| {
            let mut bytes = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("plexmcp-verify={hex}")
        });
        DomainRecord {
            domain: domain.as_str().to_owned(),
            status: PENDING.into(),
            token,
            created_at: now,
            expires_at: now + PENDING_FOR,
            last_checked_at: None,
            checks: 0,
            reason: None,
            verified_at: None,
            failed_since: None,
            certificate: None,
            active_at: None,
            revision: 0,
        }
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(DomainRecord {
            domain: item.str("domain")?.to_owned(),
            status: item.str("status")?.to_owned(),
            token: item.str("token")?.to_owned(),
            created_at: item.time("created_at")?,
            expires_at: item.time("expires_at")?,
            last_checked_at: item.time("last_checked_at").ok(),
            checks: item.opt_num("checks").unwrap_or(0),
            reason: item.opt_str("reason").map(str::to_owned),
            verified_at: item.time("verified_at").ok(),
            failed_since: item.time("failed_since").ok(),
            certificate: match item.opt_str("cert_arn") {
                None => None,
                Some(arn) => Some(Certificate {
                    arn: arn.to_owned(),
                    status: item.str("cert_status")?.to_owned(),
                    validation_record: match item.opt_str("cert_record_name") {
                        None => None,
                        Some(name) => Some(ValidationRecord {
                            r#type: item.str("cert_record_type")?.to_owned(),
                            name: name.to_owned(),
                            value: item.str("cert_record_value")?.to_owned(),
                        }),
                    },
                    failure: item.opt_str("cert_failure").map(str::to_owned),
                }),
            },
            active_at: item.time("active_at").ok(),
            revision: item.opt_num("revision").unwrap_or(0),
        })
    }

    pub fn item(&self, org: &OrgId) -> Item {
        let mut item = Key::custom_domain(org).to_item();
        item.insert("domain".into(), s(&self.domain));
        item.insert("status".into(), s(&self.status));
        item.insert("token".into(), s(&self.token));
        item.insert("created_at".into(), time(self.created_at));
        item.insert("expires_at".into(), time(self.expires_at));
        item.insert("checks".into(), n(self.checks));
        if let Some(at) = self.last_checked_at {
            item.insert("last_checked_at".into(), time(at));
        }
        if let Some(reason) = &self.reason {
            item.insert("reason".into(), s(reason));
        }
        if let Some(at) = self.verified_at {
            item.insert("verified_at".into(), time(at));
        }
        if let Some(at) = self.failed_since {
            item.insert("failed_since".into(), time(at));
        }
        if let Some(cert) = &self.certificate {
            item.insert("cert_arn".into(), s(&cert.arn));
            item.insert("cert_status".into(), s(&cert.status));
            if let Some(record) = &cert.validation_record {
                item.insert("cert_record_type".into(), s(&record.r#type));
                item.insert("cert_record_name".into(), s(&record.name));
                item.insert("cert_record_value".into(), s(&record.value));
            }
            if let Some(failure) = &cert.failure {
                item.insert("cert_failure".into(), s(failure));
            }
        }
        if let Some(at) = self.active_at {
            item.insert("active_at".into(), time(at));
        }
        item.insert("revision".into(), n(self.revision));
        item
    }

    /// The record after a check that found `finding` at `now`: verified; pending until it
    /// expires (48 h); or failed when a verified domain's records are gone, and expired
    /// (released) when they stay gone for 7 days.
    pub fn checked(&self, finding: &Finding, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.checks += 1;
        next.last_checked_at = Some(now);
        match finding {
            // A domain further on (its certificate, served) stays where it is.
            Finding::Verified if self.is_proven() => {}
            Finding::Verified => {
                next.status = VERIFIED.into();
                next.reason = None;
                next.failed_since = None;
                next.verified_at = Some(now);
            }
            Finding::NotVerified(reason) => {
                next.reason = Some(reason.clone());
                next.active_at = None;
                next.status = match self.status.as_str() {
                    VERIFIED | CERTIFICATE_PENDING | ACTIVE | FAILED => {
                        let since = self.failed_since.unwrap_or(now);
                        next.failed_since = Some(since);
                        if now - since >= FAILED_FOR {
                            EXPIRED.into()
                        } else {
                            FAILED.into()
                        }
                    }
                    _ if now >= self.expires_at => EXPIRED.into(),
                    _ => PENDING.into(),
                };
            }
        }
        next
    }

    /// The record after the domain worker found its certificate as `cert` at `now` (and,
    /// were it issued, served the name with it): active, or waiting for the certificate
    /// with the reason when ACM failed it.
    pub fn with_certificate(&self, cert: Certificate, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        if cert.status == ISSUED {
            next.status = ACTIVE.into();
            next.reason = None;
            if self.status != ACTIVE {
                next.active_at = Some(now);
            }
        } else {
            next.status = CERTIFICATE_PENDING.into();
            next.active_at = None;
            next.reason = cert.is_over().then(|| {
                let why = cert.failure.as_deref().unwrap_or("no reason given");
                format!(
                    "the certificate is {} ({why}); a new one is requested",
                    cert.status.to_lowercase()
                )
            });
        }
        next.certificate = Some(cert);
        next
    }

    /// Verified, and maybe further on (its certificate, served).
    pub fn is_proven(&self) -> bool {
        matches!(
            self.status.as_str(),
            VERIFIED | CERTIFICATE_PENDING | ACTIVE
        )
    }

    /// Whether the record holds the claim on the name: once proven (verified and on, or
    /// failed and not yet released).
    pub fn holds_claim(&self) -> bool {
        self.is_proven() || self.status == FAILED
    }

    /// The release of the record's certificate (and what it made), if it has one.
    pub fn release(&self, org: &OrgId, now: DateTime<Utc>) -> Option<DomainRelease> {
        let cert = self.certificate.as_ref()?;
        Some(DomainRelease::new(org, &self.domain, &cert.arn, now))
    }

    /// The claim item of the name: whose it is (the org and its slug) and the domain's
    /// status, rewritten at each change of status while the claim is held, so that a host
    /// name is resolved to its org in one read (`host::owner_of`).
    pub fn claim_item(&self, org: &OrgId, slug: &str) -> Item {
        let mut item = Key::domain_claim(&self.domain).to_item();
        item.insert("org_id".into(), s(org.as_str()));
        item.insert("slug".into(), s(slug));
        item.insert("domain".into(), s(&self.domain));
        item.insert("status".into(), s(&self.status));
        item
    }
}

/// The org's domain record is no longer as the request read it.
pub const RECORD_CHANGED: &str = "domain_record_changed";
/// Another org holds the name's claim.
pub const NAME_TAKEN: &str = "domain_name_taken";

/// The condition under which `org` may hold the claim of a name: nobody holds it, or
/// `org` does. (A claim with `expires_at` is one written for a pending domain before only
/// proof claimed a name: it blocks nobody.)
pub fn claimable_by(org: &OrgId) -> Cond {
    Cond::new("attribute_not_exists(pk) OR org_id = :org OR attribute_exists(expires_at)")
        .value(":org", s(org.as_str()))
}

/// The condition under which `org` may release a claim: it is `org`'s (or gone).
pub fn held_by(org: &OrgId) -> Cond {
    Cond::new("attribute_not_exists(pk) OR org_id = :org").value(":org", s(org.as_str()))
}

/// The record is as this request read it (or still absent).
pub fn as_read(record: Option<&DomainRecord>) -> Cond {
    match record {
        None => Cond::new("attribute_not_exists(pk)"),
        // Records written before `revision` have none: theirs is 0.
        Some(r) => Cond::new(
            "#token = :token AND checks = :checks \
             AND (attribute_not_exists(revision) OR revision = :revision)",
        )
        .name("#token", "token")
        .value(":token", s(&r.token))
        .value(":checks", n(r.checks))
        .value(":revision", n(r.revision)),
    }
}

/// Asks DNS about the record's domain now: the record as this check leaves it.
pub async fn check_now(state: &AppState, record: &DomainRecord) -> Result<DomainRecord, Error> {
    let domain = CustomDomain::parse(&record.domain, &state.config.reserved())
        .map_err(|e| Error::Internal(format!("stored domain: {e}")))?;
    let finding = Nameservers::new(&state.config.dns_nameservers)
        .check(&domain, &state.config.gateway_cname_target, &record.token)
        .await;
    Ok(record.checked(&finding, Utc::now()))
}

/// After a check was recorded: a domain that has just been verified is re-checked daily
/// from now on (a failed one that comes back continues its daily checks), and the domain
/// worker sees to its certificate on its schedule (`DOMAIN_CERTIFICATE_SCHEDULE`): once
/// verified, and after each check of an active one (a certificate can leave `ISSUED`).
pub async fn schedule_follow_ups(
    state: &AppState,
    schedule: &CheckSchedule,
    org: &OrgId,
    before: &DomainRecord,
    after: &DomainRecord,
) -> Result<(), StoreError> {
    if before.status == PENDING && after.status == VERIFIED {
        DomainCheck::daily(org, &after.token)
            .enqueue(state, schedule.daily)
            .await?;
    }
    let just_verified = after.status == VERIFIED && before.status != VERIFIED;
    if just_verified || after.status == ACTIVE {
        DomainCheck::certificate(org, &after.token)
            .enqueue(state, schedule.certificate_wait(0))
            .await?;
    }
    Ok(())
}

/// Why a check that found the records in place leaves a domain unverified.
pub const TAKEN: &str = "another organization verified this domain first";

/// How writing a check's result went.
#[derive(Debug)]
pub enum Recorded {
    /// Written: the record as it is now.
    Done(DomainRecord),
    /// The records were in place, but another org had proven the name first: written as
    /// a check that did not verify it (reason `TAKEN`), so a pending domain still expires.
    Taken(DomainRecord),
    /// The records were in place, but every slot of the quota is held: written as a check
    /// that did not verify it (reason `quota::QUOTA_REACHED`); later checks try again.
    QuotaFull(DomainRecord),
    /// The record changed after it was read (another check, a replacement, a removal).
    ChangedMeanwhile,
}

/// Writes a check's result (`after`) while the record is as read (`before`). A change of
/// status is an audit entry (`mutation(action)` makes it, with its actor) and a
/// `custom_domain.status_changed` event; a verified or
/// failed domain takes or keeps the claim, unless another org holds it, and an expired
/// one releases it.
pub async fn record_check(
    state: &AppState,
    org: &OrgId,
    slug: &str,
    before: &DomainRecord,
    after: DomainRecord,
    mutation: impl Fn(&'static str) -> Mutation,
) -> Result<Recorded, Error> {
    let after = DomainRecord {
        revision: before.revision + 1,
        ..after
    };
    let (why, refused): (&str, fn(DomainRecord) -> Recorded) =
        match write_check(state, org, slug, before, &after, &mutation).await? {
            Written::Done => return Ok(Recorded::Done(after)),
            Written::ChangedMeanwhile => return Ok(Recorded::ChangedMeanwhile),
            Written::Taken => (TAKEN, Recorded::Taken),
            Written::QuotaFull => (quota::QUOTA_REACHED, Recorded::QuotaFull),
        };
    let now = after.last_checked_at.unwrap_or_else(Utc::now);
    let mut unclaimed = before.checked(&Finding::NotVerified(why.into()), now);
    unclaimed.revision = after.revision;
    Ok(
        match write_check(state, org, slug, before, &unclaimed, &mutation).await? {
            Written::Done => refused(unclaimed),
            _ => Recorded::ChangedMeanwhile,
        },
    )
}

enum Written {
    Done,
    ChangedMeanwhile,
    /// The claim is another org's.
    Taken,
    /// The claim would take a slot, and none is free.
    QuotaFull,
}

async fn write_check(
    state: &AppState,
    org: &OrgId,
    slug: &str,
    before: &DomainRecord,
    after: &DomainRecord,
    mutation: &impl Fn(&'static str) -> Mutation,
) -> Result<Written, Error> {
    let record = put_if(&state.table, after.item(org), &as_read(Some(before)))?;
    if after.status == before.status {
        return match state.table.transact(vec![record]).await {
            Ok(()) => Ok(Written::Done),
            Err(StoreError::Cancelled(_)) => Ok(Written::ChangedMeanwhile),
            Err(other) => Err(other.into()),
        };
    }
    // A proven name takes (with a slot of the quota) or keeps its claim; one that stops
    // being proven releases it and its slot.
    let (claim_write, slot_write) = match (before.holds_claim(), after.holds_claim()) {
        (held, true) => (
            Some(put_if(
                &state.table,
                after.claim_item(org, slug),
                &claimable_by(org),
            )?),
            (!held)
                .then(|| quota::take(&state.table, state.config.custom_domain_quota))
                .transpose()?,
        ),
        (true, false) => {
            let claim = Key::domain_claim(&after.domain);
            (
                Some(delete_if(&state.table, &claim, &held_by(org))?),
                Some(quota::free(&state.table)?),
            )
        }
        (false, false) => (None, None),
    };
    let action = match after.status.as_str() {
        VERIFIED => "custom_domain.verified",
        CERTIFICATE_PENDING => "custom_domain.certificate_pending",
        ACTIVE => "custom_domain.active",
        EXPIRED => "custom_domain.expired",
        FAILED => "custom_domain.failed",
        _ => "custom_domain.pending",
    };
    let now = Utc::now();
    let changed = CustomDomainStatusChanged {
        domain: after.domain.clone(),
        from: before.status.clone(),
        to: after.status.clone(),
        reason: after.reason.clone(),
    };
    let committed = mutation(action)
        .details(serde_json::json!({ "domain": after.domain, "reason": after.reason }))
        .emit(Event::of(org, &changed, now))
        .write_named(RECORD_CHANGED, record);
    let committed = match claim_write {
        Some(claim) => committed.write_named(NAME_TAKEN, claim),
        None => committed,
    };
    let committed = match slot_write {
        Some(slot) => committed.write_named(quota::QUOTA_FULL, slot),
        None => committed,
    };
    // A released name's certificate, domain name and mapping go too.
    let committed = match before.release(org, now).filter(|_| after.status == EXPIRED) {
        Some(release) => committed.emit(release),
        None => committed,
    }
    .commit(state)
    .await;
    match committed {
        Ok(_) => Ok(Written::Done),
        Err(CommitError::Conflict(RECORD_CHANGED)) => Ok(Written::ChangedMeanwhile),
        Err(CommitError::Conflict(NAME_TAKEN)) => Ok(Written::Taken),
        Err(CommitError::Conflict(quota::QUOTA_FULL)) => Ok(Written::QuotaFull),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hostname::Reserved;

    fn record(now: DateTime<Utc>) -> DomainRecord {
        let reserved = Reserved {
            platform_domain: "plexmcp.local",
            cname_target: "gateway.plexmcp.com",
        };
        let domain = CustomDomain::parse("api.example.com", &reserved).unwrap();
        DomainRecord::pending(&domain, None, now)
    }

    #[test]
    fn a_check_moves_the_status_as_the_records_say() {
        let now = Utc::now();
        let pending = record(now);
        assert!(pending.token.starts_with("plexmcp-verify=") && pending.token.len() > 40);
        let missing = Finding::NotVerified("no CNAME record".into());
        let still = pending.checked(&missing, now + Duration::minutes(1));
        assert_eq!((still.status.as_str(), still.checks), (PENDING, 1));
        let verified = still.checked(&Finding::Verified, now + Duration::minutes(2));
        assert_eq!(verified.status, VERIFIED);
        assert!(verified.reason.is_none());
        let failed = verified.checked(&missing, now + Duration::days(1));
        assert_eq!(failed.status, FAILED);
        assert_eq!(failed.checked(&Finding::Verified, now).status, VERIFIED);
        let gone = failed.checked(&missing, now + Duration::days(1) + FAILED_FOR);
        assert_eq!(gone.status, EXPIRED, "released after 7 days failed");
        assert!(failed.checked(&missing, now + Duration::days(2)).status == FAILED);
        let late = pending.checked(&missing, now + PENDING_FOR);
        assert_eq!(late.status, EXPIRED);
        assert!(!late.holds_claim());
    }

    #[test]
    fn a_certificate_makes_a_verified_domain_active_and_its_loss_sends_it_back() {
        let now = Utc::now();
        let verified = record(now).checked(&Finding::Verified, now);
        let requested = Certificate {
            arn: "arn:aws:acm:us-east-1:123456789012:certificate/c".into(),
            status: PENDING_VALIDATION.into(),
            validation_record: Some(ValidationRecord {
                r#type: "CNAME".into(),
                name: "_x.api.example.com.".into(),
                value: "_y.acm-validations.aws.".into(),
            }),
            failure: None,
        };
        let waiting = verified.with_certificate(requested.clone(), now);
        assert_eq!(waiting.status, CERTIFICATE_PENDING);
        assert!(waiting.reason.is_none() && waiting.holds_claim());
        let issued = Certificate {
            status: ISSUED.into(),
            ..requested.clone()
        };
        let active = waiting.with_certificate(issued.clone(), now);
        assert_eq!(
            (active.status.as_str(), active.active_at),
            (ACTIVE, Some(now))
        );
        // A DNS check that verifies again leaves it active; one that does not fails it.
        let later = now + Duration::days(1);
        assert_eq!(active.checked(&Finding::Verified, later).status, ACTIVE);
        let gone = Finding::NotVerified("no CNAME record".into());
        let failed = active.checked(&gone, later);
        assert_eq!((failed.status.as_str(), failed.active_at), (FAILED, None));
        // Revoked: back to waiting, with the reason.
        let revoked = Certificate {
            status: "REVOKED".into(),
            failure: Some("KEY_COMPROMISE".into()),
            ..issued
        };
        assert!(revoked.is_over() && !requested.is_over());
        let back = active.with_certificate(revoked, later);
        assert_eq!(back.status, CERTIFICATE_PENDING);
        assert!(
            back.reason.as_deref().unwrap().contains("revoked"),
            "{back:?}"
        );

        // Stored and read back whole.
        let org = OrgId::generate();
        let read = DomainRecord::from_item(&active.item(&org)).unwrap();
        assert_eq!(read.certificate, active.certificate);
        assert_eq!(read.status, ACTIVE);
        assert_eq!(
            read.active_at.map(|t| t.timestamp_millis()),
            Some(now.timestamp_millis())
        );
        assert!(active.release(&org, now).is_some() && verified.release(&org, now).is_none());
    }
}
