//! The plans an organization can be on.

/// Every plan, cheapest first.
pub const PLANS: &[&str] = &["free", "pro", "team", "enterprise"];
