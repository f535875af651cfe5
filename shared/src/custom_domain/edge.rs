//! The edge of a verified custom domain: its ACM certificate (validated by DNS, the
//! customer publishes the record we show), and once issued the API Gateway regional
//! domain name with that certificate and its mapping to the stack's HTTP API. Only the
//! domain worker builds these clients (feature `edge`).

use super::{Certificate, DomainRecord, ValidationRecord, ISSUED};
use aws_sdk_acm::error::ProvideErrorMetadata;
use aws_sdk_acm::types::{CertificateStatus, ValidationMethod};
use aws_sdk_apigatewayv2::types::{DomainNameConfiguration, EndpointType, SecurityPolicy};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
#[error("custom domain edge: {0}")]
pub struct EdgeError(pub String);

fn failed(err: impl std::error::Error) -> EdgeError {
    EdgeError(aws_sdk_acm::error::DisplayErrorContext(err).to_string())
}

/// An answer, or `None` when the error's code is `gone` (what was asked about is not
/// there: deleted already, or never made).
fn unless<T, E>(result: Result<T, E>, gone: &str) -> Result<Option<T>, EdgeError>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match result {
        Ok(answer) => Ok(Some(answer)),
        Err(err) if err.code() == Some(gone) => Ok(None),
        Err(err) => Err(failed(err)),
    }
}

/// ACM's status of a certificate that no longer exists (deleted outside the stack).
pub const MISSING: &str = "MISSING";

/// The certificate and API Gateway clients (built on first use) and the API to map to.
pub struct Edge {
    sdk: aws_config::SdkConfig,
    acm: OnceLock<aws_sdk_acm::Client>,
    apigw: OnceLock<aws_sdk_apigatewayv2::Client>,
    api_id: Option<String>,
    stage: String,
}

impl Edge {
    pub fn new(state: &crate::AppState) -> Self {
        Edge {
            sdk: state.sdk.clone(),
            acm: OnceLock::new(),
            apigw: OnceLock::new(),
            api_id: state.config.http_api_id.clone(),
            stage: state.config.http_api_stage.clone(),
        }
    }

    fn acm(&self) -> &aws_sdk_acm::Client {
        self.acm.get_or_init(|| aws_sdk_acm::Client::new(&self.sdk))
    }

    fn apigw(&self) -> &aws_sdk_apigatewayv2::Client {
        self.apigw
            .get_or_init(|| aws_sdk_apigatewayv2::Client::new(&self.sdk))
    }

    fn switch(&self, domain: &str) -> Result<(), EdgeError> {
        if crate::test_switch(&format!("acm-fails.{domain}")) {
            return Err(EdgeError("failed by the test switch".into()));
        }
        Ok(())
    }

    /// One step of a verified domain towards being served, at `now`: its certificate is
    /// requested (a new one when the last can no longer be issued: that one is released
    /// first), looked at, and once issued the name is served with it. The record as the
    /// step leaves it; the caller writes it.
    pub async fn advance(
        &self,
        record: &DomainRecord,
        now: DateTime<Utc>,
    ) -> Result<DomainRecord, EdgeError> {
        let domain = &record.domain;
        let arn = match &record.certificate {
            Some(cert) if !cert.is_over() => cert.arn.clone(),
            Some(spent) => {
                self.release(domain, &spent.arn).await?;
                self.request_certificate(domain, &spent.arn).await?
            }
            None => self.request_certificate(domain, &record.token).await?,
        };
        let cert = self.certificate(domain, &arn).await?;
        if cert.status == ISSUED {
            self.serve(domain, &arn).await?;
        }
        Ok(record.with_certificate(cert, now))
    }

    /// Requests a DNS-validated certificate for `domain`. `request` names the request (the
    /// org's domain token): asked again for the same one within the hour, ACM answers with
    /// the same certificate instead of a second.
    pub async fn request_certificate(
        &self,
        domain: &str,
        request: &str,
    ) -> Result<String, EdgeError> {
        self.switch(domain)?;
        let digest = Sha256::digest(format!("{domain}\n{request}"));
        let token: String = hex::encode(digest).chars().take(32).collect();
        let answer = self
            .acm()
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .send()
            .await
            .map_err(failed)?;
        answer
            .certificate_arn()
            .map(str::to_owned)
            .ok_or_else(|| EdgeError("ACM answered without a certificate ARN".into()))
    }

