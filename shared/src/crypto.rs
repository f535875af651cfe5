//! Small cryptographic helpers: random secrets, SHA-256 fingerprints and constant-time
//! comparison. Hashing of human secrets (passwords) lives in `domain::password`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 256 random bits from the OS, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bits_and_distinct() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("x", "x") && !constant_time_eq("x", "y"));
    }
}

/// A key for one purpose derived from the configured data key, so that one secret in
/// configuration serves several uses without one use exposing another.
pub fn derive_key(key_material: &str, purpose: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key_material.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Encrypts secrets that must be read back (TOTP secrets; later webhook signing secrets)
/// with AES-256-GCM under the data key from configuration. The associated data binds a
/// ciphertext to its owner, so a sealed value copied to another user does not open.
#[derive(Clone)]
pub struct SecretBox {
    cipher: aes_gcm::Aes256Gcm,
}

impl SecretBox {
    /// `key_material`: the configured data key (≥ 32 characters of randomness); the AES
    /// key is its SHA-256.
    pub fn new(key_material: &str) -> Self {
        use aes_gcm::KeyInit;
        let key = Sha256::digest(key_material.as_bytes());
        SecretBox {
            cipher: aes_gcm::Aes256Gcm::new(&key),
        }
    }

    /// base64url(nonce ‖ ciphertext)
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> String {
        use aes_gcm::aead::{Aead, Payload};
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                aes_gcm::Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    pub fn open(&self, sealed: &str, owner: &str) -> Option<Vec<u8>> {
        use aes_gcm::aead::{Aead, Payload};
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher
            .decrypt(
                aes_gcm::Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod secret_box_tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_key() {
        let vault = SecretBox::new("k".repeat(64).as_str());
        let sealed = vault.seal(b"JBSWY3DPEHPK3PXP", "usr_a");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(vault.open(&sealed, "usr_a").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(vault.open(&sealed, "usr_b").is_none());
        assert!(SecretBox::new("other key material that is long enough")
            .open(&sealed, "usr_a")
            .is_none());
        assert_ne!(
            vault.seal(b"x", "usr_a"),
            vault.seal(b"x", "usr_a"),
            "fresh nonce each time"
        );
    }
}
