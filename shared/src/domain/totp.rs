//! RFC 6238 TOTP: SHA-1, 6 digits, 30-second steps, a 160-bit secret; a code of the
//! previous, current or next step is accepted (clock drift), and the caller records the
//! step so that it is accepted at most once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECONDS: u64 = 30;
pub const ISSUER: &str = "PlexMCP";

pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// 160 random bits.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// What a person types into an authenticator by hand (base32, no padding).
    pub fn base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    fn totp(&self, account: &str) -> Result<TOTP, String> {
        TOTP::new(
            Algorithm::SHA1,
            6,
            1,
            STEP_SECONDS,
            self.0.clone(),
            Some(ISSUER.into()),
            account.into(),
        )
        .map_err(|e| e.to_string())
    }

    /// `otpauth://totp/PlexMCP:<account>?secret=…&issuer=PlexMCP&algorithm=SHA1&digits=6&period=30`
    pub fn otpauth_uri(&self, account: &str) -> Result<String, String> {
        let uri = self.totp(account)?.get_url();
        // totp-rs leaves out the defaults; state them, so every authenticator agrees.
        Ok(if uri.contains("algorithm=") {
            uri
        } else {
            format!("{uri}&algorithm=SHA1&digits=6&period=30")
        })
    }

    /// A PNG QR code of exactly `uri`, as a data URL.
    pub fn qr_data_url(uri: &str) -> Result<String, String> {
        let png = qrcodegen_png(uri)?;
        Ok(format!("data:image/png;base64,{}", STANDARD.encode(png)))
    }

    /// The time step `code` belongs to, if it is the code of the step before, at or after
    /// `unix_seconds`.
    pub fn verify(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp("verify").ok()?;
        let current = unix_seconds / STEP_SECONDS;
        [current.saturating_sub(1), current, current + 1]
            .into_iter()
            .find(|step| {
                bool::from(
                    totp.generate(step * STEP_SECONDS)
                        .as_bytes()
                        .ct_eq(code.as_bytes()),
                )
            })
    }
}

fn qrcodegen_png(text: &str) -> Result<Vec<u8>, String> {
    totp_rs::qrcodegen_image::draw_png(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to 6 digits.
    fn rfc() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn rfc_6238_vectors() {
        assert_eq!(rfc().verify("287082", 59), Some(1));
        assert_eq!(rfc().verify("081804", 1111111109), Some(1111111109 / 30));
        assert_eq!(rfc().verify("050471", 1111111111), Some(1111111111 / 30));
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let t = 1_111_111_109u64; // step 37037036
        let code_at = |step: u64| rfc().totp("x").unwrap().generate(step * 30);
        let step = t / 30;
        assert_eq!(rfc().verify(&code_at(step - 1), t), Some(step - 1));
        assert_eq!(rfc().verify(&code_at(step + 1), t), Some(step + 1));
        assert_eq!(rfc().verify(&code_at(step - 2), t), None);
        assert_eq!(rfc().verify(&code_at(step + 2), t), None);
        assert_eq!(rfc().verify("12345", t), None);
        assert_eq!(rfc().verify("abcdef", t), None);
    }

    #[test]
    fn secrets_are_160_bits_and_the_uri_names_everything() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.as_bytes().len(), 20);
        let uri = secret.otpauth_uri("ada@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/PlexMCP:ada%40example.com?"),
            "{uri}"
        );
        for part in [
            format!("secret={}", secret.base32()),
            "issuer=PlexMCP".into(),
            "algorithm=SHA1".into(),
            "digits=6".into(),
            "period=30".into(),
        ] {
            assert!(uri.contains(&part), "{uri} lacks {part}");
        }
        assert!(TotpSecret::qr_data_url(&uri)
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR"));
    }
}
