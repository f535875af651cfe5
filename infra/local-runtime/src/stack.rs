//! The local stack of `make run` — the AWS emulator, the resources of `template.yaml`,
//! the local gateway — started with `infra/run-local.sh` on free ports, in a directory
//! of its own, for as long as this process lives.

use crate::die_with_parent;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct LocalStack {
    pub base_url: String,
    pub aws_endpoint: String,
    /// What the bootstrap wrote: every function's environment under `env`.
    pub stack_file: Value,
    /// Where tests put the files of the read-to-commit pause (`shared::test_hooks`).
    pub hooks_dir: std::path::PathBuf,
    /// `infra/run-local.sh`, which ends with this process (`die_with_parent`).
    _script: std::process::Child,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// How long one start may take to answer `/v1/health` (about 4 s on an idle machine).
const START_DEADLINE: Duration = Duration::from_secs(120);
const START_ATTEMPTS: u32 = 3;

/// Stops the script and everything it started (emulator, bootstrap, gateway): SIGTERM to
/// its process group, SIGKILL to what is left after 10 s.
fn stop_group(script: &mut std::process::Child) {
    let group = -(script.id() as i32);
    // SAFETY: kill(2) with a process-group id; no memory is shared.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(script.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(group, libc::SIGKILL) };
    let _ = script.wait();
}

/// The last lines of a stack's own log and of its emulator's, for a failed start.
fn logs(dir: &Path) -> String {
    ["stack.log", "moto.log"]
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("--- {} (last 30 lines)\n{tail}", path.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl LocalStack {
    /// Starts a stack from the repository at `root`, serving with the `gateway` binary and
    /// keeping its lock, logs and stack file under `dir`. Waits until it is healthy.
    pub fn start(root: &Path, gateway: &Path, dir: &Path) -> LocalStack {
        Self::start_with(root, gateway, dir, &[])
    }

    /// As `start`, with `overrides` of the stack's environment (e.g. without
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS`, to run as in AWS).
    ///
    /// The ports are chosen free but only taken when the emulator and the gateway bind
    /// them, seconds later, so another process may take one first; and a loaded machine
    /// may start slowly. A start that ends or is not healthy within its deadline is
    /// stopped, its logs are printed, and it starts again on new ports, up to
    /// `START_ATTEMPTS` times; the last failure panics with the logs.
    pub fn start_with(
        root: &Path,
        gateway: &Path,
        dir: &Path,
        overrides: &[(&str, &str)],
    ) -> LocalStack {
        assert!(
            gateway.exists(),
            "{} is missing: build the workspace first (`cargo build --workspace --bins`)",
            gateway.display()
        );
        let mut attempt = 1;
        loop {
            match Self::try_start(root, gateway, dir, overrides) {
                Ok(stack) => return stack,
                Err(failure) if attempt < START_ATTEMPTS => {
                    eprintln!("local stack, attempt {attempt} of {START_ATTEMPTS}: {failure}; starting it again on new ports");
                    attempt += 1;
                }
                Err(failure) => panic!("the local stack did not become healthy: {failure}"),
            }
        }
    }

    fn try_start(
        root: &Path,
        gateway: &Path,
        dir: &Path,
        overrides: &[(&str, &str)],
    ) -> Result<LocalStack, String> {
        let (port, moto_port) = (free_port(), free_port());
        std::fs::create_dir_all(dir).expect("stack dir");
        let hooks_dir = dir.join("hooks");
        std::fs::create_dir_all(&hooks_dir).expect("hooks dir");
        let log = std::fs::File::create(dir.join("stack.log")).expect("stack log");
        let (started, ready) = mpsc::channel();
        let (script, dir_owned, gateway, hooks) = (
            root.join("infra/run-local.sh"),
            dir.to_path_buf(),
            gateway.to_path_buf(),
            hooks_dir.clone(),
        );
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Spawned from a thread that lives as long as the process: the death signal fires
        // when the spawning *thread* ends, so it must never end before us.
        std::thread::spawn(move || {
            let mut command = Command::new("bash");
            command
                .arg(script)
                .env_remove("AWS_ENDPOINT_URL")
                .env("PORT", port.to_string())
                .env("MOTO_PORT", moto_port.to_string())
                .env("STACK_DIR", &dir_owned)
                .env("LOCAL_GATEWAY_BIN", gateway)
                .env("LOCAL_SCHEDULE_SECONDS", "2")
                .env("EXPOSE_DYNAMODB_CALLS", "1")
                .env("LOCAL_HTTP_COOKIES", "1")
                .env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
                // Retries a second apart: a test sees a whole schedule in seconds.
                .env("WEBHOOK_RETRY_SCHEDULE", "1,1,1")
                .env("RUST_LOG", "warn")
                .env("PLEXMCP_TEST_HOOKS", hooks)
                .envs(overrides)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log);
            die_with_parent(&mut command);
            // A group of its own, so a failed start is stopped whole (`stop_group`).
            command.process_group(0);
            let _ = started.send(command.spawn());
            loop {
                std::thread::park();
            }
        });
        let mut script = ready
            .recv()
            .expect("stack thread")
            .expect("spawn infra/run-local.sh");
        let deadline = Instant::now() + START_DEADLINE;
        while !http_ok(port, "/v1/health") {
            let failure = if let Ok(Some(status)) = script.try_wait() {
                format!("infra/run-local.sh ended ({status})")
            } else if Instant::now() >= deadline {
                format!("not healthy after {} s", START_DEADLINE.as_secs())
            } else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            stop_group(&mut script);
            return Err(format!("{failure}\n{}", logs(dir)));
        }
        let stack_file = std::fs::read_to_string(dir.join("stack.json")).expect("stack.json");
        Ok(LocalStack {
            base_url: format!("http://127.0.0.1:{port}"),
            aws_endpoint: format!("http://127.0.0.1:{moto_port}"),
            stack_file: serde_json::from_str(&stack_file).expect("stack.json is JSON"),
            hooks_dir,
            _script: script,
        })
    }

    pub fn env(&self, key: &str) -> String {
        self.stack_file["env"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in stack.json"))
            .to_owned()
    }

    /// The environment the template gives the function built as `binary` (its Globals
    /// and its own variables, not another function's), with the emulator's endpoint;
    /// the union of all (`function_env`) for a binary the template does not name.
    pub fn function_env_of(&self, binary: &str) -> Vec<(&str, &str)> {
        let Some(function) = self.stack_file["binaries"][binary].as_str() else {
            return self.function_env();
        };
        self.with_endpoint(&self.stack_file["functions"][function])
    }

    /// The union of every function's environment, with the emulator's endpoint.
    pub fn function_env(&self) -> Vec<(&str, &str)> {
        self.with_endpoint(&self.stack_file["env"])
    }

    /// The variables of a stack-file object, and the emulator's endpoint.
    fn with_endpoint<'a>(&'a self, vars: &'a Value) -> Vec<(&'a str, &'a str)> {
        let mut env: Vec<(&str, &str)> = vars
            .as_object()
            .map(|vars| {
                vars.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        env.push(("AWS_ENDPOINT_URL", &self.aws_endpoint));
        env
    }
}
