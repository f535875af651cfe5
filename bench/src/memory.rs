//! Warm memory: one process serves `invocations` events; its peak RSS (VmHWM) is read
//! after them, and — for the functions that hash — again after one argon2 request.

use crate::Launcher;
use local_runtime::{Outcome, RuntimeApi};
use serde_json::Value;
use std::path::Path;

/// Invokes and checks that the function answered, with `status` if it is an HTTP one.
fn serve(runtime: &RuntimeApi, request: &Value, status: impl Fn(u64) -> bool, what: &str) {
    match runtime.invoke(request) {
        Outcome::Response(response) => {
            if let Some(code) = response["statusCode"].as_u64() {
                assert!(status(code), "{what}: HTTP {code}: {}", response["body"]);
            }
        }
        Outcome::Error(error) => panic!("{what} failed: {error}"),
    }
}

pub struct Memory {
    pub warm_peak_kib: u64,
    /// Peak after one request that hashes, when the function hashes.
    pub after_hash_peak_kib: Option<u64>,
}

pub fn measure(
    launcher: &Launcher,
    binary: &Path,
    invocations: usize,
    event: impl Fn(usize) -> Value,
    hashing: Option<(Value, u64)>,
) -> Memory {
    let runtime = RuntimeApi::start();
    let process = launcher.start(binary, &runtime);
    let name = binary.display();
    for n in 0..invocations {
        serve(
            &runtime,
            &event(n),
            |code| code < 400,
            &format!("{name} #{n}"),
        );
    }
    let warm_peak_kib = process.peak_rss_kib();
    let after_hash_peak_kib = hashing.map(|(request, status)| {
        serve(
            &runtime,
            &request,
            |code| code == status,
            &format!("{name} hashing"),
        );
        process.peak_rss_kib()
    });
    Memory {
        warm_peak_kib,
        after_hash_peak_kib,
    }
}
