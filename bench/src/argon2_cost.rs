//! What one argon2id verification costs at the parameters the functions use (design.md:
//! m = 19 MiB, t = 2, p = 1), for a password and for a peppered PIN — timed in this
//! process, built with the functions' release profile.

use crate::cold_start::median_ms;
use shared::crypto::derive_key;
use shared::domain::password::{hash_secret, verify_secret};
use shared::domain::pin::Pin;
use std::time::Instant;

pub struct Argon2Cost {
    pub password_verify_ms: f64,
    pub pin_verify_ms: f64,
}

fn median_verify_ms(secret: &str, phc: &str, rounds: usize) -> f64 {
    let times: Vec<_> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            assert!(verify_secret(secret, phc), "the secret verifies");
            start.elapsed()
        })
        .collect();
    median_ms(&times)
}

pub fn measure(rounds: usize) -> Argon2Cost {
    let password = "correct horse battery staple";
    let password_hash = hash_secret(password).expect("argon2 hashes");
    let pepper = derive_key(
        "a data key of the bench, 32 chars+",
        "plexmcp/pin-pepper/v1",
    );
    let pin = Pin::peppered("840317", &pepper);
    let pin_hash = hash_secret(&pin).expect("argon2 hashes");
    Argon2Cost {
        password_verify_ms: median_verify_ms(password, &password_hash, rounds),
        pin_verify_ms: median_verify_ms(&pin, &pin_hash, rounds),
    }
}

/// The `MemorySize` in the YAML block under the line `header`.
fn memory_under(template: &str, header: &str) -> Option<u64> {
    let mut lines = template.lines().skip_while(|l| *l != header);
    lines.next()?;
    let indent = header.len() - header.trim_start().len();
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The `MemorySize` the template gives `logical_id` (or its Globals), in MB.
pub fn template_memory_mb(template: &str, logical_id: &str) -> Option<u64> {
    memory_under(template, &format!("  {logical_id}:"))
        .or_else(|| memory_under(template, "Globals:"))
}

#[cfg(test)]
mod tests {
    use super::template_memory_mb;

    #[test]
    fn reads_a_functions_memory_or_the_global_one() {
        let template = "Globals:\n  Function:\n    MemorySize: 256\nResources:\n  A:\n    Properties:\n      MemorySize: 1024\n  B:\n    Properties:\n      Timeout: 3\n";
        assert_eq!(template_memory_mb(template, "A"), Some(1024));
        assert_eq!(template_memory_mb(template, "B"), Some(256));
    }
}
