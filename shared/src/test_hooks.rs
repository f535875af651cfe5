//! Switches for tests, by files in a directory: a pause between a handler's reads and
//! its commit (for tests that prove a decision is a condition of the write: the test
//! changes the item while the request waits), and switches that make a step fail (the
//! relay after commit, for the outbox sweep's test; a Route53 change). Compiled in only with the `test-hooks` feature (the local
//! gateway's), and inert unless `PLEXMCP_TEST_HOOKS` names a directory.
//!
//! The pause, by files in that directory, named by the audit action and the partition
//! whose chain records it (`mcp.created.ORG#org_…`), so that tests running side by side
//! pause only their own request: the test creates `<name>.pause`; the next commit attempt
//! of such a change removes it, creates `<name>.paused` and waits (up to 30 s) for
//! `<name>.resume`, which it removes.

pub async fn before_commit(action: &str, chain: &str) {
    use std::time::{Duration, Instant};
    let Some(dir) = std::env::var_os("PLEXMCP_TEST_HOOKS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let at = |suffix: &str| dir.join(format!("{action}.{chain}.{suffix}"));
    if std::fs::remove_file(at("pause")).is_err() {
        return;
    }
    let _ = std::fs::write(at("paused"), b"");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::fs::remove_file(at("resume")).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A switch that is on while the file `<name>` exists in the hooks directory.
pub fn switched_on(name: &str) -> bool {
    std::env::var_os("PLEXMCP_TEST_HOOKS")
        .map(std::path::PathBuf::from)
        .is_some_and(|dir| dir.join(name).exists())
}

/// A one-shot fault: true once for each time the test creates the file `<name>`.
pub fn fault_once(name: &str) -> bool {
    std::env::var_os("PLEXMCP_TEST_HOOKS")
        .map(std::path::PathBuf::from)
        .is_some_and(|dir| std::fs::remove_file(dir.join(name)).is_ok())
}

/// The test switch that makes the relay right after commit fail for one org's or user's
/// outbox messages (the file `relay-fails.<org or user id>`), so that a test sees the
/// sweep deliver them. `partition` is the outbox entry's (`ORG#org_…`, `USER#usr_…`).
pub fn relay_fails(partition: &str) -> bool {
    let id = partition.split_once('#').map_or(partition, |(_, id)| id);
    switched_on(&format!("relay-fails.{id}"))
}

/// A name's addresses as a test says (the file `resolve.<host>` in the hooks directory,
/// one IP address a line), standing in for DNS, which tests never ask: how a test makes a
/// webhook's host name resolve to a private address.
pub fn resolved(host: &str) -> Option<Vec<std::net::IpAddr>> {
    let dir = std::path::PathBuf::from(std::env::var_os("PLEXMCP_TEST_HOOKS")?);
    let text = std::fs::read_to_string(dir.join(format!("resolve.{host}"))).ok()?;
    Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}
