//! Configuration, read once at start from environment variables (set by `template.yaml`
//! in AWS, by the local stack's bootstrap locally).

use crate::domain::hostname::Reserved;
use crate::error::Error;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Where committed events are relayed for webhook fan-out.
    pub events_queue_url: String,
    /// Where fan-out puts one job per subscribed webhook endpoint.
    pub webhook_deliveries_queue_url: String,
    /// Where the scheduled checks of pending custom domains wait.
    pub domain_checks_queue_url: String,
    /// Where new export jobs wait for the export worker.
    pub exports_queue_url: String,
    /// Where organizations being deleted wait for the deletion worker.
    pub org_deletions_queue_url: String,
    /// Where e-mails wait for the mail worker (`MAIL_QUEUE_URL`).
    pub mail_queue_url: String,
    /// `APP_URL`: the settings pages, which links in e-mails open.
    pub app_url: String,
    /// `MAIL_FROM_ADDRESS`: the SES identity e-mails are sent from (the mail worker only).
    pub mail_from_address: Option<String>,
    /// `MAIL_CONFIGURATION_SET`: the SES configuration set of every e-mail, if any.
    pub mail_configuration_set: Option<String>,
    /// `BILLING_RETENTION_DAYS`: how long a deleted org's billing records (and its
    /// tombstone) are kept.
    pub billing_retention_days: i64,
    /// The bucket of export files (`EXPORT_BUCKET`).
    pub export_bucket: String,
    /// The data keys (a key ring: `crypto::Keyring`) of secrets stored encrypted, PIN
    /// peppers and cursor signatures, when given in `DATA_KEY` itself; else read from the
    /// secret `data_key_secret` names by the first request that needs them
    /// (`AppState::keys`).
    pub data_keys: Option<crate::crypto::Keyring>,
    /// `DATA_KEY_SECRET_ARN`: the Secrets Manager secret holding the key ring — given only
    /// to the functions that seal, pepper or sign, so no key is in any environment.
    pub data_key_secret: Option<String>,
    /// Add `x-plexmcp-dynamodb-calls` to responses (local stack and tests only).
    pub expose_round_trips: bool,
    /// `LOCAL_HTTP_COOKIES=1`: the browser session cookie goes without `Secure` to a
    /// loopback host, where the local stack serves plain http (never set in AWS).
    pub local_http_cookies: bool,
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS=1`: webhooks may use http and reach loopback and
    /// private addresses (local testing only; never set in AWS).
    pub webhook_allow_private_targets: bool,
    /// `PLATFORM_DOMAIN`: the zone of the orgs' host names (no custom domain under it).
    pub platform_domain: String,
    /// `PLATFORM_ZONE_ID`: the Route53 hosted zone of `PLATFORM_DOMAIN`, where the events
    /// worker writes the orgs' host names (only that function is given it).
    pub platform_zone_id: Option<String>,
    /// The HTTP API a verified custom domain is mapped to, and its stage (`HTTP_API_ID`,
    /// `HTTP_API_STAGE`, `$default` unless set): the domain worker's.
    pub http_api_id: Option<String>,
    pub http_api_stage: String,
    /// `GATEWAY_CNAME_TARGET`: what custom domains must CNAME to.
    pub gateway_cname_target: String,
    /// `DNS_NAMESERVERS` (`ip:port,ip:port`): where custom-domain checks ask (the system's
    /// resolvers if empty).
    pub dns_nameservers: Vec<SocketAddr>,
    /// `CUSTOM_DOMAIN_QUOTA`: how many custom domains may hold a claim (an ACM certificate
    /// and an API Gateway domain name each); API Gateway's regional default, 120, unless set.
    pub custom_domain_quota: i64,
}

/// `DNS_NAMESERVERS`: comma-separated `ip:port` pairs; empty or unset → none.
fn nameservers(text: &str) -> Result<Vec<SocketAddr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<SocketAddr>()
                .map_err(|_| format!("DNS_NAMESERVERS: {part:?} is not an ip:port"))
        })
        .collect()
}

/// `EXPOSE_DYNAMODB_CALLS=1`: answers carry `x-plexmcp-dynamodb-calls` (local stack and
/// tests only). Read alone by the settings pages, which need no other configuration.
pub fn expose_round_trips(lookup: impl Fn(&str) -> Option<String>) -> bool {
    lookup("EXPOSE_DYNAMODB_CALLS").as_deref() == Some("1")
}

impl Config {
    /// The names custom domains may not point into: this deployment's own.
    pub fn reserved(&self) -> Reserved<'_> {
        Reserved {
            platform_domain: &self.platform_domain,
            cname_target: &self.gateway_cname_target,
        }
    }

    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = |key: &str| {
            lookup(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Internal(format!("configuration variable {key} is not set")))
        };
        Ok(Config {
            table_name: required("TABLE_NAME")?,
            events_queue_url: required("EVENTS_QUEUE_URL")?,
            webhook_deliveries_queue_url: required("WEBHOOK_DELIVERIES_QUEUE_URL")?,
            domain_checks_queue_url: required("DOMAIN_CHECKS_QUEUE_URL")?,
            exports_queue_url: required("EXPORTS_QUEUE_URL")?,
            export_bucket: required("EXPORT_BUCKET")?,
            org_deletions_queue_url: required("ORG_DELETIONS_QUEUE_URL")?,
            mail_queue_url: required("MAIL_QUEUE_URL")?,
            app_url: lookup("APP_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "https://app.plexmcp.com".into()),
            mail_from_address: lookup("MAIL_FROM_ADDRESS").filter(|v| !v.is_empty()),
            mail_configuration_set: lookup("MAIL_CONFIGURATION_SET").filter(|v| !v.is_empty()),
            billing_retention_days: match lookup("BILLING_RETENTION_DAYS").filter(|v| !v.is_empty()) {
                None => 2555,
                Some(days) => days
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (1..=36_500).contains(d))
                    .ok_or_else(|| {
                        Error::Internal(format!(
                            "BILLING_RETENTION_DAYS must be a number of days from 1 to 36500, not {days:?}"
                        ))
                    })?,
            },
            data_keys: lookup("DATA_KEY")
                .filter(|v| !v.is_empty())
                .map(|text| crate::crypto::Keyring::parse(&text).map_err(Error::Internal))
                .transpose()?,
            data_key_secret: lookup("DATA_KEY_SECRET_ARN").filter(|v| !v.is_empty()),
            expose_round_trips: expose_round_trips(&lookup),
            local_http_cookies: lookup("LOCAL_HTTP_COOKIES").as_deref() == Some("1"),
            webhook_allow_private_targets: lookup("WEBHOOK_ALLOW_PRIVATE_TARGETS").as_deref()
                == Some("1"),
            platform_domain: lookup("PLATFORM_DOMAIN")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "plexmcp.local".into()),
            platform_zone_id: lookup("PLATFORM_ZONE_ID").filter(|v| !v.is_empty()),
            http_api_id: lookup("HTTP_API_ID").filter(|v| !v.is_empty()),
            http_api_stage: lookup("HTTP_API_STAGE")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "$default".into()),
            gateway_cname_target: lookup("GATEWAY_CNAME_TARGET")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "gateway.plexmcp.com".into()),
            dns_nameservers: nameservers(&lookup("DNS_NAMESERVERS").unwrap_or_default())
                .map_err(Error::Internal)?,
            custom_domain_quota: match lookup("CUSTOM_DOMAIN_QUOTA").filter(|v| !v.is_empty()) {
                None => 120,
                Some(quota) => quota.parse::<i64>().ok().filter(|q| *q > 0).ok_or_else(|| {
                    Error::Internal(format!(
                        "CUSTOM_DOMAIN_QUOTA must be a positive number of domains, not {quota:?}"
                    ))
                })?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::nameservers;

    #[test]
    fn nameservers_are_ip_port_pairs() {
        assert!(nameservers("").unwrap().is_empty());
        assert_eq!(nameservers("127.0.0.1:5353, [::1]:53").unwrap().len(), 2);
        assert!(nameservers("127.0.0.1").is_err());
        assert!(nameservers("dns.example:53").is_err());
    }
}
