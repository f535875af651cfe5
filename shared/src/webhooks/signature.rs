//! Standard Webhooks signing (<https://www.standardwebhooks.com/>): the signature is
//! `v1,` + base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")), where the key is the
//! base64 part of the `whsec_…` secret. During a rotation both secrets sign, and the
//! header carries both signatures separated by a space.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A webhook signing secret: 32 random bytes, shown to the user as `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        WebhookSecret(bytes)
    }

    /// The key bytes, e.g. as opened from their sealed form.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        WebhookSecret(bytes)
    }

    /// `whsec_<base64>`, as shown once to the user.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(PREFIX)?;
        STANDARD.decode(encoded).ok().map(WebhookSecret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form the user copies into their receiver.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 signature>` of one delivery.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret that signs now (the current
/// one, and the previous one for 24 h after a rotation).
pub fn signature_header(
    secrets: &[&WebhookSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks specification.
    #[test]
    fn signs_the_published_test_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_32_random_bytes_shown_with_their_prefix() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_bytes().len(), 32);
        assert!(a.reveal().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&a.reveal()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "WebhookSecret(…)", "never in logs");
        let header = signature_header(&[&a, &b], "msg_1", 1, "{}");
        assert_eq!(header.split(' ').count(), 2);
    }
}