    /// Where the certificate `arn` stands: ACM's status, the validation record once ACM
    /// has made it, and why it failed. One that no longer exists is `MISSING`.
    pub async fn certificate(&self, domain: &str, arn: &str) -> Result<Certificate, EdgeError> {
        self.switch(domain)?;
        let described = self
            .acm()
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await;
        let Some(answer) = unless(described, "ResourceNotFoundException")? else {
            return Ok(Certificate {
                arn: arn.to_owned(),
                status: MISSING.into(),
                validation_record: None,
                failure: Some("the certificate no longer exists".into()),
            });
        };
        let detail = answer
            .certificate()
            .ok_or_else(|| EdgeError("ACM answered without the certificate".into()))?;
        let validation_record = detail
            .domain_validation_options()
            .iter()
            .find(|v| v.domain_name().eq_ignore_ascii_case(domain))
            .and_then(|v| v.resource_record())
            .map(|r| ValidationRecord {
                r#type: r.r#type().as_str().to_owned(),
                name: r.name().to_owned(),
                value: r.value().to_owned(),
            });
        Ok(Certificate {
            arn: arn.to_owned(),
            status: detail
                .status()
                .map(CertificateStatus::as_str)
                .unwrap_or(MISSING)
                .to_owned(),
            validation_record,
            failure: detail.failure_reason().map(|r| r.as_str().to_owned()),
        })
    }

    /// Serves `domain` with the issued certificate `arn`: its regional domain name (TLS
    /// 1.2) and the mapping to the HTTP API's stage. Made again, it finds both and
    /// changes nothing.
    pub async fn serve(&self, domain: &str, arn: &str) -> Result<(), EdgeError> {
        self.switch(domain)?;
        let api_id = self
            .api_id
            .as_deref()
            .ok_or_else(|| EdgeError("HTTP_API_ID is not set for this function".into()))?;
        let configuration = DomainNameConfiguration::builder()
            .certificate_arn(arn)
            .endpoint_type(EndpointType::Regional)
            .security_policy(SecurityPolicy::Tls12)
            .build();
        let created = self
            .apigw()
            .create_domain_name()
            .domain_name(domain)
            .domain_name_configurations(configuration)
            .send()
            .await;
        // A conflict: made by an earlier look.
        unless(created, "ConflictException")?;
        if self.mapping_ids(domain, Some(api_id)).await?.is_empty() {
            self.apigw()
                .create_api_mapping()
                .domain_name(domain)
                .api_id(api_id)
                .stage(&self.stage)
                .send()
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    /// The mappings of `domain` (to `api`, or all), none when it has no domain name.
    async fn mapping_ids(&self, domain: &str, api: Option<&str>) -> Result<Vec<String>, EdgeError> {
        let listed = self
            .apigw()
            .get_api_mappings()
            .domain_name(domain)
            .send()
            .await;
        Ok(unless(listed, "NotFoundException")?
            .iter()
            .flat_map(|answer| answer.items())
            .filter(|m| api.is_none_or(|api| m.api_id() == Some(api)))
            .filter_map(|m| m.api_mapping_id().map(str::to_owned))
            .collect())
    }

    /// The certificate the domain name of `domain` serves with, if it has one.
    async fn served_with(&self, domain: &str) -> Result<Option<String>, EdgeError> {
        let read = self
            .apigw()
            .get_domain_name()
            .domain_name(domain)
            .send()
            .await;
        Ok(unless(read, "NotFoundException")?.and_then(|answer| {
            answer
                .domain_name_configurations()
                .iter()
                .find_map(|c| c.certificate_arn().map(str::to_owned))
        }))
    }

    /// Releases what the certificate `arn` of `domain` made: the mappings, the domain
    /// name, then the certificate, in that order; what is gone already is done. A domain
    /// name that serves with another certificate (the name was set and served again, by
    /// this org or another, before this release ran) is not this release's and stays.
    pub async fn release(&self, domain: &str, arn: &str) -> Result<(), EdgeError> {
        self.switch(domain)?;
        if self.served_with(domain).await?.as_deref() == Some(arn) {
            for id in self.mapping_ids(domain, None).await? {
                let deleted = self
                    .apigw()
                    .delete_api_mapping()
                    .domain_name(domain)
                    .api_mapping_id(id)
                    .send()
                    .await;
                unless(deleted, "NotFoundException")?;
            }
            let deleted = self
                .apigw()
                .delete_domain_name()
                .domain_name(domain)
                .send()
                .await;
            unless(deleted, "NotFoundException")?;
        }
        let deleted = self
            .acm()
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await;
        unless(deleted, "ResourceNotFoundException")?;
        Ok(())
    }
}
