//! Where production code lets a test reach in: each point calls into `test_hooks` with
//! the `test-hooks` feature and does nothing without it.

#[cfg(feature = "test-hooks")]
use crate::test_hooks;

/// A pause between a worker's reads and its commit, for the tests that change an item
/// meanwhile (see `test_hooks`); nothing without the `test-hooks` feature.
pub async fn test_pause(action: &str, chain: &str) {
    #[cfg(feature = "test-hooks")]
    test_hooks::before_commit(action, chain).await;
    #[cfg(not(feature = "test-hooks"))]
    let _ = (action, chain);
}

/// A fault switch for tests (`test_hooks::switched_on`); always off without the
/// `test-hooks` feature.
pub fn test_switch(name: &str) -> bool {
    #[cfg(feature = "test-hooks")]
    return test_hooks::switched_on(name);
    #[cfg(not(feature = "test-hooks"))]
    {
        let _ = name;
        false
    }
}

/// A one-shot fault for tests (`test_hooks::fault_once`); never without the `test-hooks`
/// feature.
pub fn test_fault_once(name: &str) -> bool {
    #[cfg(feature = "test-hooks")]
    return test_hooks::fault_once(name);
    #[cfg(not(feature = "test-hooks"))]
    {
        let _ = name;
        false
    }
}
