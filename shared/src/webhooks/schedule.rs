//! When a failed delivery is tried again: the Svix schedule (5 s, 5 min, 30 min, 2 h,
//! 5 h, 10 h, 10 h after the first attempt's failure, each ±20 % jitter), or
//! `WEBHOOK_RETRY_SCHEDULE` (seconds, comma-separated). A receiver's `Retry-After` on 429
//! or 503 is honoured within [scheduled, 2 × scheduled].

use chrono::Duration;
use rand::Rng;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<i64>);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(vec![5, 300, 1800, 7200, 18000, 36000, 36000])
    }
}

impl RetrySchedule {
    /// `WEBHOOK_RETRY_SCHEDULE`'s form: delays in seconds, comma-separated.
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays = text
            .split(',')
            .map(|d| {
                d.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|s| (0..=86_400).contains(s))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                format!("WEBHOOK_RETRY_SCHEDULE must be seconds, comma-separated: {text:?}")
            })?;
        Ok(RetrySchedule(delays))
    }

    /// Attempts in all: the first and one per delay.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The wait before attempt `next` (2 = the first retry), or `None` when the schedule
    /// is spent. `retry_after` is what the receiver asked for, if anything.
    pub fn delay_before(&self, next: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let scheduled = *self.0.get(next.checked_sub(2)? as usize)?;
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        let planned = Duration::milliseconds((scheduled as f64 * 1000.0 * jitter) as i64);
        Some(match retry_after {
            Some(asked) => {
                let (low, high) = (
                    Duration::seconds(scheduled),
                    Duration::seconds(2 * scheduled),
                );
                asked.clamp(low, high.max(low))
            }
            None => planned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svix_schedule_with_jitter() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        for (next, seconds) in [
            (2, 5),
            (3, 300),
            (4, 1800),
            (5, 7200),
            (6, 18000),
            (7, 36000),
            (8, 36000),
        ] {
            let delay = schedule
                .delay_before(next, None)
                .unwrap()
                .num_milliseconds() as f64;
            let planned = seconds as f64 * 1000.0;
            assert!(
                (planned * 0.8..=planned * 1.2).contains(&delay),
                "attempt {next}: {delay}"
            );
        }
        assert_eq!(schedule.delay_before(9, None), None, "spent");
        assert_eq!(schedule.delay_before(1, None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let schedule = RetrySchedule::default();
        let d = |s| Some(Duration::seconds(s));
        assert_eq!(schedule.delay_before(3, d(400)), d(400));
        assert_eq!(
            schedule.delay_before(3, d(10)),
            d(300),
            "not sooner than scheduled"
        );
        assert_eq!(
            schedule.delay_before(3, d(99_999)),
            d(600),
            "not later than twice"
        );
    }

    #[test]
    fn the_schedule_can_be_configured() {
        assert_eq!(
            RetrySchedule::parse("0, 1,2").unwrap(),
            RetrySchedule(vec![0, 1, 2])
        );
        for bad in ["", "a", "1,,2", "-1", "90000"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
