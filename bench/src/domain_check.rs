//! The domain worker's first real message: a scheduled check of a pending custom domain,
//! asked of an authoritative DNS server on loopback (`tests/dns_server.py`, which every
//! function and the stack are pointed at with `DNS_NAMESERVERS`) that holds none of its
//! records — the org and domain read, the CNAME and TXT lookups, the check written, the
//! next one queued (an hour on). A pending domain's check can be made again and again:
//! each answer is a real check.

use crate::functions::Fixture;
use crate::setup::call;
use crate::Launcher;
use local_runtime::events::{http_request, sqs_record};
use local_runtime::RuntimeApi;
use serde_json::{json, Value};
use shared::custom_domain::{DomainCheck, DomainRecord};
use shared::ids::OrgId;
use shared::store::{Key, Table};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The DNS server, stopped when dropped.
pub struct DnsServer {
    child: Child,
    /// `127.0.0.1:<port>`, UDP and TCP.
    pub address: String,
}

impl DnsServer {
    /// Starts it with an empty zone (every name is NXDOMAIN), its log in `dir`.
    pub fn start(root: &Path, dir: &Path) -> DnsServer {
        let zone = dir.join("zone.json");
        std::fs::write(&zone, "{}").expect("the zone file");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/dns_server.py"))
            .args(["--port", &port.to_string()])
            .arg("--zone")
            .arg(&zone)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("dns.log")).expect("dns.log"))
            .spawn()
            .expect("the DNS server starts (make venv)");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut ready)
            .expect("the DNS server's first line");
        assert_eq!(ready.trim(), "ready", "the DNS server did not start");
        DnsServer {
            child,
            address: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The check of a pending domain of an org of its own (Pro, which custom domains need).
pub fn one_check_at_a_time(
    launcher: &Launcher,
    bin: &Path,
    table: &Table,
    fixture: &Fixture,
) -> Box<dyn Fn() -> Value> {
    let runtime = RuntimeApi::start();
    let _organization = launcher.start(&bin.join("organization"), &runtime);
    let owner = Some(fixture.token.as_str());
    let slug = format!("{}-domain", fixture.slug);
    let org = json!({ "name": "Bench Domain", "slug": slug });
    let org = call(
        &runtime,
        http_request("POST", "/v1/orgs", owner, Some(&org)),
        201,
    );
    let path = format!("/v1/orgs/{slug}");
    let plan = json!({ "plan": "pro" });
    let billing = http_request("PUT", &format!("{path}/billing"), owner, Some(&plan));
    call(&runtime, billing, 200);
    let domain = json!({ "domain": format!("{slug}.bench.example") });
    let put = http_request(
        "PUT",
        &format!("{path}/custom-domain"),
        owner,
        Some(&domain),
    );
    call(&runtime, put, 200);
    let org_id = OrgId::parse(org["id"].as_str().expect("org id")).expect("an org id");
    let record = crate::block_on(table.get(&Key::custom_domain(&org_id)))
        .expect("the domain record")
        .expect("a pending domain");
    let record = DomainRecord::from_item(&record).expect("a domain record");
    // A late check of the schedule (hourly): the next one it queues is due after the
    // bench, so the stack's own domain worker does no checks that would share the
    // emulator with the figures.
    let job = DomainCheck {
        check: 10,
        ..DomainCheck::first(&org_id, &record.token)
    };
    let event = json!({
        "Records": [sqs_record("check", &serde_json::to_string(&job).expect("JSON"))]
    });
    Box::new(move || event.clone())
}
