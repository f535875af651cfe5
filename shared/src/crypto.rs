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

/// The data keys, each under an id, one of them current: new values are sealed, PINs
/// peppered and cursors signed with the current key, and a value made with an older key
/// names it, so it stays readable after a rotation for as long as the key stays in the
/// ring. `DATA_KEY` holds the ring as the template's secret does —
/// `{"current": "k2", "k1": "…", "k2": "…"}` — or a single key on its own (id `k1`).
/// Rotating: add a key under a new id, make it `current`, redeploy; remove the old key
/// only once nothing sealed with it is left.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: std::collections::BTreeMap<String, String>,
}

/// The ids only: key material never reaches a log.
impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The id of a key given on its own.
const SOLE_KEY_ID: &str = "k1";
/// Each key's least length: 32 characters of randomness.
const MIN_KEY_CHARS: usize = 32;

impl Keyring {
    pub fn parse(text: &str) -> Result<Keyring, String> {
        let text = text.trim();
        if !text.starts_with('{') {
            return Self::new(
                SOLE_KEY_ID,
                [(SOLE_KEY_ID.to_owned(), text.to_owned())].into(),
            );
        }
        let mut fields: std::collections::BTreeMap<String, String> = serde_json::from_str(text)
            .map_err(|e| format!("DATA_KEY is not a key ring of strings: {e}"))?;
        let current = fields
            .remove("current")
            .ok_or("DATA_KEY's key ring names no `current` key")?;
        Self::new(&current, fields)
    }

    fn new(
        current: &str,
        keys: std::collections::BTreeMap<String, String>,
    ) -> Result<Keyring, String> {
        for (id, key) in &keys {
            let id_ok = !id.is_empty()
                && id.len() <= 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !id_ok {
                return Err(format!(
                    "DATA_KEY: key id {id:?} must be 1 to 16 letters, digits, _ or -"
                ));
            }
            if key.chars().count() < MIN_KEY_CHARS {
                return Err(format!(
                    "DATA_KEY: key {id} must be at least {MIN_KEY_CHARS} characters"
                ));
            }
        }
        if !keys.contains_key(current) {
            return Err(format!(
                "DATA_KEY: the current key {current:?} is not in the ring"
            ));
        }
        Ok(Keyring {
            current: current.to_owned(),
            keys,
        })
    }

    /// No keys: a function that neither seals nor signs (it is not given the secret).
    pub fn none() -> Keyring {
        Keyring {
            current: String::new(),
            keys: Default::default(),
        }
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// A key for `purpose` derived from the key `id` (`None`: no such key in the ring).
    pub fn derive(&self, id: &str, purpose: &str) -> Option<Vec<u8>> {
        self.keys.get(id).map(|key| derive_key(key, purpose))
    }

    /// A key for `purpose` derived from the current key (`None` without keys).
    pub fn derive_current(&self, purpose: &str) -> Option<Vec<u8>> {
        self.derive(&self.current, purpose)
    }
}

const NO_KEYS: &str =
    "this function has no data keys: template.yaml gives it no DATA_KEY_SECRET_ARN";

/// Encrypts secrets that must be read back (TOTP secrets, webhook signing secrets) with
/// AES-256-GCM under the data keys. A sealed value is `<key id>.<base64url(nonce ‖
/// ciphertext)>`: it opens with the key it names. The associated data binds a ciphertext
/// to its owner, so a sealed value copied to another user does not open.
#[derive(Clone)]
pub struct SecretBox {
    current: String,
    ciphers: std::collections::BTreeMap<String, aes_gcm::Aes256Gcm>,
}

impl SecretBox {
    /// The AES key of each data key is its SHA-256.
    pub fn new(keys: &Keyring) -> Self {
        use aes_gcm::KeyInit;
        let ciphers = keys
            .keys
            .iter()
            .map(|(id, material)| {
                let key = Sha256::digest(material.as_bytes());
                (id.clone(), aes_gcm::Aes256Gcm::new(&key))
            })
            .collect();
        SecretBox {
            current: keys.current.clone(),
            ciphers,
        }
    }

    /// Sealed with the current key: `<key id>.<base64url(nonce ‖ ciphertext)>`.
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> String {
        use aes_gcm::aead::{Aead, Payload};
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .ciphers
            .get(&self.current)
            .expect(NO_KEYS)
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
        format!("{}.{}", self.current, URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed value with the key it names; `None` if that key is not in the
    /// ring, or the value was not sealed for `owner` (or not by us).
    pub fn open(&self, sealed: &str, owner: &str) -> Option<Vec<u8>> {
        use aes_gcm::aead::{Aead, Payload};
        let (id, encoded) = sealed.split_once('.')?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.ciphers
            .get(id)?
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

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_key() {
        let vault = SecretBox::new(&ring(&"k".repeat(64)));
        let sealed = vault.seal(b"JBSWY3DPEHPK3PXP", "usr_a");
        assert!(sealed.starts_with("k1."), "{sealed}");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(vault.open(&sealed, "usr_a").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(vault.open(&sealed, "usr_b").is_none());
        assert!(
            SecretBox::new(&ring("other key material that is long enough"))
                .open(&sealed, "usr_a")
                .is_none()
        );
        assert_ne!(
            vault.seal(b"x", "usr_a"),
            vault.seal(b"x", "usr_a"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn after_a_rotation_old_values_open_and_new_ones_use_the_new_key() {
        let (old, new) = ("o".repeat(40), "n".repeat(40));
        let before = SecretBox::new(&ring(&format!(r#"{{"current":"k1","k1":"{old}"}}"#)));
        let sealed_before = before.seal(b"secret", "wh_1");
        let rotated = ring(&format!(r#"{{"current":"k2","k1":"{old}","k2":"{new}"}}"#));
        let after = SecretBox::new(&rotated);
        assert_eq!(after.open(&sealed_before, "wh_1").unwrap(), b"secret");
        let sealed_after = after.seal(b"secret", "wh_1");
        assert!(sealed_after.starts_with("k2."), "{sealed_after}");
        assert!(before.open(&sealed_after, "wh_1").is_none());
        // Once the old key leaves the ring, what it sealed no longer opens.
        let retired = SecretBox::new(&ring(&format!(r#"{{"current":"k2","k2":"{new}"}}"#)));
        assert!(retired.open(&sealed_before, "wh_1").is_none());
        assert_eq!(retired.open(&sealed_after, "wh_1").unwrap(), b"secret");
        // Derived keys follow the id they are asked for.
        assert_eq!(
            rotated.derive("k1", "pepper"),
            Some(derive_key(&old, "pepper"))
        );
        assert_eq!(
            rotated.derive_current("pepper"),
            Some(derive_key(&new, "pepper"))
        );
        assert_eq!(Keyring::none().derive_current("pepper"), None);
        assert_eq!(rotated.derive("k9", "pepper"), None);
    }

    #[test]
    fn a_key_ring_must_name_its_current_key_and_hold_long_keys() {
        let long = "x".repeat(32);
        for bad in [
            "short".to_owned(),
            format!(r#"{{"k1":"{long}"}}"#),
            format!(r#"{{"current":"k2","k1":"{long}"}}"#),
            r#"{"current":"k1","k1":"too short"}"#.to_owned(),
            format!(r#"{{"current":"a.b","a.b":"{long}"}}"#),
            r#"{"current":"k1","k1":7}"#.to_owned(),
        ] {
            assert!(Keyring::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(ring(&long).current_id(), "k1");
        assert!(
            !format!("{:?}", ring(&long)).contains(&long),
            "no key in Debug"
        );
    }
}
