//! The domain-checks queue worker: each message is one scheduled check of an org's
//! pending custom domain. It asks DNS as Verify does, records the result the same way
//! (an audit entry by `system` when the status changes), and schedules the next check
//! while the domain stays pending — until it is verified or its 48 hours are over, when
//! the check marks it expired and releases the name.
//!
//! A check scheduled for a domain since replaced or removed (another token), verified by
//! a person meanwhile, or of an org being deleted is dropped.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{Duration, Utc};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::domain::hostname::Reserved;
use shared::domain::CustomDomain;
use shared::domains::{record_check, CheckSchedule, DomainCheck, DomainRecord, Recorded, PENDING};
use shared::http::ClientInfo;
use shared::store::orgs::ACTIVE;
use shared::store::{ChainOwner, ItemExt, Key, Mutation};
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
    let work = event.records.into_iter().map(|record| async move {
        let id = record.message_id.unwrap_or_default();
        let Some(job) = record
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<DomainCheck>(body).ok())
        else {
            tracing::error!(message_id = %id, "not a domain check; dropped");
            return None;
        };
        match check(state, schedule, &job).await {
            Ok(done) => {
                tracing::info!(org = %job.org_id, check = job.check, ?done, "domain check");
                None
            }
            Err(err) => {
                tracing::warn!(org = %job.org_id, error = %err, "domain check not made; the queue retries it");
                Some(id)
            }
        }
    });
    let mut response = SqsBatchResponse::default();
    for failed in futures_util::future::join_all(work)
        .await
        .into_iter()
        .flatten()
    {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = failed;
        response.batch_item_failures.push(failure);
    }
    response
}

/// One scheduled check.
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
    let (org_key, record_key) = (Key::org(&job.org_id), Key::custom_domain(&job.org_id));
    let items = state
        .table
        .get_many(&[org_key.clone(), record_key.clone()])
        .await?;
    let Some(org) = items
        .get(&org_key)
        .filter(|o| o.opt_str("status") == Some(ACTIVE))
    else {
        return Ok(Done::Dropped("the organization is gone"));
    };
    let Some(record) = items
        .get(&record_key)
        .map(DomainRecord::from_item)
        .transpose()?
    else {
        return Ok(Done::Dropped("the domain was removed"));
    };
    if record.token != job.token {
        return Ok(Done::Dropped("the domain was replaced"));
    }
    if record.status != PENDING {
        return Ok(Done::Dropped("the domain is no longer pending"));
    }
    let reserved = Reserved {
        platform_domain: &state.config.platform_domain,
        cname_target: &state.config.gateway_cname_target,
    };
    let domain = CustomDomain::parse(&record.domain, &reserved)
        .map_err(|e| Error::Internal(format!("stored domain: {e}")))?;
    let finding = state
        .config
        .dns_nameservers
        .check(&domain, &state.config.gateway_cname_target, &record.token)
        .await;
    let next = record.checked(&finding, Utc::now());
    let recorded = record_check(state, &job.org_id, &record, &next, |action| {
        let actor = Actor {
            kind: "system".into(),
            id: "domain-check".into(),
            email: None,
        };
        let target = Target::new("custom_domain", &next.domain);
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
    match recorded {
        Recorded::Done => {}
        Recorded::ChangedMeanwhile => return Ok(Done::Dropped("the domain changed meanwhile")),
        Recorded::Taken => return Ok(Done::Dropped("another organization holds the name")),
    }
    if next.status == PENDING {
        // The next check, and one at the expiry at the latest, which expires the domain.
        let due = (next.last_checked_at.unwrap_or(now) + schedule.wait_before(job.check + 1))
            .min(next.expires_at);
        let following = DomainCheck {
            check: job.check + 1,
            not_before: Some(due),
            ..job.clone()
        };
        following.enqueue(state, due - Utc::now()).await?;
    }
    Ok(Done::Checked(next.status))
}
