//! Proof that an account receives mail at its address, and the devices it signed in from.
//!
//! A verification token is `pmv.<user id>.<secret>`: the user id locates the profile (one
//! point read, no global token index), the 256-bit secret is what proves the mailbox,
//! and only its SHA-256 is kept, on the profile with its expiry. A new token replaces
//! the old one (a re-sent link invalidates the previous mail), and verifying removes it
//! under the condition that it is still the one read, so a token works once.

use crate::crypto::{constant_time_eq, random_secret, sha256_hex};
use crate::ids::UserId;
use crate::store::item::time;
use crate::store::{s, Item, ItemExt};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

const PREFIX: &str = "pmv";
/// How long a verification link works.
pub const TOKEN_LIFETIME: Duration = Duration::hours(24);
/// The shortest time between two verification mails of one account.
pub const RESEND_INTERVAL: Duration = Duration::seconds(60);
/// Devices an account remembers for "new sign-in" notices (the oldest is forgotten).
const KNOWN_DEVICES: usize = 20;

pub struct VerificationToken {
    pub user_id: UserId,
    secret: String,
}

impl VerificationToken {
    pub fn issue(user_id: UserId) -> Self {
        VerificationToken {
            user_id,
            secret: random_secret(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (prefix, user, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != PREFIX || parts.next().is_some() || secret.len() != 43 {
            return None;
        }
        Some(VerificationToken {
            user_id: UserId::parse(user)?,
            secret: secret.to_owned(),
        })
    }

    pub fn secret_hash(&self) -> String {
        sha256_hex(self.secret.as_bytes())
    }

    /// The profile attributes of a token just issued (`now`): its hash, expiry and when
    /// it was sent (for the re-send throttle).
    pub fn profile_attributes(&self, now: DateTime<Utc>) -> [(&'static str, AttributeValue); 3] {
        [
            ("verification_hash", s(self.secret_hash())),
            ("verification_expires_at", time(now + TOKEN_LIFETIME)),
            ("verification_sent_at", time(now)),
        ]
    }

    /// Whether this is the profile's current token, unexpired: the stored hash it matched.
    pub fn matches<'a>(&self, profile: &'a Item, now: DateTime<Utc>) -> Option<&'a str> {
        let stored = profile.opt_str("verification_hash")?;
        let expires = profile.time("verification_expires_at").ok()?;
        (expires > now && constant_time_eq(stored, &self.secret_hash())).then_some(stored)
    }
}

impl std::fmt::Display for VerificationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX}.{}.{}", self.user_id, self.secret)
    }
}

/// When a profile's last verification mail went out.
pub fn last_sent(profile: &Item) -> Option<DateTime<Utc>> {
    profile.time("verification_sent_at").ok()
}

/// A device as a sign-in notice tells it apart: its user agent (the address changes too
/// often to be one), hashed, so the profile keeps no user agent strings.
pub fn device_of(user_agent: Option<&str>) -> String {
    sha256_hex(user_agent.unwrap_or("").as_bytes())[..16].to_owned()
}

/// The profile's remembered devices.
pub fn known_devices(profile: &Item) -> Vec<String> {
    profile
        .get("known_devices")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

/// `devices` with `device` added, keeping at most `KNOWN_DEVICES` (a set: which one is
/// dropped when full does not matter much, it only costs one more notice).
pub fn remember(mut devices: Vec<String>, device: String) -> AttributeValue {
    if !devices.contains(&device) {
        if devices.len() >= KNOWN_DEVICES {
            devices.remove(0);
        }
        devices.push(device);
    }
    AttributeValue::Ss(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_match_once_issued_and_expire() {
        let user = UserId::generate();
        let token = VerificationToken::issue(user.clone());
        let parsed = VerificationToken::parse(&token.to_string()).unwrap();
        assert_eq!(parsed.user_id, user);
        let now = Utc::now();
        let mut profile = Item::new();
        for (name, value) in token.profile_attributes(now) {
            profile.insert(name.into(), value);
        }
        assert!(parsed.matches(&profile, now).is_some());
        assert!(
            parsed.matches(&profile, now + TOKEN_LIFETIME).is_none(),
            "expired"
        );
        let other = VerificationToken::issue(user);
        assert!(other.matches(&profile, now).is_none(), "another token");
        assert!(VerificationToken::parse("pms.usr_x.y").is_none());
        assert!(VerificationToken::parse(&format!("{token}.x")).is_none());
    }

    #[test]
    fn devices_are_remembered_up_to_a_bound() {
        let mut devices = Vec::new();
        for i in 0..25 {
            devices = remember(devices, device_of(Some(&format!("agent {i}"))))
                .as_ss()
                .unwrap()
                .clone();
        }
        assert_eq!(devices.len(), KNOWN_DEVICES);
        let again = remember(devices.clone(), devices[3].clone());
        assert_eq!(again.as_ss().unwrap().len(), KNOWN_DEVICES);
    }
}
