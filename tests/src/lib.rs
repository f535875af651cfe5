//! The harness of the black-box tests. Each test binary starts one local stack of its own
//! with `infra/run-local.sh` — the very script behind `make run` — on free ports: the AWS
//! emulator, the resources of `template.yaml`, and the local gateway. Tests then act as
//! clients: over HTTP, and where a test must control time or look behind the API, on
//! the emulator through the AWS SDK.

pub mod api;
pub mod dns;
pub mod events;
pub mod fixtures;
pub mod mailbox;
pub mod receiver;

pub use api::{Api, Resp};
pub use fixtures::{join, Account, OrgFixture, TwoOrgs};

use local_runtime::LocalStack;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub use local_runtime::{die_with_parent, stack::free_port};

/// The local stack of this test binary (`LocalStack`, plus the clients tests use on it).
pub struct Stack(LocalStack);

impl std::ops::Deref for Stack {
    type Target = LocalStack;
    fn deref(&self) -> &LocalStack {
        &self.0
    }
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

/// The origin the test stacks let browser pages call from (`CorsAllowedOrigins`).
pub const CORS_ORIGIN: &str = "https://app.example.com";

/// The stack of this test binary, started on first use.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| start_stack("", &[("CORS_ALLOWED_ORIGINS", CORS_ORIGIN)]))
}

/// A stack configured as in AWS: webhooks may not reach http, loopback or private
/// targets. For the tests of those rules only (`stack()`'s helpers do not reach it).
pub fn stack_as_in_aws() -> &'static Stack {
    static AS_IN_AWS: OnceLock<Stack> = OnceLock::new();
    AS_IN_AWS.get_or_init(|| start_stack("-aws", &[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "")]))
}

/// A stack whose domain worker re-checks pending custom domains every second and
/// verified ones every 2 seconds (by default: a minute, then daily), looks at a verified
/// one's certificate every second, and whose emulator issues a certificate 2 seconds after
/// its request, for the tests of those schedules.
pub fn stack_checking_domains_every_second() -> &'static Stack {
    static QUICK: OnceLock<Stack> = OnceLock::new();
    QUICK.get_or_init(|| {
        start_stack(
            "-domains",
            &[
                ("DOMAIN_VERIFY_SCHEDULE", "1"),
                ("DOMAIN_RECHECK_SECONDS", "2"),
                ("DOMAIN_CERTIFICATE_SCHEDULE", "1"),
                ("MOTO_ACM_VALIDATION_WAIT", "2"),
            ],
        )
    })
}

/// A stack that serves at most two custom domains (`CUSTOM_DOMAIN_QUOTA`; 120 by
/// default), for the tests of the quota (a count the whole stack shares).
pub fn stack_serving_two_custom_domains() -> &'static Stack {
    static TWO: OnceLock<Stack> = OnceLock::new();
    TWO.get_or_init(|| start_stack("-quota", &[("CUSTOM_DOMAIN_QUOTA", "2")]))
}

/// A stack whose export worker takes up a run that died after 3 seconds (its queue's
/// visibility timeout; 90 minutes in the template), for the crash test.
pub async fn stack_retrying_exports_quickly() -> &'static Stack {
    static QUICK: OnceLock<Stack> = OnceLock::new();
    let stack = QUICK.get_or_init(|| start_stack("-exports", &[]));
    stack.set_visibility_timeout("EXPORTS_QUEUE_URL", 3).await;
    stack
}

fn start_stack(suffix: &str, overrides: &[(&str, &str)]) -> Stack {
    // Custom-domain checks ask the binary's DNS server on loopback, never the network.
    let nameservers = dns::dns().address.clone();
    let mut overrides = overrides.to_vec();
    overrides.push(("DNS_NAMESERVERS", &nameservers));
    // The API's own name (the template's `ApiDomainName`), as a deployed API is asked.
    overrides.push(("API_DOMAIN_NAME", "api.plexmcp.example"));
    let dir = repo_root()
        .join("target")
        .join("test-stacks")
        .join(format!("{}{suffix}", std::process::id()));
    Stack(LocalStack::start_with(
        &repo_root(),
        &bin_dir().join("local-gateway"),
        &dir,
        &overrides,
    ))
}

