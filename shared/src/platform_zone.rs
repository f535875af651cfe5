//! The platform hosted zone in Route53, where each org's host name is a CNAME to the
//! gateway (`platform_hostname`): written by the events worker when an org is created,
//! removed by the deletion worker when it is deleted. The client is built on first use:
//! most messages the events worker takes are webhook events, which never need it.

use crate::AppState;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
#[error("Route53: {0}")]
pub struct Route53Error(String);

/// What resolvers may cache the record for: it changes only when the org goes.
const TTL_SECONDS: i64 = 300;

pub struct PlatformZone {
    sdk: aws_config::SdkConfig,
    client: OnceLock<aws_sdk_route53::Client>,
    zone_id: Option<String>,
    target: String,
}

impl PlatformZone {
    pub fn new(state: &AppState) -> Self {
        PlatformZone {
            sdk: state.sdk.clone(),
            client: OnceLock::new(),
            zone_id: state.config.platform_zone_id.clone(),
            target: state.config.gateway_cname_target.clone(),
        }
    }

    fn client(&self) -> &aws_sdk_route53::Client {
        self.client
            .get_or_init(|| aws_sdk_route53::Client::new(&self.sdk))
    }

    /// Creates or overwrites the record of `hostname` (UPSERT): doing it again changes
    /// nothing.
    pub async fn write(&self, hostname: &str) -> Result<(), Route53Error> {
        self.change(ChangeAction::Upsert, hostname).await
    }

    /// Removes the record of `hostname`; one that is not there (removed already) is done.
    pub async fn remove(&self, hostname: &str) -> Result<(), Route53Error> {
        match self.change(ChangeAction::Delete, hostname).await {
            Err(Route53Error(reason)) if is_not_found(&reason) => Ok(()),
            other => other,
        }
    }

    async fn change(&self, action: ChangeAction, hostname: &str) -> Result<(), Route53Error> {
        let zone_id = self
            .zone_id
            .as_deref()
            .ok_or_else(|| Route53Error("PLATFORM_ZONE_ID is not set for this function".into()))?;
        if crate::test_switch(&format!("route53-fails.{hostname}")) {
            return Err(Route53Error("failed by the test switch".into()));
        }
        let set = ResourceRecordSet::builder()
            .name(format!("{hostname}."))
            .r#type(RrType::Cname)
            .ttl(TTL_SECONDS)
            .resource_records(
                ResourceRecord::builder()
                    .value(&self.target)
                    .build()
                    .map_err(route53)?,
            )
            .build()
            .map_err(route53)?;
        let change = Change::builder()
            .action(action)
            .resource_record_set(set)
            .build()
            .map_err(route53)?;
        self.client()
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .map_err(route53)?,
            )
            .send()
            .await
            .map_err(route53)?;
        Ok(())
    }
}

fn route53(err: impl std::error::Error) -> Route53Error {
    Route53Error(aws_sdk_route53::error::DisplayErrorContext(err).to_string())
}

/// Route53 refuses to DELETE a record set that does not exist (`InvalidChangeBatch`:
/// "… it was not found").
fn is_not_found(reason: &str) -> bool {
    reason.contains("InvalidChangeBatch") && reason.contains("not found")
}
