//! The test binary's authoritative DNS server on loopback (`tests/dns_server.py`), which
//! every stack of the binary asks (`DNS_NAMESERVERS`): tests publish and remove records
//! while the stack runs, as a domain owner does at their DNS provider.

use crate::repo_root;
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct DnsServer {
    /// `127.0.0.1:<port>`, UDP and TCP.
    pub address: String,
    /// The zone the server answers from (JSON `{name: [[type, value], …]}`), reread on
    /// each query.
    pub zone_file: PathBuf,
    zone: Mutex<Map<String, Value>>,
}

/// The binary's DNS server, started on first use.
pub fn dns() -> &'static DnsServer {
    static DNS: OnceLock<DnsServer> = OnceLock::new();
    DNS.get_or_init(|| {
        let dir = repo_root()
            .join("target")
            .join("test-stacks")
            .join(format!("{}-dns", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dns dir");
        let zone_file = dir.join("zone.json");
        std::fs::write(&zone_file, "{}").expect("zone file");
        let port = crate::free_port();
        let mut command = Command::new(repo_root().join(".venv/bin/python"));
        command
            .arg(repo_root().join("tests/dns_server.py"))
            .args(["--port", &port.to_string()])
            .arg("--zone")
            .arg(&zone_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("dns.log")).expect("dns log"));
        crate::die_with_parent(&mut command);
        // Spawned from a thread that lives as long as the process: the death signal fires
        // when the spawning *thread* ends (a test's thread would end with its test).
        let (started, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut child = command.spawn().expect("start the DNS server (make venv)");
            let mut line = String::new();
            let mut out = BufReader::new(child.stdout.take().expect("stdout"));
            let _ = out.read_line(&mut line);
            let _ = started.send(line);
            // Holds the thread (and the server's stdout) for the server's whole life.
            let _ = child.wait();
            drop(out);
        });
        let line = ready.recv().expect("the DNS server thread");
        assert_eq!(line.trim(), "ready", "the DNS server did not start");
        DnsServer {
            address: format!("127.0.0.1:{port}"),
            zone_file,
            zone: Mutex::new(Map::new()),
        }
    })
}

impl DnsServer {
    /// Publishes `records` (`("CNAME", target)`, `("TXT", value)`) at `name`, replacing
    /// what it had; none removes the name.
    pub fn set(&self, name: &str, records: &[(&str, &str)]) {
        let mut zone = self.zone.lock().unwrap();
        if records.is_empty() {
            zone.remove(name);
        } else {
            let list: Vec<Value> = records.iter().map(|(k, v)| json!([k, v])).collect();
            zone.insert(name.to_owned(), Value::Array(list));
        }
        let tmp = self.zone_file.with_extension("tmp");
        std::fs::write(&tmp, Value::Object(zone.clone()).to_string()).expect("zone file");
        std::fs::rename(&tmp, &self.zone_file).expect("zone file");
    }

    /// Publishes what a custom domain's answer (`GET`/`PUT .../custom-domain`) asks for:
    /// the CNAME, and its TXT token (beside `more_tokens`, other orgs' tokens for the name).
    pub fn publish(&self, answer: &Value, more_tokens: &[&Value]) {
        self.set(
            answer["domain"].as_str().expect("domain"),
            &[("CNAME", answer["cname_target"].as_str().expect("cname"))],
        );
        let txt: Vec<(&str, &str)> = std::iter::once(answer)
            .chain(more_tokens.iter().copied())
            .map(|a| ("TXT", a["txt_record"]["value"].as_str().expect("token")))
            .collect();
        self.set(answer["txt_record"]["name"].as_str().expect("txt"), &txt);
    }
}
