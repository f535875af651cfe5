//! The caller's own account: their profile, read with the session, and the changes to it
//! recorded in their audit chain (used by identity's login, second factor, 2FA settings,
//! sessions, profile and invitations, and by the organization's deletion, which asks for
//! the owner's password and second factor).

use crate::audit::{Actor, AuditDraft, Category, Target};
use crate::auth::{authenticate, Bearer};
use crate::client_info::ClientInfo;
use crate::mutation::{ChainOwner, Mutation};
use crate::store::users::User;
use crate::store::{Item, Key};
use crate::{AppState, Error};

pub fn actor(user: &User) -> Actor {
    Actor::user(&user.id, Some(&user.email))
}

/// A change to the user's own account, recorded in their audit chain.
pub fn user_mutation(
    user: &User,
    profile: &Item,
    action: &'static str,
    target: Target,
    client: &ClientInfo,
) -> Mutation {
    let audit = AuditDraft::new(
        actor(user),
        action,
        Category::Authentication,
        target,
        client,
    );
    Mutation::new(ChainOwner::existing(Key::user(&user.id), profile), audit)
}

/// The authenticated caller's profile item, read with the session in one round trip.
pub async fn caller_profile(state: &AppState, bearer: &Bearer) -> Result<(User, Item), Error> {
    let user_key = Key::user(&bearer.0.user_id);
    let (_, mut items) = authenticate(state, bearer, std::slice::from_ref(&user_key)).await?;
    let profile = items.remove(&user_key).ok_or(Error::Unauthorized)?;
    Ok((User::from_item(&profile)?, profile))
}
