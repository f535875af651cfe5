//! Scheduled re-checks of a custom domain: a job on the domain-checks queue per check
//! (and per look at a verified domain's certificate).
//! A pending domain is checked on the design's schedule (1, 2, 5, 10 and 30 minutes,
//! then hourly; the last delay repeats) until it is verified or its 48 hours are over; a
//! verified domain is then checked daily (`daily` jobs) while it is verified or failed.
//!
//! SQS delays a message by at most 15 minutes. A longer wait travels as a `not_before`
//! time: the worker puts the job back (in hops of at most 15 minutes) until it is due.

use crate::aws::MAX_QUEUE_DELAY;
use crate::ids::OrgId;
use crate::store::StoreError;
use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One check to make of an org's pending domain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainCheck {
    pub org_id: OrgId,
    /// The token of the domain record it was scheduled for: a replaced domain has
    /// another, and its old checks are dropped.
    pub token: String,
    /// Which check of the schedule this is (0 = the first).
    pub check: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// A daily re-check of a verified (or failed) domain, not one of a pending domain's.
    #[serde(default)]
    pub daily: bool,
    /// Not a DNS check: a look at a verified domain's certificate (requested, issued,
    /// served), repeated on the pending schedule while the certificate is not issued.
    #[serde(default)]
    pub certificate: bool,
}

impl DomainCheck {
    /// The first check of a new pending domain.
    pub fn first(org_id: &OrgId, token: &str) -> Self {
        DomainCheck {
            org_id: org_id.clone(),
            token: token.to_owned(),
            check: 0,
            not_before: None,
            daily: false,
            certificate: false,
        }
    }

    /// The daily re-checks of a domain that was just verified.
    pub fn daily(org_id: &OrgId, token: &str) -> Self {
        DomainCheck {
            daily: true,
            ..Self::first(org_id, token)
        }
    }

    /// The first look at the certificate of a domain that was just verified.
    pub fn certificate(org_id: &OrgId, token: &str) -> Self {
        DomainCheck {
            certificate: true,
            ..Self::first(org_id, token)
        }
    }

    /// Puts the check on the queue, due in `wait` (hops beyond 15 minutes).
    pub async fn enqueue(&self, state: &AppState, wait: Duration) -> Result<(), StoreError> {
        let mut job = self.clone();
        if wait > MAX_QUEUE_DELAY {
            job.not_before = Some(job.not_before.unwrap_or_else(|| Utc::now() + wait));
        }
        state
            .sqs
            .send_after(&state.config.domain_checks_queue_url, &job, wait)
            .await?;
        Ok(())
    }
}

/// The waits before each check of a pending domain, before each look at a verified
/// domain's certificate, and between the daily re-checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSchedule {
    pending: Vec<Duration>,
    certificate: Vec<Duration>,
    pub daily: Duration,
}

impl Default for CheckSchedule {
    fn default() -> Self {
        let minutes_then_hourly: Vec<Duration> = [60, 120, 300, 600, 1800, 3600]
            .into_iter()
            .map(Duration::seconds)
            .collect();
        CheckSchedule {
            certificate: minutes_then_hourly.clone(),
            pending: minutes_then_hourly,
            daily: Duration::days(1),
        }
    }
}

impl CheckSchedule {
    /// `DOMAIN_VERIFY_SCHEDULE` and `DOMAIN_CERTIFICATE_SCHEDULE` (comma-separated
    /// seconds; each its own, so quicker DNS checks do not hurry ACM) and
    /// `DOMAIN_RECHECK_SECONDS` (the daily interval, for tests); unset or empty → the
    /// defaults.
    pub fn from_env() -> Result<Self, String> {
        let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        let mut schedule = match var("DOMAIN_VERIFY_SCHEDULE") {
            Some(text) => Self::parse(&text)?,
            None => Self::default(),
        };
        if let Some(text) = var("DOMAIN_CERTIFICATE_SCHEDULE") {
            schedule.certificate = waits(&text, "DOMAIN_CERTIFICATE_SCHEDULE")?;
        }
        if let Some(text) = var("DOMAIN_RECHECK_SECONDS") {
            schedule.daily = seconds(&text, "DOMAIN_RECHECK_SECONDS")?;
        }
        Ok(schedule)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(CheckSchedule {
            pending: waits(text, "DOMAIN_VERIFY_SCHEDULE")?,
            ..Self::default()
        })
    }

    /// The wait before check `n` (0-based); past the list, its last delay again.
    pub fn wait_before(&self, n: u32) -> Duration {
        nth(&self.pending, n)
    }

    /// The wait before look `n` (0-based) at a verified domain's certificate.
    pub fn certificate_wait(&self, n: u32) -> Duration {
        nth(&self.certificate, n)
    }
}

fn nth(waits: &[Duration], n: u32) -> Duration {
    let last = waits.len().saturating_sub(1);
    waits
        .get((n as usize).min(last))
        .copied()
        .unwrap_or_else(|| Duration::hours(1))
}

fn waits(text: &str, key: &str) -> Result<Vec<Duration>, String> {
    text.split(',').map(|part| seconds(part, key)).collect()
}

fn seconds(text: &str, key: &str) -> Result<Duration, String> {
    match text.trim().parse::<i64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::seconds(seconds)),
        _ => Err(format!("{key}: {text:?} is not a number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_delay_repeats() {
        let schedule = CheckSchedule::default();
        assert_eq!(schedule.wait_before(0), Duration::minutes(1));
        assert_eq!(schedule.wait_before(4), Duration::minutes(30));
        assert_eq!(schedule.wait_before(5), Duration::hours(1));
        assert_eq!(schedule.wait_before(40), Duration::hours(1));
        let quick = CheckSchedule::parse("1, 2").unwrap();
        assert_eq!(quick.wait_before(7), Duration::seconds(2));
        assert!(CheckSchedule::parse("1,x").is_err());
        assert!(CheckSchedule::parse("0").is_err());
        assert_eq!(quick.daily, Duration::days(1));
        assert_eq!(quick.certificate_wait(0), Duration::minutes(1), "its own");
    }
}
