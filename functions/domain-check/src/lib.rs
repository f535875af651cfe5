//! The domain-checks queue worker: each message is one scheduled check of an org's custom
//! domain. It asks DNS as Verify does, records the result the same way (an audit entry
//! by `system` when the status changes), and schedules the next check:
//!
//! - a pending domain's, until it is verified or its 48 hours are over (then it is
//!   expired and the name released);
//! - once verified, a daily one while the domain is verified or failed; a domain whose
//!   records stay gone for 7 days is released.
//!
//! - once verified, a look at its certificate (`certificate` jobs): requested from ACM,
//!   its validation record shown to the customer, polled on its schedule until
//!   issued; then the name is served (API Gateway domain name and mapping) and the
//!   domain is `active`. A failure of ACM or API Gateway is retried on that schedule.
//!
//! A check for a domain since replaced or removed (another token), no longer in the
//! state its chain is for, or of an org being deleted is dropped.
//!
//! The queue also carries releases (`DomainRelease`): a removed, replaced, expired or
//! deleted org's domain loses its mapping, domain name and certificate.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{Duration, Utc};
use serde::Deserialize;
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::client_info::ClientInfo;
use shared::custom_domain::edge::Edge;
use shared::custom_domain::{
    check_now, quota, record_check, schedule_follow_ups, CheckSchedule, DomainCheck, DomainRecord,
    Recorded, CERTIFICATE_PENDING, PENDING,
};
use shared::domain_release::DomainRelease;
use shared::mutation::{ChainOwner, Mutation};
use shared::sqs_batch::each_record;
use shared::store::orgs::ACTIVE;
use shared::store::{ItemExt, Key};
use shared::{AppState, Error};

/// What became of one check.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// Checked; the status it has now.
    Checked(String),
    /// Not due yet: put back on the queue.
    Waiting,
    Dropped(&'static str),
    /// A domain's edge released.
    Released,
}

/// What the domain worker's queue carries. (Untagged: only a release has
/// `certificate_arn`.)
#[derive(Deserialize)]
#[serde(untagged)]
enum DomainJob {
    Release(DomainRelease),
    Check(DomainCheck),
}

/// The Lambda handler: the checks of a batch side by side; only those the store or the
/// queue failed are reported, to come back. Then, when there was a job, the count of
/// custom domains against the quota, for its alarm.
pub async fn handle(
    state: &AppState,
    edge: &Edge,
    schedule: &CheckSchedule,
    event: SqsEvent,
) -> SqsBatchResponse {
    let concurrency = event.records.len();
    let answer = each_record(event, concurrency, |record| async move {
        let job = record
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<DomainJob>(body).ok());
        match job {
            Some(DomainJob::Check(job)) => {
                tracing::info!(org = %job.org_id, check = job.check, certificate = job.certificate, "domain check");
                check(state, edge, schedule, &job).await
            }
            Some(DomainJob::Release(release)) => {
                tracing::info!(org = %release.organization_id, domain = %release.domain, "domain release");
                edge.release(&release.domain, &release.certificate_arn)
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?;
                Ok(Done::Released)
            }
            None => {
                tracing::error!(message_id = ?record.message_id, "not a domain job; dropped");
                Ok(Done::Dropped("unreadable"))
            }
        }
    })
    .await;
    if concurrency > 0 {
        quota::report(&state.table, state.config.custom_domain_quota).await;
    }
    answer
}

/// One scheduled check. When the record changes between the read and the write (a
/// person's Verify, say), the check is made again on what is there now, so that the
/// chain of checks goes on.
pub async fn check(
    state: &AppState,
    edge: &Edge,
    schedule: &CheckSchedule,
    job: &DomainCheck,
) -> Result<Done, Error> {
    let now = Utc::now();
    if let Some(at) = job.not_before.filter(|at| *at > now + Duration::seconds(1)) {
        job.enqueue(state, at - now).await?;
        return Ok(Done::Waiting);
    }
    for _ in 0..3 {
        if let Some(done) = check_once(state, edge, schedule, job).await? {
            return Ok(done);
        }
    }
    Err(Error::Internal(
        "the domain kept changing during its check".into(),
    ))
}

