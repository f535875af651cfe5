//! Asks DNS whether a custom domain is its org's: the domain's CNAME must point to the
//! gateway, and `_plexmcp-challenge.<domain>` must hold the org's token. A CNAME alone is
//! not enough: a dangling record left by a previous owner could be claimed by anyone.
//!
//! The resolver asks `DNS_NAMESERVERS` (`ip:port`, comma-separated) or the system's
//! resolvers and is made afresh for each check, so nothing is cached between checks. A
//! whole check (both questions) gives up after 3 s, so a `POST …/custom-domain/verify`
//! whose name servers do not answer is a quick `pending` with the reason, not a hang.

use crate::domain::CustomDomain;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use std::net::SocketAddr;
use std::time::Duration;

/// The time one check (the CNAME and the TXT question together) may take.
pub const CHECK_BUDGET: Duration = Duration::from_secs(3);

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Verified,
    /// Not (or no longer) verified, and why, for a person to act on.
    NotVerified(String),
}

/// Where DNS questions go.
#[derive(Clone, Debug, Default)]
pub struct Nameservers(Vec<SocketAddr>);

impl Nameservers {
    /// The servers of `DNS_NAMESERVERS` (none: the system's resolvers).
    pub fn new(servers: &[SocketAddr]) -> Self {
        Nameservers(servers.to_vec())
    }

    fn resolver(&self) -> Result<TokioResolver, String> {
        let mut options = ResolverOpts::default();
        options.timeout = CHECK_BUDGET;
        options.attempts = 1;
        options.cache_size = 0;
        let builder = if self.0.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| e.to_string())?
        } else {
            let servers: Vec<NameServerConfig> = self
                .0
                .iter()
                .flat_map(|addr| {
                    [
                        NameServerConfig::new(*addr, Protocol::Udp),
                        NameServerConfig::new(*addr, Protocol::Tcp),
                    ]
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                TokioConnectionProvider::default(),
            )
        };
        Ok(builder.with_options(options).build())
    }

    /// Checks `domain` against the CNAME target and the token, within [`CHECK_BUDGET`].
    pub async fn check(&self, domain: &CustomDomain, cname_target: &str, token: &str) -> Finding {
        let asked = self.ask(domain, cname_target, token);
        tokio::time::timeout(CHECK_BUDGET, asked)
            .await
            .unwrap_or_else(|_| {
                Finding::NotVerified(format!(
                    "DNS timeout: no answer within {} s",
                    CHECK_BUDGET.as_secs()
                ))
            })
    }

    async fn ask(&self, domain: &CustomDomain, cname_target: &str, token: &str) -> Finding {
        let resolver = match self.resolver() {
            Ok(resolver) => resolver,
            Err(err) => return Finding::NotVerified(format!("DNS unavailable: {err}")),
        };
        let fqdn = |name: &str| format!("{}.", name.trim_end_matches('.'));
        let target = cname_target.trim_end_matches('.').to_lowercase();
        let cname = resolver
            .lookup(fqdn(domain.as_str()), RecordType::CNAME)
            .await;
        let cnames: Vec<String> = match cname {
            Ok(lookup) => lookup
                .iter()
                .filter_map(|data| match data {
                    RData::CNAME(name) => {
                        Some(name.0.to_ascii().trim_end_matches('.').to_lowercase())
                    }
                    _ => None,
                })
                .collect(),
            Err(err) if missing(&err) => Vec::new(),
            Err(err) => return Finding::NotVerified(failure(&err)),
        };
        match cnames.first() {
            None => return Finding::NotVerified("no CNAME record".into()),
            Some(found) if *found != target => {
                return Finding::NotVerified(format!("CNAME points to {found}"))
            }
            Some(_) => {}
        }
        let txt = resolver.txt_lookup(fqdn(&domain.challenge_name())).await;
        let tokens: Vec<String> = match txt {
            Ok(lookup) => lookup
                .iter()
                .map(|txt| {
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect(),
            Err(err) if missing(&err) => Vec::new(),
            Err(err) => return Finding::NotVerified(failure(&err)),
        };
        if tokens.iter().any(|found| found.trim() == token) {
            Finding::Verified
        } else {
            Finding::NotVerified("TXT token missing".into())
        }
    }
}

/// No such name, or no record of the type asked.
fn missing(err: &ResolveError) -> bool {
    err.is_no_records_found() || err.is_nx_domain()
}

fn failure(err: &ResolveError) -> String {
    let text = err.to_string();
    if text.to_lowercase().contains("timed out") || text.to_lowercase().contains("timeout") {
        "DNS timeout".into()
    } else {
        format!("DNS error: {text}")
    }
}
