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
        self.change(ChangeAction::Upsert, hostname, set).await
    }

    /// Removes the record of `hostname` as the zone holds it; one that is not there
    /// (never written, or removed already) is done.
    ///
    /// Route53 deletes a record set only when given its exact TTL and values, so the
    /// set is read first: one written for an earlier `GATEWAY_CNAME_TARGET` (or TTL)
    /// goes too, where a DELETE of the set as this function would write it now would
    /// leave it in the zone.
    pub async fn remove(&self, hostname: &str) -> Result<(), Route53Error> {
        let name = format!("{hostname}.");
        let listed = self
            .client()
            .list_resource_record_sets()
            .hosted_zone_id(self.zone_id()?)
            .start_record_name(&name)
            .start_record_type(RrType::Cname)
            .max_items(1)
            .send()
            .await
            .map_err(route53)?;
        let Some(set) = listed
            .resource_record_sets()
            .iter()
            .find(|set| set.name() == name && *set.r#type() == RrType::Cname)
        else {
            return Ok(());
        };
        match self
            .change(ChangeAction::Delete, hostname, set.clone())
            .await
        {
            // Removed between the read and the change (a redelivered message's run).
            Err(Route53Error(reason)) if is_not_found(&reason) => Ok(()),
            other => other,
        }
    }

    fn zone_id(&self) -> Result<&str, Route53Error> {
        self.zone_id
            .as_deref()
            .ok_or_else(|| Route53Error("PLATFORM_ZONE_ID is not set for this function".into()))
    }

    async fn change(
        &self,
        action: ChangeAction,
        hostname: &str,
        set: ResourceRecordSet,
    ) -> Result<(), Route53Error> {
        let zone_id = self.zone_id()?;
        if crate::test_switch(&format!("route53-fails.{hostname}")) {
            return Err(Route53Error("failed by the test switch".into()));
        }
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
