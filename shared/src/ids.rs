//! Prefixed, time-ordered identifiers (`usr_01J…`): the ULID layout — 48 bits of
//! milliseconds then 80 random bits in Crockford base32 — so ids sort by creation time
//! and the prefix tells a reader what kind of object an id names.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LEN: usize = 26;

fn ulid_body() -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let mut value = millis << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= (*byte as u128) << (8 * (9 - i));
    }
    (0..BODY_LEN)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 0x1f) as usize] as char)
        .collect()
}

fn is_body(s: &str) -> bool {
    s.len() == BODY_LEN && s.bytes().all(|b| CROCKFORD.contains(&b))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = json!(concat!($prefix, "01JDQX3Z8E6V4W2N9KQ5M7R1TB")))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, ulid_body()))
            }

            /// Accepts only a well-formed id of this kind (a path segment, a stored pointer).
            pub fn parse(s: &str) -> Option<Self> {
                s.strip_prefix($prefix).filter(|body| is_body(body)).map(|_| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not a {} id", $prefix))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(/// A person's account.
    UserId, "usr_");
prefixed_id!(/// An organization.
    OrgId, "org_");
prefixed_id!(/// One login session of a user.
    SessionId, "ses_");
prefixed_id!(/// An MCP server registered with the gateway.
    McpId, "mcp_");
prefixed_id!(/// An organization API key.
    ApiKeyId, "key_");
prefixed_id!(/// A pending second login step.
    ChallengeId, "chl_");
prefixed_id!(/// One audit-log entry.
    AuditId, "aud_");
prefixed_id!(/// An event (also the webhook message id: stable across delivery attempts).
    MessageId, "msg_");
prefixed_id!(/// An invitation to join an organization.
    InvitationId, "inv_");
prefixed_id!(/// A webhook endpoint of an organization.
    WebhookId, "wh_");
prefixed_id!(/// A data export job of an organization.
    ExportId, "exp_");
prefixed_id!(/// One logged delivery attempt (time-ordered: newest first is descending order).
    DeliveryId, "dlv_");
prefixed_id!(/// One HTTP request, where API Gateway gave it no id (the local stack).
    RequestId, "req_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_time() {
        let a = UserId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = UserId::generate();
        assert_eq!(UserId::parse(a.as_str()), Some(a.clone()));
        assert!(a < b);
        assert_eq!(a.as_str().len(), 4 + BODY_LEN);
    }

    #[test]
    fn wrong_prefix_or_alphabet_is_rejected() {
        let org = OrgId::generate();
        assert!(UserId::parse(org.as_str()).is_none());
        assert!(
            UserId::parse("usr_01JDQX3Z8E6V4W2N9KQ5M7R1TU").is_none(),
            "U is not Crockford"
        );
        assert!(UserId::parse("usr_short").is_none());
    }
}
