//! Who may do what in an organization. The caller's role is read from the database on
//! every request (a demotion applies at once), the org id comes from the path (via the
//! caller's own membership), never from a body, and an org the caller is not a member
//! of — or one being deleted — answers 404, never 403, so existence does not leak.
//!
//! Round trips: (1) session + the caller's membership by slug (+ `also`), (2) the org
//! item (+ keys derived from the first read). The change, if any, is the third.

use crate::audit::{Actor, AuditDraft, Category, Target};
use crate::auth::{authenticate, Bearer, Caller};
use crate::domain::{OrgSlug, Permission, Role};
use crate::error::Error;
use crate::http::ClientInfo;
use crate::store::members::Membership;
use crate::store::orgs::{Org, ACTIVE};
use crate::store::{s, ChainOwner, Mutation};
use crate::store::{Item, Key};
use crate::AppState;
use std::collections::HashMap;

pub struct OrgAccess {
    pub caller: Caller,
    pub role: Role,
    pub org: Org,
    /// The org item as read (carries the audit chain head for the change).
    pub org_item: Item,
    /// The extra items asked for, by key.
    pub items: HashMap<Key, Item>,
}

impl OrgAccess {
    pub async fn load(state: &AppState, bearer: &Bearer, slug: &str) -> Result<Self, Error> {
        Self::load_with(state, bearer, slug, &[], |_, _| Vec::new()).await
    }

    /// `first`: keys known from the request, read with the session. `second`: keys that
    /// depend on what the first read found (given the caller's membership and those items).
    pub async fn load_with(
        state: &AppState,
        bearer: &Bearer,
        slug: &str,
        first: &[Key],
        second: impl FnOnce(&Membership, &HashMap<Key, Item>) -> Vec<Key>,
    ) -> Result<Self, Error> {
        let user = bearer.0.user_id.clone();
        // An invalid slug names no org; still authenticate first so a bad token is a 401.
        let slug = OrgSlug::parse(slug).ok();
        let membership_key = slug.as_ref().map(|s| Key::membership(&user, s.as_str()));
        let mut keys: Vec<Key> = membership_key.iter().cloned().collect();
        keys.extend_from_slice(first);
        let (caller, mut items) = authenticate(state, bearer, &keys).await?;
        let membership_item = membership_key
            .and_then(|k| items.remove(&k))
            .ok_or(Error::NotFound)?;
        let membership = Membership::from_item(&membership_item)?;

        let org_key = Key::org(&membership.org_id);
        let mut keys = vec![org_key.clone()];
        keys.extend(second(&membership, &items));
        let mut more = state.table.get_many(&keys).await?;
        let org_item = more.remove(&org_key).ok_or(Error::NotFound)?;
        let org = Org::from_item(&org_item)?.ok_or(Error::NotFound)?;
        items.extend(more);
        Ok(OrgAccess {
            caller,
            role: membership.role,
            org,
            org_item,
            items,
        })
    }

    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(match permission {
                Permission::Read => "your role cannot read this organization",
                Permission::Contribute => "your role cannot make this change",
                Permission::Administer => "only owners and admins can do this",
                Permission::DeleteOrganization => "only owners can delete the organization",
            }))
        }
    }

    pub fn org_key(&self) -> Key {
        Key::org(&self.org.id)
    }
}

impl OrgAccess {
    /// A change to this organization by the caller: recorded in the org's audit chain,
    /// and committed only while the org is still active (not being deleted).
    pub fn mutation(
        &self,
        action: &'static str,
        category: Category,
        target: Target,
        client: &ClientInfo,
    ) -> Mutation {
        let audit = AuditDraft::new(
            Actor::user(self.caller.user_id(), None),
            action,
            category,
            target,
            client,
        );
        Mutation::new(ChainOwner::existing(self.org_key(), &self.org_item), audit).require(
            "status",
            "=",
            s(ACTIVE),
        )
    }
}
