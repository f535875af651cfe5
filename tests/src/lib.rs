//! The harness of the black-box tests. Each test binary starts one local stack of its own
//! with `infra/run-local.sh` — the very script behind `make run` — on free ports: the AWS
//! emulator, the resources of `template.yaml`, and the local gateway. Tests then act as
//! clients: over HTTP, and where a test must control time or look behind the API, on
//! the emulator through the AWS SDK.

pub mod api;
pub mod events;
pub mod fixtures;
pub mod runtime_api;

pub use api::{Api, Resp};
pub use fixtures::{Account, OrgFixture, TwoOrgs};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

pub struct Stack {
    pub base_url: String,
    pub aws_endpoint: String,
    pub stack_file: serde_json::Value,
}

static STACK: OnceLock<Stack> = OnceLock::new();

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/<profile>`, where the workspace's binaries are.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills `command` when this test process ends, however it ends.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
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

fn start() -> Stack {
    let root = repo_root();
    let gateway = bin_dir().join("local-gateway");
    assert!(
        gateway.exists(),
        "{} is missing: run `make test` (or `cargo build --workspace --bins` first)",
        gateway.display()
    );

    let (port, moto_port) = (free_port(), free_port());
    let stack_dir = root
        .join("target")
        .join("test-stacks")
        .join(format!("{}-{port}", std::process::id()));
    std::fs::create_dir_all(&stack_dir).expect("stack dir");
    let log = std::fs::File::create(stack_dir.join("stack.log")).expect("stack log");
    let (started, ready) = mpsc::channel();
    let script = root.join("infra").join("run-local.sh");
    let dir = stack_dir.clone();
    let gateway = gateway.clone();
    // The stack is spawned from a thread that lives as long as the process: the death
    // signal fires when the spawning *thread* ends, so it must never end before us.
    std::thread::spawn(move || {
        let mut command = Command::new("bash");
        command
            .arg(script)
            .env_remove("AWS_ENDPOINT_URL")
            .env("PORT", port.to_string())
            .env("MOTO_PORT", moto_port.to_string())
            .env("STACK_DIR", &dir)
            .env("LOCAL_GATEWAY_BIN", gateway)
            .env("LOCAL_SCHEDULE_SECONDS", "2")
            .env("EXPOSE_DYNAMODB_CALLS", "1")
            .env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        die_with_parent(&mut command);
        let child = command.spawn();
        let _ = started.send(child.map(|_| ()));
        loop {
            std::thread::park();
        }
    });
    ready
        .recv()
        .expect("stack thread")
        .expect("spawn infra/run-local.sh");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !http_ok(port, "/v1/health") {
        assert!(
            Instant::now() < deadline,
            "the local stack did not become healthy; see {}",
            stack_dir.join("stack.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let stack_file = std::fs::read_to_string(stack_dir.join("stack.json")).expect("stack.json");
    Stack {
        base_url: format!("http://127.0.0.1:{port}"),
        aws_endpoint: format!("http://127.0.0.1:{moto_port}"),
        stack_file: serde_json::from_str(&stack_file).expect("stack.json is JSON"),
    }
}

pub fn stack() -> &'static Stack {
    STACK.get_or_init(start)
}

impl Stack {
    pub fn api(&self) -> Api {
        Api::new(&self.base_url)
    }

    pub fn env(&self, key: &str) -> String {
        self.stack_file["env"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in stack.json"))
            .to_owned()
    }

    pub fn table_name(&self) -> String {
        self.env("TABLE_NAME")
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.aws_endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "tests",
            ))
            .load()
            .await
    }

    /// The table behind the API, for what a client cannot do: move time, inspect writes.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk().await)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk().await)
    }
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{prefix}{n:016x}")
}

/// Sets `attr` of the item `(pk, sk)` behind the API: how a test moves time for one item.
pub async fn set_attribute(
    pk: &str,
    sk: &str,
    attr: &str,
    value: aws_sdk_dynamodb::types::AttributeValue,
) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let stack = stack();
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(stack.table_name())
        .key("pk", S(pk.into()))
        .key("sk", S(sk.into()))
        .update_expression("SET #a = :v")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#a", attr)
        .expression_attribute_values(":v", value)
        .send()
        .await
        .expect("item exists");
}

/// Every item of a partition whose sort key starts with `prefix`, in key order.
pub async fn items(
    pk: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let stack = stack();
    stack
        .dynamodb()
        .await
        .query()
        .table_name(stack.table_name())
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", S(pk.into()))
        .expression_attribute_values(":p", S(prefix.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default()
}

/// The audit entries of a chain owner (`ORG#…` or `USER#…`), checked to form an unbroken
/// hash chain; returns their parsed entries in order.
pub async fn audit_chain(pk: &str) -> Vec<serde_json::Value> {
    use sha2::{Digest, Sha256};
    let mut prev = "0".repeat(64);
    let mut entries = Vec::new();
    for (i, item) in items(pk, "AUDIT#").await.iter().enumerate() {
        let s = |k: &str| item[k].as_s().unwrap().clone();
        let entry = s("entry");
        assert_eq!(s("prev_hash"), prev, "entry {i} links to the previous hash");
        let hash = hex::encode(Sha256::digest(format!("{prev}{entry}").as_bytes()));
        assert_eq!(
            s("hash"),
            hash,
            "entry {i} hash covers prev_hash and the entry"
        );
        let parsed: serde_json::Value = serde_json::from_str(&entry).unwrap();
        assert_eq!(parsed["seq"], i as u64 + 1);
        prev = hash;
        entries.push(parsed);
    }
    entries
}

/// A TOTP code computed by a real authenticator library (Python's pyotp) from an
/// `otpauth://` URI, for the time `offset_seconds` away from now.
pub fn authenticator_code(otpauth_uri: &str, offset_seconds: i64) -> String {
    let out = Command::new(repo_root().join(".venv/bin/python"))
        .args(["-c", "import pyotp, sys, time; print(pyotp.parse_uri(sys.argv[1]).at(time.time() + int(sys.argv[2])))"])
        .arg(otpauth_uri)
        .arg(offset_seconds.to_string())
        .output()
        .expect("the venv's python runs pyotp");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Waits out the last seconds of a 30-second TOTP step, so that a code computed now is
/// still in the same step when the server checks it.
pub async fn away_from_step_boundary() {
    let into_step = chrono::Utc::now().timestamp() % 30;
    if into_step >= 26 {
        tokio::time::sleep(std::time::Duration::from_secs((31 - into_step) as u64)).await;
    }
}
