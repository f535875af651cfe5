//! Cold start: a fresh process per sample, its first event already waiting at the Runtime
//! API; timed from spawning the process to its first answer arriving. The same process
//! then answers the same event (or a fresh one of the same kind) `WARM_ANSWERS` times more, each timed from its submission
//! to its answer, which shows how much of the first answer is the event's own work (for
//! the sweeper, whose every run queries the emulator, nearly all of it). The functions
//! and the baseline take turns, so that a noisy moment hits them alike.

use crate::Launcher;
use local_runtime::{Outcome, RuntimeApi};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Warm answers timed per sample; their median is the sample's warm time.
pub const WARM_ANSWERS: usize = 3;

#[derive(Default)]
pub struct Samples {
    /// Process start → first poll of `/next` (init done).
    pub init: Vec<Duration>,
    /// Process start → first answer.
    pub first_response: Vec<Duration>,
    /// The same event, warm: submission → answer (median of the sample's warm answers).
    pub warm_response: Vec<Duration>,
}

fn answered(binary: &Path, runtime: &RuntimeApi, event: &Value) -> Instant {
    let id = runtime.submit(event);
    let answer = runtime.wait(&id);
    check(binary, &answer.outcome);
    answer.at
}

/// An answer the figures may use: the invocation did not fail, and no record of a batch
/// was reported failed (a worker that gave up on its job answers fast, and would flatter
/// the figure).
pub fn check(binary: &Path, outcome: &Outcome) {
    match outcome {
        Outcome::Error(error) => panic!("{}: an invocation failed: {error}", binary.display()),
        Outcome::Response(answer) => {
            let failed = answer["batchItemFailures"].as_array();
            if failed.is_some_and(|failed| !failed.is_empty()) {
                panic!("{}: a record failed: {answer}", binary.display());
            }
        }
    }
}

pub type Events<'a> = &'a dyn Fn() -> Value;

fn once(launcher: &Launcher, binary: &Path, event: Events) -> (Duration, Duration, Duration) {
    // Made before the process starts (a fresh job writes to the table), so that its
    // making is not timed with the start.
    let first_event = event();
    let runtime = RuntimeApi::start();
    let process = launcher.start(binary, &runtime);
    let first = answered(binary, &runtime, &first_event) - process.started;
    let polled = runtime
        .first_poll()
        .expect("the function polled before answering");
    let mut warm: Vec<Duration> = (0..WARM_ANSWERS)
        .map(|_| {
            let event = event();
            let submitted = Instant::now();
            answered(binary, &runtime, &event) - submitted
        })
        .collect();
    warm.sort();
    (polled - process.started, first, warm[WARM_ANSWERS / 2])
}

/// `starts` samples of each `(binary, first event)`, after one unrecorded start each
/// (which reads the binary into the page cache).
pub fn measure(launcher: &Launcher, binaries: &[(&Path, Events)], starts: usize) -> Vec<Samples> {
    let mut samples: Vec<Samples> = binaries.iter().map(|_| Samples::default()).collect();
    for (binary, event) in binaries {
        once(launcher, binary, event);
    }
    for _ in 0..starts {
        for ((binary, event), samples) in binaries.iter().zip(&mut samples) {
            let (init, first, warm) = once(launcher, binary, event);
            samples.init.push(init);
            samples.first_response.push(first);
            samples.warm_response.push(warm);
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
