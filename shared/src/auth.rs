//! Session tokens and the authenticated caller.
//!
//! A token is `pms.<user id>.<session id>.<secret>`: the ids only locate the session item
//! (one consistent read, no global token index to keep in step), the 256-bit secret is
//! what authenticates, and only its SHA-256 is stored. Clients treat the token as opaque.

use crate::crypto::{random_secret, sha256_hex};
use crate::error::Error;
use crate::http::browser::presented_token;
use crate::ids::{ChallengeId, SessionId, UserId};
use crate::store::sessions::{touch_if_stale, Session};
use crate::store::{Item, Key};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use std::collections::HashMap;

const SESSION_PREFIX: &str = "pms";
const CHALLENGE_PREFIX: &str = "pmc";

/// `<prefix>.<user id>.<id>.<43-character secret>`
fn split<'a>(raw: &'a str, prefix: &str) -> Option<(UserId, &'a str, &'a str)> {
    let mut parts = raw.split('.');
    let (found, user, id, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if found != prefix || parts.next().is_some() || secret.len() != 43 {
        return None;
    }
    Some((UserId::parse(user)?, id, secret))
}

#[derive(Clone)]
pub struct SessionToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    secret: String,
}

impl SessionToken {
    /// A new token; `to_string` is shown once to the client, `secret_hash` is stored.
    pub fn issue(user_id: UserId, session_id: SessionId) -> Self {
        SessionToken {
            user_id,
            session_id,
            secret: random_secret(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (user_id, id, secret) = split(raw, SESSION_PREFIX)?;
        Some(SessionToken {
            user_id,
            session_id: SessionId::parse(id)?,
            secret: secret.to_owned(),
        })
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }

    pub fn session_key(&self) -> Key {
        Key::session(&self.user_id, &self.session_id)
    }
}

impl std::fmt::Display for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{SESSION_PREFIX}.{}.{}.{}",
            self.user_id, self.session_id, self.secret
        )
    }
}

/// Proof that the password step of a login succeeded, traded for a session with a
/// second factor; same shape and storage rule as a session token.
pub struct ChallengeToken {
    pub user_id: UserId,
    pub challenge_id: ChallengeId,
    secret: String,
}

impl ChallengeToken {
    pub fn issue(user_id: UserId) -> Self {
        ChallengeToken {
            user_id,
            challenge_id: ChallengeId::generate(),
            secret: random_secret(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (user_id, id, secret) = split(raw, CHALLENGE_PREFIX)?;
        Some(ChallengeToken {
            user_id,
            challenge_id: ChallengeId::parse(id)?,
            secret: secret.to_owned(),
        })
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }

    pub fn key(&self) -> Key {
        Key::challenge(&self.user_id, &self.challenge_id)
    }
}

impl std::fmt::Display for ChallengeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{CHALLENGE_PREFIX}.{}.{}.{}",
            self.user_id, self.challenge_id, self.secret
        )
    }
}

/// The session token of the request (`Authorization: Bearer`, or the browser session
/// cookie: `http::browser`); a missing or malformed one is a 401 before any I/O.
pub struct Bearer(pub SessionToken);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        SessionToken::parse(presented_token(parts)?)
            .map(Bearer)
            .ok_or(Error::Unauthorized)
    }
}

/// A caller whose session was checked on this very request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub session: Session,
}

impl Caller {
    pub fn user_id(&self) -> &UserId {
        &self.session.user_id
    }
}

/// Checks the session and reads `also` in the same round trip. A revoked, expired or
/// idle session is a 401 on its very next request (the read is strongly consistent).
pub async fn authenticate(
    state: &AppState,
    bearer: &Bearer,
    also: &[Key],
) -> Result<(Caller, HashMap<Key, Item>), Error> {
    let token = &bearer.0;
    let session_key = token.session_key();
    let mut keys = vec![session_key.clone()];
    keys.extend_from_slice(also);
    let mut items = state.table.get_many(&keys).await?;
    let caller = authenticate_with(state, bearer, items.remove(&session_key).as_ref()).await?;
    Ok((caller, items))
}

/// Checks the session against its item, which the caller read strongly consistently
/// itself (in a query of the user's partition, say).
pub async fn authenticate_with(
    state: &AppState,
    bearer: &Bearer,
    session_item: Option<&Item>,
) -> Result<Caller, Error> {
    let now = Utc::now();
    let session =
        Session::verify(session_item, &bearer.0.secret_hash(), now).ok_or(Error::Unauthorized)?;
    touch_if_stale(&state.table, &session, now).await?;
    Ok(Caller { session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let token = SessionToken::issue(UserId::generate(), SessionId::generate());
        let raw = token.to_string();
        let parsed = SessionToken::parse(&raw).unwrap();
        assert_eq!(parsed.secret_hash(), token.secret_hash());
        assert!(SessionToken::parse(&raw.replacen("pms", "xyz", 1)).is_none());
        assert!(SessionToken::parse(&format!("{raw}.extra")).is_none());
        assert!(SessionToken::parse(&raw[..raw.len() - 1]).is_none());
        assert!(SessionToken::parse("pmcp_abc").is_none());
        let challenge = ChallengeToken::issue(UserId::generate());
        assert!(ChallengeToken::parse(&challenge.to_string()).is_some());
        assert!(
            SessionToken::parse(&challenge.to_string()).is_none(),
            "a challenge is not a session"
        );
    }
}
