//! PinGate: the server-side PIN check of every PIN-gated action (deleting MCPs, revoking
//! API keys, removing team members, changing billing, changing or disabling the PIN).
//!
//! With PIN protection on: no `X-PlexMCP-PIN` → 403 `pin_required`; a wrong one → 403
//! `pin_invalid` with `attempts_remaining`; after 5 consecutive wrong PINs for the org,
//! 423 `pin_locked` with `retry_after` for 15 minutes, and the owners are told by mail
//! (in the transaction that records the lock). Each attempt is reserved with a
//! conditional update on the org item *before* the PIN is checked, so 20 parallel guesses
//! get at most 5 checked. A correct PIN resets the counter in the same transaction as
//! the action it allows — or, when the action then does not commit (a no-op, a refusal),
//! right after, so that correct PINs never add up to a lock.
//!
//! What the gate decided on is a condition of the action's commit: PIN protection off
//! as read (it cannot be turned on in between), or the very PIN that was checked
//! (`pin_set_at` as read: it cannot be changed in between).
//!
//! `load` reserves the attempt with the read of the org: when the caller may take the
//! action and presents a PIN, the org item comes back from the reservation's
//! `UpdateItem` (conditioned on PIN protection being on, so it reserves nothing when it is
//! off; the org comes back either way), sent beside the read of the action's target. A
//! gated action is then three round trips: credential, org + target, commit.

use crate::access::{Credential, OrgAccess, OrgWrite};
use crate::attempts::{Precondition, Required, Reservation, PIN};
use crate::audit::AuditEntry;
use crate::audit::{Category, Target};
use crate::client_info::ClientInfo;
use crate::domain::password::verify_secret;
use crate::domain::Pin;
use crate::domain::{Permission, Role};
use crate::error::Error;
use crate::ids::OrgId;
use crate::mail::{Links, Mail};
use crate::mutation::{CommitError, Mutation};
use crate::store::keys::MEMBER_PREFIX;
use crate::store::members::Member;
use crate::store::orgs::ACTIVE;
use crate::store::{n, Item, ItemExt, Key};
use crate::AppState;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use std::convert::Infallible;

pub const PIN_HEADER: &str = "x-plexmcp-pin";
/// The org attribute naming the data key whose pepper the PIN hash was made with.
pub const PIN_KEY: &str = "pin_key";

/// The PIN the request presents, if any.
pub struct PinHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PinHeader {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(PinHeader(
            parts
                .headers
                .get(PIN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned()),
        ))
    }
}

/// A passed gate; the action commits through it.
#[must_use]
pub struct PinPassed {
    checked: bool,
    org_key: Key,
    /// `pin_protection_enabled` and `pin_set_at` as the gate read them.
    decided: [(&'static str, Option<AttributeValue>); 2],
}

impl PinPassed {
    fn new(access: &OrgAccess, checked: bool) -> Self {
        let read = |attr: &'static str| (attr, access.org_item.get(attr).cloned());
        PinPassed {
            checked,
            org_key: access.org_key(),
            decided: [read("pin_protection_enabled"), read("pin_set_at")],
        }
    }

    /// The action's mutation, holding only while the PIN settings are as the gate read
    /// them; a checked PIN resets the failure counter in the same transaction.
    pub fn apply(&self, mutation: Mutation) -> Mutation {
        let mutation = self.decided.iter().fold(mutation, |m, (attr, as_read)| {
            m.decided_on(attr, as_read.clone())
        });
        if self.checked {
            mutation.set(PIN.counter, n(0))
        } else {
            mutation
        }
    }

    /// Commits the gated action; if it does not commit, a checked PIN still resets the
    /// failure counter.
    pub async fn commit(
        self,
        state: &AppState,
        mutation: Mutation,
    ) -> Result<AuditEntry, CommitError> {
        let result = self.apply(mutation).commit(state).await;
        if result.is_err() {
            self.release(state).await;
        }
        result
    }

    /// The gate was passed but the action is refused: a checked PIN still resets the
    /// failure counter (`release`); `error` is the answer.
    pub async fn refuse(&self, state: &AppState, error: Error) -> Error {
        self.release(state).await;
        error
    }

    /// The gate was passed but the action does nothing (a no-op): a checked PIN resets
    /// the failure counter on its own.
    pub async fn release(&self, state: &AppState) {
        if !self.checked {
            return;
        }
        let reset = state
            .table
            .client()
            .update_item()
            .table_name(state.table.name())
            .set_key(Some(self.org_key.to_item()))
            .update_expression("SET #c = :zero")
            .condition_expression("attribute_exists(pk) AND #c > :zero")
            .expression_attribute_names("#c", PIN.counter)
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        if let Err(err) = reset {
            let missed = err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception());
            if !missed {
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "PIN counter reset failed");
            }
        }
    }
}

