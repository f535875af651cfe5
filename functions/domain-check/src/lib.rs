//! The domain-checks queue worker: each message is one scheduled check of an org's custom
//! domain. It asks DNS as Verify does, records the result the same way (an audit entry
//! by `system` when the status changes), and schedules the next check:
//!
//! - a pending domain's, until it is verified or its 48 hours are over (then it is
//!   expired and the name released);
//! - once verified, a daily one while the domain is verified or failed; a domain whose
//!   records stay gone for 7 days is released.
//!
//! A check for a domain since replaced or removed (another token), no longer in the
//! state its chain is for, or of an org being deleted is dropped.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{Duration, Utc};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::client_info::ClientInfo;
use shared::custom_domain::{
    check_now, record_check, start_daily_checks, CheckSchedule, DomainCheck, DomainRecord,
    Recorded, FAILED, PENDING, VERIFIED,
};
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
}

/// The Lambda handler: the checks of a batch side by side; only those the store or the
/// queue failed are reported, to come back.
pub async fn handle(
    state: &AppState,
    schedule: &CheckSchedule,
    event: SqsEvent,
) -> SqsBatchResponse {
    let concurrency = event.records.len();
    each_record(event, concurrency, |record| async move {
        let Some(job) = record
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<DomainCheck>(body).ok())
        else {
            tracing::error!(message_id = ?record.message_id, "not a domain check; dropped");
            return Ok(Done::Dropped("unreadable"));
        };
        tracing::info!(org = %job.org_id, check = job.check, "domain check");
        check(state, schedule, &job).await
    })
    .await
}

/// One scheduled check. When the record changes between the read and the write (a
/// person's Verify, say), the check is made again on what is there now, so that the
/// chain of checks goes on.
pub async fn check(
    state: &AppState,
    schedule: &CheckSchedule,
    job: &DomainCheck,
) -> Result<Done, Error> {
    let now = Utc::now();
    if let Some(at) = job.not_before.filter(|at| *at > now + Duration::seconds(1)) {
        job.enqueue(state, at - now).await?;
        return Ok(Done::Waiting);
    }
    for _ in 0..3 {
        if let Some(done) = check_once(state, schedule, job).await? {
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
    let checked_daily = record.status == VERIFIED || record.status == FAILED;
    match (job.daily, record.status == PENDING, checked_daily) {
        (false, false, _) => return dropped("the domain is no longer pending"),
        (true, _, false) => return dropped("the domain is not verified"),
        _ => {}
    }
    let next = check_now(state, &record).await?;
    let recorded = record_check(state, &job.org_id, &record, next, |action| {
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
    })
    .await?;
    // A name another org proved first is checked on as one not verified: it expires.
    let next = match recorded {
        Recorded::Done(next) | Recorded::Taken(next) => next,
        Recorded::ChangedMeanwhile => return Ok(None),
    };
    start_daily_checks(state, schedule, &job.org_id, &record, &next).await?;
    let checked_at = next.last_checked_at.unwrap_or(now);
    let due = match next.status.as_str() {
        // The next check, and one at the expiry at the latest, which expires the domain.
        PENDING => Some((checked_at + schedule.wait_before(job.check + 1)).min(next.expires_at)),
        VERIFIED | FAILED if job.daily => Some(checked_at + schedule.daily),
        _ => None,
    };
    if let Some(due) = due {
        let following = DomainCheck {
            check: job.check + 1,
            not_before: Some(due),
            ..job.clone()
        };
        following.enqueue(state, due - Utc::now()).await?;
    }
    Ok(Some(Done::Checked(next.status)))
}
