//! A pause between a handler's reads and its commit, for tests that prove a decision is
//! a condition of the write: the test changes the item while the request waits. Compiled
//! in only with the `test-hooks` feature (the local gateway's), and inert unless
//! `PLEXMCP_TEST_HOOKS` names a directory.
//!
//! The protocol, by files in that directory: the test creates `<action>.pause`; the next
//! commit attempt of a change with that audit action removes it, creates
//! `<action>.paused` and waits (up to 30 s) for `<action>.resume`, which it removes.

#[cfg(feature = "test-hooks")]
pub async fn before_commit(action: &str) {
    use std::time::{Duration, Instant};
    let Some(dir) = std::env::var_os("PLEXMCP_TEST_HOOKS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let at = |suffix: &str| dir.join(format!("{action}.{suffix}"));
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

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub async fn before_commit(_action: &str) {}
