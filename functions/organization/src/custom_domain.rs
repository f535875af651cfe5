//! Settings → Custom Domain: an org's own host name for its gateway (Pro, Team and
//! Enterprise). Owners and admins set, verify and remove it; every member reads it.
//!
//! Ownership is proven in DNS: a CNAME to `GATEWAY_CNAME_TARGET` and the token shown here
//! in a TXT record at `_plexmcp-challenge.<domain>` (a CNAME alone could be a dangling
//! record left by someone else). Only that proof claims a name: setting a domain claims
//! nothing, each org that sets a name gets its own token, and a name is taken (409
//! `domain_taken`) only once another org has verified it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::custom_domain::{
    as_read, check_now, claimable_by, held_by, quota, record_check, schedule_follow_ups,
    CheckSchedule, DomainCheck, DomainRecord, Recorded, ACTIVE, CERTIFICATE_PENDING, EXPIRED,
    FAILED, ISSUED, NAME_TAKEN, PENDING_VALIDATION, RECORD_CHANGED, TAKEN, VERIFIED,
};
use shared::domain::{CustomDomain, Permission};
use shared::http::{Json, Path, Problem};
use shared::mutation::CommitError;
use shared::store::{check, delete_if, put_if, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainStatus {
    /// Waiting for the DNS records (re-checked until 48 hours have passed).
    Pending,
    /// Both records are in place; the certificate is being requested.
    Verified,
    /// Verified; waiting for the certificate, whose validation record the customer
    /// publishes (`certificate.validation_record`), or for a new one (`reason`).
    CertificatePending,
    /// Served: API calls to the domain reach the org's gateway over TLS.
    Active,
    /// Verified once; the records are gone (re-checked daily).
    Failed,
    /// No check verified it within 48 hours: the name was released.
    Expired,
}

/// The TXT record that proves the org owns the domain.
#[derive(Serialize, ToSchema)]
pub struct TxtRecord {
    /// `_plexmcp-challenge.<domain>`
    name: String,
    value: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// ACM waits for the validation record in DNS.
    PendingValidation,
    Issued,
    /// Failed, timed out, revoked, expired or gone: a new one is requested (`reason`).
    Failed,
}

/// A DNS record to publish.
#[derive(Serialize, ToSchema)]
pub struct DnsRecord {
    /// `CNAME`
    r#type: String,
    name: String,
    value: String,
}

/// The domain's TLS certificate (ACM, validated by DNS; renewed by ACM while the
/// validation record stays published).
#[derive(Serialize, ToSchema)]
pub struct CertificateView {
    status: CertificateStatus,
    /// The record to publish so that the certificate is issued (and renewed), once ACM
    /// has made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_record: Option<DnsRecord>,
}

#[derive(Serialize, ToSchema)]
pub struct CustomDomainView {
    /// The domain in its ASCII (IDNA) form.
    domain: String,
    status: DomainStatus,
    /// What the domain's CNAME record must point to.
    cname_target: String,
    txt_record: TxtRecord,
    /// While pending: when the domain is released if no check has verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    /// How many DNS checks were made, and the last one's time.
    checks: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_checked_at: Option<DateTime<Utc>>,
    /// Why the last check did not verify it ("no CNAME record", "TXT token missing", …).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_at: Option<DateTime<Utc>>,
    /// While failed: since when the records are gone (released after 7 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_since: Option<DateTime<Utc>>,
    /// Once verified: the certificate the domain is served with.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<CertificateView>,
    /// While active: since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    active_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDomain {
    #[schema(schema_with = shared::domain::schema::custom_domain)]
    domain: String,
}

fn view(state: &AppState, record: &DomainRecord) -> CustomDomainView {
    let status = match record.status.as_str() {
        VERIFIED => DomainStatus::Verified,
        CERTIFICATE_PENDING => DomainStatus::CertificatePending,
        ACTIVE => DomainStatus::Active,
        FAILED => DomainStatus::Failed,
        EXPIRED => DomainStatus::Expired,
        _ => DomainStatus::Pending,
    };
    let pending = matches!(status, DomainStatus::Pending);
    CustomDomainView {
        txt_record: TxtRecord {
            name: format!("_plexmcp-challenge.{}", record.domain),
            value: record.token.clone(),
        },
        domain: record.domain.clone(),
        status,
        cname_target: state.config.gateway_cname_target.clone(),
        expires_at: pending.then_some(record.expires_at),
        checks: record.checks,
        last_checked_at: record.last_checked_at,
        reason: record.reason.clone(),
        verified_at: record.verified_at,
        failed_since: record.failed_since,
        certificate: record.certificate.as_ref().map(|cert| CertificateView {
            status: match cert.status.as_str() {
                ISSUED => CertificateStatus::Issued,
                PENDING_VALIDATION => CertificateStatus::PendingValidation,
                _ => CertificateStatus::Failed,
            },
            validation_record: cert.validation_record.as_ref().map(|r| DnsRecord {
                r#type: r.r#type.clone(),
                name: r.name.clone(),
                value: r.value.clone(),
            }),
        }),
        active_at: record.active_at,
        created_at: record.created_at,
    }
}

/// The caller's access and the org's domain record, read together.
async fn load(
    state: &AppState,
    credential: &Credential,
    slug: &str,
) -> Result<(OrgAccess, Option<DomainRecord>), Error> {
    let (access, item) =
        OrgAccess::load_target(state, credential, slug, |org| Some(Key::custom_domain(org)))
            .await?;
    let record = item.as_ref().map(DomainRecord::from_item).transpose()?;
    Ok((access, record))
}

fn paid(access: &OrgAccess) -> Result<(), Error> {
    if access.org.plan == "free" {
        return Err(Error::PlanRequired(
            "custom domains come with the Pro, Team and Enterprise plans",
        ));
    }
    Ok(())
}

fn changed_meanwhile() -> Error {
    Error::conflict(
        "conflict",
        "the custom domain changed meanwhile; read it again and retry",
    )
}

fn taken() -> Error {
    Error::conflict("domain_taken", TAKEN)
}

fn quota_full(state: &AppState) -> Error {
    Error::conflict(
        "domain_quota",
        format!(
            "the platform serves its quota of {} custom domains; try again once one is released",
            state.config.custom_domain_quota
        ),
    )
}

/// Set the org's custom domain (owners and admins). A new domain replaces a pending,
/// failed or expired one and releases its name; the same domain again answers as it is,
/// and an expired one set again keeps its token. Setting claims nothing: a name another
/// org has not verified may be set by any number of orgs, each with its own token.
#[utoipa::path(put, path = "/v1/orgs/{slug}/custom-domain", operation_id = "put_custom_domain", tag = "custom-domain", security(("session" = [])),
    params(("slug" = String, Path)), request_body = PutDomain,
    responses(
        (status = 200, body = CustomDomainView),
        (status = 403, description = "`forbidden`, or `plan_required` on the Free plan", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`domain_taken`: another org verified it, `domain_verified`: remove the verified one first, `domain_quota`: the platform serves its quota of custom domains, or `conflict`", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn put(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<PutDomain>,
) -> Result<axum::Json<CustomDomainView>, Error> {
    let domain = CustomDomain::parse(&body.domain, &state.config.reserved())
        .map_err(|e| Error::invalid("domain", e))?;
    let (access, current) = load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    paid(&access)?;
    if let Some(current) = &current {
        if current.domain == domain.as_str() && current.status != EXPIRED {
            return Ok(axum::Json(view(&state, current)));
        }
        if current.is_proven() {
            return Err(Error::conflict(
                "domain_verified",
                format!(
                    "{} is verified; remove it before setting another domain",
                    current.domain
                ),
            ));
        }
    }
    let org = &access.org.id;
    let earlier_token = current
        .as_ref()
        .filter(|c| c.domain == domain.as_str())
        .map(|c| c.token.as_str());
    let record = DomainRecord::pending(&domain, earlier_token, Utc::now());
    let mut mutation = access
        .mutation(
            "custom_domain.added",
            Category::Settings,
            Target::new("custom_domain", domain.as_str()),
            &client,
        )
        .details(json!({ "domain": domain.as_str() }))
        .write_named(
            RECORD_CHANGED,
            put_if(&state.table, record.item(org), &as_read(current.as_ref()))?,
        )
        .write_named(
            NAME_TAKEN,
            check(
                &state.table,
                &Key::domain_claim(domain.as_str()),
                &claimable_by(org),
            )?,
        );
    // The replaced domain's claim and slot are released; otherwise a slot must be free
    // for the new one to be verified.
    let replaced = current.filter(|c| c.domain != domain.as_str());
    match replaced.as_ref().filter(|old| old.holds_claim()) {
        Some(old) => {
            let claim = Key::domain_claim(&old.domain);
            mutation = mutation
                .write_named(
                    RECORD_CHANGED,
                    delete_if(&state.table, &claim, &held_by(org))?,
                )
                .write_named(RECORD_CHANGED, quota::free(&state.table)?);
        }
        None => {
            let quota = state.config.custom_domain_quota;
            mutation =
                mutation.write_named(quota::QUOTA_FULL, quota::has_room(&state.table, quota)?);
        }
    }
    if let Some(release) = replaced.and_then(|old| old.release(org, Utc::now())) {
        mutation = mutation.emit(release);
    }
    mutation.commit(&state).await.map_err(|error| match error {
        CommitError::Conflict(NAME_TAKEN) => taken(),
        CommitError::Conflict(RECORD_CHANGED) => changed_meanwhile(),
        CommitError::Conflict(quota::QUOTA_FULL) => quota_full(&state),
        other => other.into(),
    })?;
    schedule_first_check(&state, org, &record).await;
    Ok(axum::Json(view(&state, &record)))
}

/// Puts the domain's first scheduled check on the queue. The domain is set whatever
/// happens here; a failure is logged (and Verify still checks at once).
async fn schedule_first_check(state: &AppState, org: &shared::ids::OrgId, record: &DomainRecord) {
    let check = DomainCheck::first(org, &record.token);
    let scheduled = match CheckSchedule::from_env() {
        Ok(schedule) => check
            .enqueue(state, schedule.wait_before(0))
            .await
            .map_err(|e| e.to_string()),
        Err(err) => Err(err),
    };
    if let Err(err) = scheduled {
        tracing::error!(domain = %record.domain, error = %err, "the domain's first check was not scheduled");
    }
}

/// The org's custom domain and where its verification stands (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/custom-domain", operation_id = "get_custom_domain", tag = "custom-domain", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)),
    responses((status = 200, body = CustomDomainView), (status = 404, description = "no custom domain, or no such org", body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
) -> Result<axum::Json<CustomDomainView>, Error> {
    let (access, record) = load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    let record = record.ok_or(Error::NotFound)?;
    Ok(axum::Json(view(&state, &record)))
}

/// Check DNS now (owners and admins): verified when the CNAME points to the gateway and
/// the TXT record holds the token; otherwise the reason. A verified domain whose records
/// are gone is `failed`.
#[utoipa::path(post, path = "/v1/orgs/{slug}/custom-domain/verify", operation_id = "verify_custom_domain", tag = "custom-domain", security(("session" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, body = CustomDomainView),
        (status = 403, description = "`forbidden`, or `plan_required` on the Free plan", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`domain_expired`: set it again; `domain_taken`; `domain_quota`: verified records, but the platform serves its quota of custom domains (the domain stays pending); or `conflict`", body = Problem),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
) -> Result<axum::Json<CustomDomainView>, Error> {
    let (access, record) = load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    paid(&access)?;
    let record = record.ok_or(Error::NotFound)?;
    if record.status == EXPIRED {
        return Err(Error::conflict(
            "domain_expired",
            "no check verified the domain within 48 hours and it was released; set it again",
        ));
    }
    let next = check_now(&state, &record).await?;
    let target = Target::new("custom_domain", &next.domain);
    let recorded = record_check(
        &state,
        &access.org.id,
        &access.org.slug,
        &record,
        next,
        |action| access.mutation(action, Category::Settings, target.clone(), &client),
    )
    .await?;
    match recorded {
        Recorded::Done(next) => {
            let daily = match CheckSchedule::from_env() {
                Ok(schedule) => {
                    schedule_follow_ups(&state, &schedule, &access.org.id, &record, &next)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(err) => Err(err),
            };
            if let Err(err) = daily {
                tracing::error!(domain = %next.domain, error = %err, "the domain's daily checks were not scheduled");
            }
            Ok(axum::Json(view(&state, &next)))
        }
        Recorded::ChangedMeanwhile => Err(changed_meanwhile()),
        Recorded::Taken(_) => Err(taken()),
        Recorded::QuotaFull(_) => Err(quota_full(&state)),
    }
}

/// Remove the custom domain (owners and admins, any plan): the name is released, and its
/// certificate, API Gateway domain name and mapping are deleted.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/custom-domain", operation_id = "delete_custom_domain", tag = "custom-domain", security(("session" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`conflict`: changed meanwhile", body = Problem),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
) -> Result<StatusCode, Error> {
    let (access, record) = load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    let record = record.ok_or(Error::NotFound)?;
    let org = &access.org.id;
    let mut mutation = access
        .mutation(
            "custom_domain.removed",
            Category::Settings,
            Target::new("custom_domain", &record.domain),
            &client,
        )
        .details(json!({ "domain": record.domain }))
        .write_named(
            RECORD_CHANGED,
            delete_if(
                &state.table,
                &Key::custom_domain(org),
                &as_read(Some(&record)),
            )?,
        );
    if record.holds_claim() {
        let claim = Key::domain_claim(&record.domain);
        mutation = mutation
            .write_named(
                RECORD_CHANGED,
                delete_if(&state.table, &claim, &held_by(org))?,
            )
            .write_named(RECORD_CHANGED, quota::free(&state.table)?);
    }
    if let Some(release) = record.release(org, Utc::now()) {
        mutation = mutation.emit(release);
    }
    mutation.commit(&state).await.map_err(|error| match error {
        CommitError::Conflict(RECORD_CHANGED) => changed_meanwhile(),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
