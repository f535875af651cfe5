//! Backup codes: 10 per set, `xxxxx-xxxxx` from a 32-symbol alphabet (50 bits each),
//! stored only as argon2id hashes, each usable once.

use rand::Rng;

/// Crockford's base32, lower case: no i, l, o or u to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
pub const SET_SIZE: usize = 10;

/// Normalises what a person typed: case, spaces and the hyphen do not matter, and the
/// look-alikes i/l and o read as 1 and 0.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == 10 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A fresh set, as shown to the user once.
pub fn generate_set() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..SET_SIZE)
        .map(|_| {
            let symbols: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..32)] as char)
                .collect();
            format!("{}-{}", &symbols[..5], &symbols[5..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_ten_distinct_fifty_bit_codes() {
        let set = generate_set();
        assert_eq!(set.len(), 10);
        let mut unique = set.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(ALPHABET.len(), 32, "5 bits a symbol, 10 symbols: 50 bits");
        for code in &set {
            assert_eq!(code.len(), 11);
            assert_eq!(
                normalise(&code.to_uppercase().replace('-', " ")),
                Some(code.replace('-', ""))
            );
        }
        assert_eq!(normalise("short"), None);
        assert_eq!(normalise("abcde-fgh!u"), None);
        assert_eq!(normalise("OIL00-abcde"), Some("01100abcde".into()));
    }
}
