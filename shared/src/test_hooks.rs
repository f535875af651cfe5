//! A pause between a handler's reads and its commit, for tests that prove a decision is
//! a condition of the write: the test changes the item while the request waits. Compiled
//! in only with the `test-hooks` feature (the local gateway's), and inert unless
//! `PLEXMCP_TEST_HOOKS` names a directory.
//!
//! The protocol, by files in that directory, named by the audit action and the partition
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