async fn sdk(stack: &Stack) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&stack.aws_endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await
}

impl Stack {
    pub fn api(&self) -> Api {
        Api::new(&self.base_url)
    }

    /// A client on a network of its own: a random loopback address other than 127.0.0.1.
    pub fn api_from_own_network(&self) -> Api {
        let [a, b, c]: [u8; 3] = rand::random();
        let source = std::net::Ipv4Addr::new(127, a.max(1), b, c.max(1));
        Api::from_address(&self.base_url, source.into())
    }

    pub fn table_name(&self) -> String {
        self.env("TABLE_NAME")
    }

    /// The table behind the API, for what a client cannot do: move time, inspect writes.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&sdk(self).await)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&sdk(self).await)
    }

    /// Sets the visibility timeout of the queue whose URL the stack's `queue_env` names,
    /// so that a message a worker failed (or a run that died) comes back within seconds.
    pub async fn set_visibility_timeout(&self, queue_env: &str, seconds: u32) {
        self.sqs()
            .await
            .set_queue_attributes()
            .queue_url(self.env(queue_env))
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                seconds.to_string(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("set the visibility timeout of {queue_env}: {e}"));
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&sdk(self).await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&sdk(self).await)
    }

    pub async fn acm(&self) -> aws_sdk_acm::Client {
        aws_sdk_acm::Client::new(&sdk(self).await)
    }

    pub async fn api_gateway(&self) -> aws_sdk_apigatewayv2::Client {
        aws_sdk_apigatewayv2::Client::new(&sdk(self).await)
    }

    /// The CNAME target of `hostname` in the platform hosted zone, if it has one.
    pub async fn platform_cname(&self, hostname: &str) -> Option<String> {
        let set = self.platform_record(hostname).await?;
        assert_eq!(set.resource_records().len(), 1, "{set:?}");
        Some(set.resource_records()[0].value().to_owned())
    }

    /// The CNAME record set of `hostname` in the platform hosted zone, if it has one.
    pub async fn platform_record(
        &self,
        hostname: &str,
    ) -> Option<aws_sdk_route53::types::ResourceRecordSet> {
        let name = format!("{hostname}.");
        let sets = self
            .route53()
            .await
            .list_resource_record_sets()
            .hosted_zone_id(self.env("PLATFORM_ZONE_ID"))
            .start_record_name(&name)
            .start_record_type(aws_sdk_route53::types::RrType::Cname)
            .send()
            .await
            .expect("list the platform zone's records");
        sets.resource_record_sets()
            .iter()
            .find(|set| {
                set.name() == name && *set.r#type() == aws_sdk_route53::types::RrType::Cname
            })
            .cloned()
    }

    /// Makes `action` of `set` in the platform hosted zone, behind the workers.
    pub async fn change_platform_record(
        &self,
        action: aws_sdk_route53::types::ChangeAction,
        set: aws_sdk_route53::types::ResourceRecordSet,
    ) {
        use aws_sdk_route53::types::{Change, ChangeBatch};
        let change = Change::builder()
            .action(action)
            .resource_record_set(set)
            .build()
            .expect("a change");
        self.route53()
            .await
            .change_resource_record_sets()
            .hosted_zone_id(self.env("PLATFORM_ZONE_ID"))
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .expect("a batch"),
            )
            .send()
            .await
            .expect("change the platform zone");
    }

    pub async fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&sdk(self).await)
    }
}

/// The headers that sign `GET url` with Signature Version 4 for API Gateway
/// (`execute-api`), with the stack's credentials: a call of the gateway's IAM role.
pub fn signed_get(url: &str) -> Vec<(String, String)> {
    signed_get_with(url, "local")
}

/// As `signed_get`, with `secret` for the stack's access key id.
pub fn signed_get_with(url: &str, secret: &str) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity =
        aws_credential_types::Credentials::new("local", secret, None, None, "tests").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let host = reqwest::Url::parse(url).expect("a URL");
    let host = format!("{}:{}", host.host_str().unwrap(), host.port().unwrap());
    let request = SignableRequest::new(
        "GET",
        url,
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .expect("a signable request");
    let (instructions, _) = sign(request, &params).expect("signed").into_parts();
    instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{prefix}{n:016x}")
}

