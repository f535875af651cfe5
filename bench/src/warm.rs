//! Warm answers: one process answers the same real request `n` times in a row (after one
//! unrecorded answer); each is timed from its submission to its answer, and the p50 and
//! p99 of them are the figures.

use crate::cold_start::Events;
use crate::Launcher;
use local_runtime::RuntimeApi;
use std::path::Path;
use std::time::{Duration, Instant};

/// The p50 and p99 (ms) of `n` warm answers of `binary` to `event`s.
pub fn percentiles(launcher: &Launcher, binary: &Path, event: Events, n: usize) -> (f64, f64) {
    let runtime = RuntimeApi::start();
    let _process = launcher.start(binary, &runtime);
    let answer = || {
        let event = event();
        let submitted = Instant::now();
        let outcome = runtime.invoke(&event);
        let elapsed = submitted.elapsed();
        crate::cold_start::check(binary, &outcome);
        elapsed
    };
    answer();
    let mut times: Vec<Duration> = (0..n).map(|_| answer()).collect();
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1e3
    };
    (at(0.50), at(0.99))
}
