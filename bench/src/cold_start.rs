//! Cold start: a fresh process per sample, its first event already waiting at the Runtime
//! API; timed from spawning the process to its first answer arriving. The functions and
//! the baseline take turns, so that a noisy moment hits them alike.

use crate::Launcher;
use local_runtime::{Outcome, RuntimeApi};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

#[derive(Default)]
pub struct Samples {
    /// Process start → first poll of `/next` (init done).
    pub init: Vec<Duration>,
    /// Process start → first answer.
    pub first_response: Vec<Duration>,
}

fn once(launcher: &Launcher, binary: &Path, event: &Value) -> (Duration, Duration) {
    let runtime = RuntimeApi::start();
    let id = runtime.submit(event);
    let process = launcher.start(binary, &runtime);
    let answer = runtime.wait(&id);
    if let Outcome::Error(error) = &answer.outcome {
        panic!("{}: the first invocation failed: {error}", binary.display());
    }
    let polled = runtime
        .first_poll()
        .expect("the function polled before answering");
    (polled - process.started, answer.at - process.started)
}

/// `starts` samples of each `(binary, first event)`, after one unrecorded start each
/// (which reads the binary into the page cache).
pub fn measure(launcher: &Launcher, binaries: &[(&Path, &Value)], starts: usize) -> Vec<Samples> {
    let mut samples: Vec<Samples> = binaries.iter().map(|_| Samples::default()).collect();
    for (binary, event) in binaries {
        once(launcher, binary, event);
    }
    for _ in 0..starts {
        for ((binary, event), samples) in binaries.iter().zip(&mut samples) {
            let (init, first) = once(launcher, binary, event);
            samples.init.push(init);
            samples.first_response.push(first);
        }
    }
    samples
}

pub fn median_ms(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    match ms.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ms[n / 2],
        n => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
    }
}
