//! The HTTP side of a delivery: one shared client that connects only to vetted addresses
//! (its resolver refuses a name when any address is not public), follows no redirect,
//! uses no proxy, and gives up after 5 s connecting or 15 s in all.

use chrono::{DateTime, Duration, Utc};
use reqwest::dns::{Addrs, Name, Resolving};
use shared::webhooks::target::{all_public, Resolve, SystemResolver};
use std::sync::Arc;

pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
pub const TOTAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// The most of a response body kept in the delivery log.
pub const MAX_LOGGED_BODY: usize = 20 * 1024;
pub const USER_AGENT: &str = "PlexMCP-Webhooks/1.0";

/// What the endpoint answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After` (seconds or an HTTP date), when given.
    pub retry_after: Option<Duration>,
    /// The start of the body, at most `MAX_LOGGED_BODY` bytes.
    pub body: String,
}

pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new(allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(VettingResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Sender { client })
    }

    /// POSTs `body` with `headers`; `Err` when no answer came (refused target,
    /// connection error, timeout).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: String,
    ) -> Result<Answer, String> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, Utc::now()));
        let mut kept = Vec::new();
        while kept.len() < MAX_LOGGED_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                // A body cut short still leaves the status: the answer counts.
                Ok(None) | Err(_) => break,
            }
        }
        kept.truncate(MAX_LOGGED_BODY);
        Ok(Answer {
            status,
            retry_after,
            body: String::from_utf8_lossy(&kept).into_owned(),
        })
    }
}

/// A reqwest error as the delivery log says it, with the reason behind it.
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut reason = String::new();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    if reason.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {reason}")
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<i64>() {
        return (seconds >= 0).then(|| Duration::seconds(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some((at.with_timezone(&Utc) - now).max(Duration::zero()))
}

/// Resolves an endpoint's name and hands reqwest only addresses that passed the SSRF
/// guard: the connection goes to what was checked, with no second lookup.
struct VettingResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let lookup = SystemResolver.resolve(&host, 0);
            let addresses = tokio::time::timeout(CONNECT_TIMEOUT, lookup)
                .await
                .map_err(|_| format!("resolving {host} timed out"))??;
            if addresses.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if !allow_private {
                all_public(&addresses).map_err(|refused| format!("{host}: {refused}"))?;
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("120", now), Some(Duration::seconds(120)));
        assert_eq!(
            retry_after("Sun, 29 Nov 2026 10:05:00 GMT", now),
            Some(Duration::minutes(5))
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[tokio::test]
    async fn a_name_is_resolved_only_to_public_addresses_as_in_aws() {
        let vetting = VettingResolver {
            allow_private: false,
        };
        let refused = vetting.resolve("localhost".parse().unwrap()).await;
        let message = refused.err().expect("localhost is loopback").to_string();
        assert!(message.contains("loopback"), "{message}");
        let allowed = VettingResolver {
            allow_private: true,
        };
        assert!(allowed.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
