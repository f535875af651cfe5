//! A function binary started as Lambda starts it: a fresh process with the Lambda
//! environment, pointed at a Runtime API.

use crate::RuntimeApi;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct FunctionProcess {
    child: Child,
    /// When the process was started.
    pub started: Instant,
}

/// Kills `command` when this process ends, however it ends.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

impl FunctionProcess {
    /// Starts `binary` against `runtime` with only the Lambda variables and `env` (the
    /// function's configuration and the AWS endpoint) in its environment; its logs go
    /// where ours go.
    pub fn start<'a>(
        binary: &Path,
        runtime: &RuntimeApi,
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> FunctionProcess {
        Self::start_logging_to(binary, runtime, env, None)
    }

    /// As `start`, with the function's stdout and stderr (its logs) appended to `logs`.
    pub fn start_logging_to<'a>(
        binary: &Path,
        runtime: &RuntimeApi,
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
        logs: Option<&File>,
    ) -> FunctionProcess {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function");
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env("RUST_LOG", "warn")
            .envs(env)
            .stdin(Stdio::null());
        if let Some(logs) = logs {
            let (out, err) = (logs.try_clone(), logs.try_clone());
            command
                .stdout(out.expect("log file handle"))
                .stderr(err.expect("log file handle"));
        }
        die_with_parent(&mut command);
        let started = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
        FunctionProcess { child, started }
    }

    /// The most memory the process has held (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the function process is alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
