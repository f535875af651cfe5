//! Watching events leave the system as an endpoint owner does: an endpoint subscribed
//! through the API that delivers to a receiver on loopback.

use crate::receiver::Receiver;
use crate::{Api, OrgFixture};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A `msg_` id (26 Crockford base32 symbols) no other test uses.
pub fn new_message_id() -> String {
    use rand::Rng;
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let body: String = (0..26)
        .map(|_| CROCKFORD[rng.gen_range(0..CROCKFORD.len())] as char)
        .collect();
    format!("msg_{body}")
}

/// A webhook endpoint of an org, and the receiver behind it.
pub struct Endpoint {
    pub id: String,
    /// `whsec_…`, as shown on create.
    pub secret: String,
    pub receiver: Receiver,
}

impl Endpoint {
    /// The messages delivered within `wait`, until `expected` arrived: each the payload
    /// with its `webhook-id` as `id`.
    pub async fn messages(&self, expected: usize, wait: Duration) -> Vec<Value> {
        self.receiver.messages(expected, wait).await
    }
}

/// An endpoint of `org` for `events` (created by its owner), delivering to a new receiver.
pub async fn subscribe(api: &Api, org: &OrgFixture, events: &[&str]) -> Endpoint {
    subscribe_to(api, org, events, Receiver::start().await).await
}

/// As `subscribe`, delivering to `receiver`.
pub async fn subscribe_to(
    api: &Api,
    org: &OrgFixture,
    events: &[&str],
    receiver: Receiver,
) -> Endpoint {
    let created = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": receiver.url, "events": events }),
        )
        .await
        .expect(201);
    Endpoint {
        id: created.body["id"].as_str().unwrap().to_owned(),
        secret: created.body["secret"].as_str().unwrap().to_owned(),
        receiver,
    }
}

/// Waits until every event of the org has been fanned out (its outbox is empty).
pub async fn outbox_drains(org_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !crate::items(&format!("ORG#{org_id}"), "OUTBOX#")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the outbox of {org_id} did not drain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