/// Attempts are reserved only on an active org with PIN protection on.
const PROTECTED: Precondition = &[
    ("pin_protection_enabled", Required::True),
    ("status", Required::Is(ACTIVE)),
];

/// A PIN-gated action's access, target (`target(org id)`, read beside the org) and gate,
/// in that order: the caller may take it (`permission`, as a person), then the PIN. From
/// here on, every refusal of the action goes through `PinPassed::refuse`.
pub async fn load(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    permission: Permission,
    presented: &PinHeader,
    client: &ClientInfo,
    target: impl Fn(&OrgId) -> Option<Key>,
) -> Result<(OrgAccess, Option<Item>, PinPassed), Error> {
    let reserve = |membership: &crate::store::members::Membership| {
        let may = presented.0.is_some() && membership.role.allows(permission);
        may.then(|| Box::pin(reserve(state, Key::org(&membership.org_id))) as OrgWrite<'_>)
    };
    let (access, item) =
        OrgAccess::load_writing_org(state, credential, slug, target, reserve).await?;
    access.require(permission)?;
    access.require_person()?;
    let gate = check(state, &access, presented, client).await?;
    Ok((access, item, gate))
}

/// The org item with a PIN attempt reserved on it when PIN protection is on.
async fn reserve(state: &AppState, org: Key) -> Result<Option<(Item, bool)>, Error> {
    match PIN
        .reserve_if(&state.table, &org, PROTECTED, Utc::now())
        .await?
    {
        Reservation::Granted(item) => Ok(Some((item, true))),
        Reservation::Declined(item) => Ok(Some((item, false))),
        Reservation::Missing => Ok(None),
        Reservation::Locked { retry_after } => Err(Error::PinLocked { retry_after }),
    }
}

/// The gate of a PIN-gated action: open when PIN protection is off.
pub async fn check(
    state: &AppState,
    access: &OrgAccess,
    presented: &PinHeader,
    client: &ClientInfo,
) -> Result<PinPassed, Error> {
    if !access.org.pin_protection_enabled {
        return Ok(PinPassed::new(access, false));
    }
    let presented = presented.0.clone().ok_or(Error::PinRequired)?;
    // Reserved with the org read (`load`), or now.
    let org = if access.pin_reserved {
        access.org_item.clone()
    } else {
        match PIN
            .reserve(&state.table, &access.org_key(), Utc::now())
            .await?
        {
            Reservation::Granted(org) => org,
            Reservation::Locked { retry_after } => return Err(Error::PinLocked { retry_after }),
            Reservation::Missing | Reservation::Declined(_) => return Err(Error::NotFound),
        }
    };
    let hash = org.str("pin_hash")?.to_owned();
    // Peppered with the data key that was current when the PIN was set.
    let pepper = state
        .keys()
        .await?
        .pin_pepper(org.opt_str(PIN_KEY))
        .ok_or_else(|| Error::Internal("the PIN's data key is no longer in DATA_KEY".into()))?;
    let peppered = Pin::peppered(&presented, &pepper);
    let matches = tokio::task::spawn_blocking(move || verify_secret(&peppered, &hash))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    if matches {
        return Ok(PinPassed::new(access, true));
    }
    let remaining = (PIN.max - org.opt_num(PIN.counter).unwrap_or(PIN.max)).max(0) as u32;
    let action = if remaining == 0 {
        "security.pin_locked"
    } else {
        "security.pin_failed"
    };
    let invalid = Error::PinInvalid {
        attempts_remaining: remaining,
    };
    let mut refusal = access.mutation(
        action,
        Category::Settings,
        Target::new("organization", &access.org.id),
        client,
    );
    if remaining == 0 {
        for mail in lock_notices(state, access).await? {
            refusal = refusal.emit(mail);
        }
    }
    Err(refusal.refuse(state, invalid).await)
}

/// Owners told of a lock at most (a transaction holds 100 writes); the first by join.
const OWNERS_TOLD: usize = 25;

/// The mails that tell the org's owners its PIN is locked.
async fn lock_notices(state: &AppState, access: &OrgAccess) -> Result<Vec<Mail>, Error> {
    let org = &access.org;
    let members = state
        .table
        .query_all(&access.org_key().pk, MEMBER_PREFIX)
        .await?;
    let mut owners = members
        .iter()
        .map(Member::from_item)
        .filter(|m| m.as_ref().map_or(true, |m| m.role == Role::Owner))
        .collect::<Result<Vec<_>, _>>()?;
    owners.sort_by_key(|m| m.joined_at);
    let (links, now) = (Links(&state.config.app_url), Utc::now());
    Ok(owners
        .iter()
        .take(OWNERS_TOLD)
        .map(|owner| {
            let partition = access.org_key().pk;
            Mail::pin_locked(partition, &owner.email, &org.name, &org.slug, &links, now)
        })
        .collect())
}
