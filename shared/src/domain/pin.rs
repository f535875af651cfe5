//! The organization PIN: exactly 6 digits, not a trivial one. 10^6 PINs are cheap to try
//! offline, so the stored hash is argon2id over HMAC-SHA256(pepper, PIN): without the
//! server-side pepper a leaked table does not give the PIN away.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Common PINs that are neither runs nor repeats.
pub(crate) const COMMON: &[&str] = &[
    "112233", "696969", "159753", "147258", "123321", "102030", "000123", "121314", "789456",
    "111222",
];

/// PINs anyone would try first: repeated digits, runs, repeated pairs and triples.
fn trivial(pin: &str) -> bool {
    let digits: Vec<i32> = pin.bytes().map(|b| i32::from(b - b'0')).collect();
    let steps: Vec<i32> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    let run = steps.iter().all(|s| *s == steps[0]) && steps[0].abs() <= 1;
    let repeats = |n: usize| pin.as_bytes().chunks(n).all(|c| c == &pin.as_bytes()[..n]);
    run || repeats(2) || repeats(3) || COMMON.contains(&pin)
}

impl Pin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be exactly 6 digits".into());
        }
        if trivial(raw) {
            return Err("is too easy to guess; avoid repeated digits and runs like 123456".into());
        }
        Ok(Pin(raw.to_owned()))
    }

    /// What is argon2-hashed and verified: the PIN keyed with the pepper.
    pub fn peppered(raw: &str, pepper: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(pepper).expect("HMAC takes any key length");
        mac.update(raw.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_and_not_trivial() {
        for trivial in [
            "000000", "111111", "123456", "654321", "012345", "543210", "121212", "123123",
            "112233", "456789",
        ] {
            assert!(Pin::parse(trivial).is_err(), "{trivial}");
        }
        for bad in ["12345", "1234567", "12a456", " 84731", ""] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
        for ok in ["840317", "271828", "505919"] {
            assert!(Pin::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(format!("{:?}", Pin::parse("840317").unwrap()), "Pin(***)");
    }

    #[test]
    fn the_pepper_changes_the_hashed_value() {
        assert_ne!(
            Pin::peppered("840317", b"pepper one"),
            Pin::peppered("840317", b"pepper two")
        );
        assert_eq!(Pin::peppered("840317", b"k"), Pin::peppered("840317", b"k"));
    }
}
