//! Invitations: the only way into an organization. Owners and admins invite an e-mail
//! address; whoever signs in with that address sees the invitation and accepts or
//! declines it. The answer to an invitation is the same whether or not an account uses
//! the address, so inviting reveals nothing about who has an account.
//!
//! Three items, written and removed together:
//! - `ORG#<org> / INVITE#<id>`: the org's record (listed and revoked by its admins);
//! - `INVITEE#<email> / ORG#<org>`: the address's side, one per (address, org), so a
//!   second invitation replaces the first; listed by `/v1/me/invitations`;
//! - `INVITATION#<id>`: a pointer (org, address) that accept and decline start from.

use super::{n, s, Item, ItemExt, Key, StoreError};
use crate::domain::Role;
use crate::ids::{InvitationId, OrgId};
use crate::store::item::time;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};

/// How long an invitation can be accepted.
pub const INVITATION_LIFETIME: Duration = Duration::days(7);
/// Expired invitations stay visible (as `expired`) this long, then DynamoDB's TTL
/// removes them.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(7);

#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub org_slug: String,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    /// The user id of the owner or admin who invited.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// `pending` or `expired` (accepted, declined and revoked invitations are gone).
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.is_pending(now) {
            "pending"
        } else {
            "expired"
        }
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("invitation {what}"));
        Ok(Invitation {
            id: InvitationId::parse(item.str("invitation_id")?).ok_or_else(|| corrupt("id"))?,
            org_id: OrgId::parse(item.str("org_id")?).ok_or_else(|| corrupt("org_id"))?,
            org_slug: item.str("org_slug")?.to_owned(),
            org_name: item.str("org_name")?.to_owned(),
            email: item.str("email")?.to_owned(),
            role: Role::parse(item.str("role")?).map_err(StoreError::Corrupt)?,
            invited_by: item.str("invited_by")?.to_owned(),
            created_at: item.time("created_at")?,
            expires_at: item.time("expires_at")?,
        })
    }

    fn record(&self, key: Key) -> Item {
        let mut item = key.to_item();
        for (attr, value) in [
            ("invitation_id", self.id.as_str()),
            ("org_id", self.org_id.as_str()),
            ("org_slug", &self.org_slug),
            ("org_name", &self.org_name),
            ("email", &self.email),
            ("role", self.role.as_str()),
            ("invited_by", &self.invited_by),
        ] {
            item.insert(attr.into(), s(value));
        }
        item.insert("created_at".into(), time(self.created_at));
        item.insert("expires_at".into(), time(self.expires_at));
        item.insert(
            "ttl".into(),
            n((self.expires_at + KEPT_AFTER_EXPIRY).timestamp()),
        );
        item
    }

    pub fn key(&self) -> Key {
        Key::invitation(&self.org_id, self.id.as_str())
    }

    pub fn invitee_key(&self) -> Key {
        Key::invitee(&self.email, &self.org_id)
    }

    pub fn pointer_key(&self) -> Key {
        Key::invitation_pointer(self.id.as_str())
    }

    /// The org's record.
    pub fn item(&self) -> Item {
        self.record(self.key())
    }

    /// The address's side.
    pub fn invitee_item(&self) -> Item {
        self.record(self.invitee_key())
    }

    /// The pointer: only where the invitation lives.
    pub fn pointer_item(&self) -> Item {
        let mut item = self.pointer_key().to_item();
        item.insert("org_id".into(), s(self.org_id.as_str()));
        item.insert("email".into(), s(&self.email));
        // Who invited: accepting checks that they still may grant the role.
        item.insert("invited_by".into(), s(&self.invited_by));
        item.insert(
            "ttl".into(),
            n((self.expires_at + KEPT_AFTER_EXPIRY).timestamp()),
        );
        item
    }
}

/// The user who made the invitation a pointer leads to (pointers written before this was
/// recorded have none).
pub fn inviter_of_pointer(item: &Item) -> Option<crate::ids::UserId> {
    crate::ids::UserId::parse(item.opt_str("invited_by")?)
}

impl Invitation {
    /// What an audit entry of the invitation records.
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({ "invitation_id": self.id, "email": self.email, "role": self.role })
    }

    /// The writes that end the invitation (accepted, declined, revoked) by removing its
    /// three items — only if it is still the one read, each named [`INVITATION_GONE`]
    /// for the commit that finds it no longer pending.
    pub fn withdrawal(
        &self,
        table: &super::Table,
    ) -> Result<Vec<(&'static str, TransactWriteItem)>, StoreError> {
        use super::{delete, delete_if, Cond};
        Ok(vec![
            (
                INVITATION_GONE,
                delete(table, &self.key(), Some("attribute_exists(pk)")),
            ),
            (
                INVITATION_GONE,
                delete_if(
                    table,
                    &self.invitee_key(),
                    &Cond::new("invitation_id = :id").value(":id", s(self.id.as_str())),
                )?,
            ),
            (INVITATION_GONE, delete(table, &self.pointer_key(), None)),
        ])
    }
}

/// The invitation was accepted, declined, revoked or replaced by commit time.
pub const INVITATION_GONE: &str = "invitation_gone";

/// Where a pointer leads: (org, address).
pub fn pointer_target(item: &Item) -> Result<(OrgId, String), StoreError> {
    Ok((
        OrgId::parse(item.str("org_id")?)
            .ok_or_else(|| StoreError::Corrupt("invitation pointer".into()))?,
        item.str("email")?.to_owned(),
    ))
}
