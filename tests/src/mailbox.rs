//! The local stack's mailbox (`GET /_local/mailbox`): what the mail worker handed to the
//! emulator's SES, read as a person reads their inbox.

use crate::Api;
use serde_json::Value;
use std::time::Duration;

/// Every message to `address`, newest first.
pub async fn messages(api: &Api, address: &str) -> Vec<Value> {
    let resp = api
        .send(
            api.raw(reqwest::Method::GET, "/_local/mailbox")
                .query(&[("to", address)]),
        )
        .await
        .expect(200);
    resp.body["items"].as_array().cloned().unwrap_or_default()
}

/// The newest message to `address` whose subject starts with `subject`, once it arrived
/// (the mail travels outbox → events queue → mail queue → SES: up to a few seconds).
pub async fn wait_for(api: &Api, address: &str, subject: &str) -> Value {
    for _ in 0..150 {
        if let Some(found) = messages(api, address)
            .await
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").starts_with(subject))
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no mail {subject:?} to {address} within 15 s");
}

/// How many messages to `address` have a subject that starts with `subject`.
pub async fn count(api: &Api, address: &str, subject: &str) -> usize {
    messages(api, address)
        .await
        .iter()
        .filter(|m| m["subject"].as_str().unwrap_or("").starts_with(subject))
        .count()
}