/// `None` when the record changed before the result was written.
async fn check_once(
    state: &AppState,
    edge: &Edge,
    schedule: &CheckSchedule,
    job: &DomainCheck,
) -> Result<Option<Done>, Error> {
    let now = Utc::now();
    let dropped = |why| Ok(Some(Done::Dropped(why)));
    let (org_key, record_key) = (Key::org(&job.org_id), Key::custom_domain(&job.org_id));
    let items = state
        .table
        .get_many(&[org_key.clone(), record_key.clone()])
        .await?;
    let Some(org) = items
        .get(&org_key)
        .filter(|o| o.opt_str("status") == Some(ACTIVE))
    else {
        return dropped("the organization is gone");
    };
    let Some(record) = items
        .get(&record_key)
        .map(DomainRecord::from_item)
        .transpose()?
    else {
        return dropped("the domain was removed");
    };
    if record.token != job.token {
        return dropped("the domain was replaced");
    }
    let by_worker = |action| {
        let actor = Actor {
            kind: "system".into(),
            id: "domain-check".into(),
            email: None,
        };
        let target = Target::new("custom_domain", &record.domain);
        let draft = AuditDraft::new(
            actor,
            action,
            Category::Settings,
            target,
            &ClientInfo::default(),
        );
        Mutation::new(ChainOwner::existing(org_key.clone(), org), draft)
    };
    if job.certificate {
        if !record.is_proven() {
            return dropped("the domain is not verified");
        }
        let slug = org.str("slug")?;
        return see_to_certificate(state, edge, schedule, job, slug, &record, by_worker).await;
    }
    match (job.daily, record.status == PENDING, record.holds_claim()) {
        (false, false, _) => return dropped("the domain is no longer pending"),
        (true, _, false) => return dropped("the domain is not verified"),
        _ => {}
    }
    let next = check_now(state, &record).await?;
    let recorded = record_check(
        state,
        &job.org_id,
        org.str("slug")?,
        &record,
        next,
        by_worker,
    )
    .await?;
    // A name another org proved first is checked on as one not verified: it expires.
    let next = match recorded {
        Recorded::Done(next) | Recorded::Taken(next) | Recorded::QuotaFull(next) => next,
        Recorded::ChangedMeanwhile => return Ok(None),
    };
    schedule_follow_ups(state, schedule, &job.org_id, &record, &next).await?;
    let checked_at = next.last_checked_at.unwrap_or(now);
    let due = match next.status.as_str() {
        // The next check, and one at the expiry at the latest, which expires the domain.
        PENDING => Some((checked_at + schedule.wait_before(job.check + 1)).min(next.expires_at)),
        _ if job.daily && next.holds_claim() => Some(checked_at + schedule.daily),
        _ => None,
    };
    if let Some(due) = due {
        next_of(job, due).enqueue(state, due - Utc::now()).await?;
    }
    Ok(Some(Done::Checked(next.status)))
}

/// The job after `job`, due at `due`.
fn next_of(job: &DomainCheck, due: chrono::DateTime<Utc>) -> DomainCheck {
    DomainCheck {
        check: job.check + 1,
        not_before: Some(due),
        ..job.clone()
    }
}

/// The record changed while this look requested a certificate (`next`'s, not
/// `record`'s): when the domain went meanwhile (removed or replaced, so its release knew
/// nothing of the new certificate), the certificate and what it made are nobody's and are
/// released here; otherwise the look is made again on what is there now (`None`).
async fn orphaned(
    state: &AppState,
    edge: &Edge,
    job: &DomainCheck,
    record: &DomainRecord,
    next: &DomainRecord,
) -> Result<Option<Done>, Error> {
    let known = record.certificate.as_ref().map(|c| &c.arn);
    let Some(requested) = next.certificate.as_ref().filter(|c| Some(&c.arn) != known) else {
        return Ok(None);
    };
    let now = state.table.get(&Key::custom_domain(&job.org_id)).await?;
    let now = now.as_ref().map(DomainRecord::from_item).transpose()?;
    if now.is_some_and(|r| r.token == record.token) {
        return Ok(None);
    }
    edge.release(&record.domain, &requested.arn)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Some(Done::Dropped(
        "the domain went while its certificate was requested",
    )))
}

/// A look at a verified domain's certificate (`Edge::advance`), written when it changed
/// anything; while the certificate is not issued, or ACM or API Gateway failed, the next
/// look is scheduled (`DOMAIN_CERTIFICATE_SCHEDULE`).
async fn see_to_certificate(
    state: &AppState,
    edge: &Edge,
    schedule: &CheckSchedule,
    job: &DomainCheck,
    slug: &str,
    record: &DomainRecord,
    by_worker: impl Fn(&'static str) -> Mutation,
) -> Result<Option<Done>, Error> {
    let now = Utc::now();
    let look_again = || next_of(job, now + schedule.certificate_wait(job.check + 1));
    let next = match edge.advance(record, now).await {
        Ok(next) => next,
        Err(err) => {
            tracing::warn!(domain = %record.domain, error = %err, "the certificate step failed; it is tried again");
            let again = look_again();
            again
                .enqueue(state, again.not_before.unwrap_or(now) - now)
                .await?;
            return Ok(Some(Done::Checked(record.status.clone())));
        }
    };
    let changed = next.status != record.status
        || next.certificate != record.certificate
        || next.reason != record.reason;
    if changed {
        match record_check(state, &job.org_id, slug, record, next.clone(), by_worker).await? {
            Recorded::Done(_) => {}
            Recorded::ChangedMeanwhile | Recorded::Taken(_) | Recorded::QuotaFull(_) => {
                return orphaned(state, edge, job, record, &next).await;
            }
        }
    }
    if next.status == CERTIFICATE_PENDING {
        let again = look_again();
        again
            .enqueue(state, again.not_before.unwrap_or(now) - now)
            .await?;
    }
    Ok(Some(Done::Checked(next.status)))
}
