//! The platform hosted zone in Route53, where each org's host name is a CNAME to the
//! gateway (`shared::platform_hostname`). The client is built on first use: most
//! messages this worker takes are webhook events, which never need it.

use crate::DispatchError;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use shared::platform_hostname::HostnameRecord;
use shared::AppState;
use std::sync::OnceLock;

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

    /// Creates or overwrites the record (UPSERT): a redelivered message changes nothing.
    pub async fn write(&self, record: &HostnameRecord) -> Result<(), DispatchError> {
        let zone_id = self.zone_id.as_deref().ok_or_else(|| {
            DispatchError::Route53("PLATFORM_ZONE_ID is not set for this function".into())
        })?;
        if shared::test_switch(&format!("route53-fails.{}", record.hostname)) {
            return Err(DispatchError::Route53("failed by the test switch".into()));
        }
        let set = ResourceRecordSet::builder()
            .name(format!("{}.", record.hostname))
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
            .action(ChangeAction::Upsert)
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

fn route53(err: impl std::error::Error) -> DispatchError {
    DispatchError::Route53(aws_sdk_route53::error::DisplayErrorContext(err).to_string())
}
