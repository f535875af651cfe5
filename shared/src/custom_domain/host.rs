//! Which org a host name serves, for the gateway's routing: an org's platform host name
//! `<slug>.<PLATFORM_DOMAIN>`, or a custom domain whose claim names the org. A custom
//! domain is resolved in one read of its claim, which holds the org, its slug and the
//! domain's status (`DomainRecord::claim_item`); only an `active` one serves API calls.

use super::ACTIVE;
use crate::store::{ItemExt, Key, StoreError};
use crate::AppState;

/// The org a host name belongs to, and whether it serves: `active`, or the domain's
/// status (the org's, `deleting`, for a platform host name of an org being deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostOwner {
    pub org_id: String,
    pub slug: String,
    pub status: String,
}

impl HostOwner {
    pub fn serves(&self) -> bool {
        self.status == ACTIVE
    }
}

/// The owner of `host` (any case, a trailing dot, no port), if an org has it.
pub async fn owner_of(state: &AppState, host: &str) -> Result<Option<HostOwner>, StoreError> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let platform = format!(".{}", state.config.platform_domain);
    if let Some(slug) = host
        .strip_suffix(&platform)
        .filter(|slug| !slug.is_empty() && !slug.contains('.'))
    {
        return platform_host(state, slug).await;
    }
    let Some(claim) = state.table.get(&Key::domain_claim(&host)).await? else {
        return Ok(None);
    };
    // A claim written before claims named the slug and status (or a pending domain's,
    // from before only proof claimed a name) resolves no host.
    let (Some(slug), Some(status)) = (claim.opt_str("slug"), claim.opt_str("status")) else {
        return Ok(None);
    };
    Ok(Some(HostOwner {
        org_id: claim.str("org_id")?.to_owned(),
        slug: slug.to_owned(),
        status: status.to_owned(),
    }))
}

/// `<slug>.<PLATFORM_DOMAIN>`: the slug's pointer, then the org's status.
async fn platform_host(state: &AppState, slug: &str) -> Result<Option<HostOwner>, StoreError> {
    let Some(pointer) = state.table.get(&Key::slug(slug)).await? else {
        return Ok(None);
    };
    let org_id = pointer.str("org_id")?.to_owned();
    let Some(org) = crate::ids::OrgId::parse(&org_id) else {
        return Err(StoreError::Corrupt("slug pointer org_id".into()));
    };
    let Some(org) = state.table.get(&Key::org(&org)).await? else {
        return Ok(None);
    };
    Ok(Some(HostOwner {
        org_id,
        slug: slug.to_owned(),
        status: org.str("status")?.to_owned(),
    }))
}