/// Sets `attr` of the item `(pk, sk)` behind the API of `stack()`: how a test moves time
/// for one item.
pub async fn set_attribute(
    pk: &str,
    sk: &str,
    attr: &str,
    value: aws_sdk_dynamodb::types::AttributeValue,
) {
    stack().set_attribute(pk, sk, attr, value).await;
}

impl Stack {
    /// Sets `attr` of the existing item `(pk, sk)` behind this stack's API.
    pub async fn set_attribute(
        &self,
        pk: &str,
        sk: &str,
        attr: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
    ) {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        self.dynamodb()
            .await
            .update_item()
            .table_name(self.table_name())
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
}

/// Deletes one item behind the API's back (an attacker with table access, or a TTL).
pub async fn delete_item(pk: &str, sk: &str) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let stack = stack();
    stack
        .dynamodb()
        .await
        .delete_item()
        .table_name(stack.table_name())
        .key("pk", S(pk.into()))
        .key("sk", S(sk.into()))
        .send()
        .await
        .expect("delete the item");
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

/// Runs a Python check of the other side's libraries (`tests/<script>`) against this
/// binary's stack; it must succeed. Its output is printed.
pub fn python_check(script: &str) {
    python_check_on(stack(), script)
}

/// As `python_check`, against `stack`.
pub fn python_check_on(stack: &Stack, script: &str) {
    let root = repo_root();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests").join(script))
        .arg(&stack.base_url)
        // For what a client cannot do: move time for one item.
        .env("AWS_ENDPOINT_URL", &stack.aws_endpoint)
        .env("TABLE_NAME", stack.table_name())
        // What a domain owner does at their DNS provider (the binary's DNS server).
        .env("DNS_ZONE_FILE", &dns::dns().zone_file)
        .output()
        .expect("the venv python runs (make venv)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}");
}

/// A TOTP code computed by a real authenticator library (Python's pyotp) from an
/// `otpauth://` URI, for the time `offset_seconds` away from now.
/// The TOTP time step (of 30 s) `offset_seconds` from now.
pub fn time_step(offset_seconds: i64) -> i64 {
    (chrono::Utc::now().timestamp() + offset_seconds).div_euclid(30)
}

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

/// The pause between a handler's reads and its commit (`shared::test_hooks`): armed for
/// the next commit of a change with audit action `action` recorded in the chain of
/// partition `chain` (`ORG#<org id>`, `USER#<user id>`). Hold it for the whole test.
pub struct Pause {
    dir: PathBuf,
    name: String,
}

impl Pause {
    pub async fn before_commit(action: &str, chain: &str) -> Pause {
        Self::before_commit_on(stack(), action, chain).await
    }

    /// `before_commit` in the gateway of `stack` (its workers' commits too).
    pub async fn before_commit_on(stack: &Stack, action: &str, chain: &str) -> Pause {
        let pause = Pause {
            dir: stack.hooks_dir.clone(),
            name: format!("{action}.{chain}"),
        };
        let _ = std::fs::remove_file(pause.file("paused"));
        std::fs::write(pause.file("pause"), b"").expect("arm the pause");
        pause
    }

    fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}.{suffix}", self.name))
    }

    /// Waits until a request has read and is about to commit.
    pub async fn reached(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::remove_file(self.file("paused")).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "no commit of {} paused",
                self.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Lets the paused request commit.
    pub fn resume(&self) {
        std::fs::write(self.file("resume"), b"").expect("resume");
    }
}

/// Runs `request` until it is paused before its commit of `action` in `org`, then
/// `meanwhile`, then lets it commit; returns its answer.
pub async fn interleaved<R, M>(action: &str, org: &OrgFixture, request: R, meanwhile: M) -> Resp
where
    R: std::future::Future<Output = Resp> + Send + 'static,
    M: std::future::Future<Output = ()>,
{
    let pause = Pause::before_commit(action, &format!("ORG#{}", org.id)).await;
    let paused = tokio::spawn(request);
    pause.reached().await;
    meanwhile.await;
    pause.resume();
    paused.await.expect("the paused request answers")
}
