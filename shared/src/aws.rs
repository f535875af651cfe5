//! AWS clients, built once per process. `AWS_ENDPOINT_URL` is the only thing that points
//! the same code at the local emulator.
//!
//! The SDK's HTTPS client trusts the roots AWS endpoints chain to (Amazon Trust Services
//! and the Starfield root that cross-signs them, `aws_roots.pem`), compiled in, plus the
//! PEM file `SSL_CERT_FILE` names, if any (a proxy's CA, say). The SDK's default would
//! read and parse every certificate of the system store at init, a large part of a
//! cold start (`make bench`), for trust in CAs that no AWS endpoint uses.
//!
//! Every DynamoDB client carries `RoundTripCounter`: inside a request scope
//! (`count_round_trips`) it counts each call sent to DynamoDB, each `Scan`, and the round
//! trips — the times the request waited on DynamoDB: a call sent while none of the
//! request's others is in flight starts one, calls sent side by side share it. So the
//! design's budget (≤ 3 round trips per API call, no Scan) is measured, not assumed, and
//! the calls (what a request costs) are measured beside it.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

#[derive(Debug, Default)]
pub struct RoundTrips {
    calls: AtomicU32,
    scans: AtomicU32,
    trips: AtomicU32,
    /// Attempts sent and not yet answered. A call dropped in flight (its request failed
    /// on another branch) is never answered: later calls of that request then count no
    /// trip, which can only hide trips of a request that has already failed.
    in_flight: AtomicU32,
}

impl RoundTrips {
    pub fn trips(&self) -> u32 {
        self.trips.load(Ordering::Relaxed)
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn scans(&self) -> u32 {
        self.scans.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    static ROUND_TRIPS: Arc<RoundTrips>;
}

/// Runs `work` with a fresh counter of the DynamoDB calls it makes.
pub async fn count_round_trips<F: Future>(work: F) -> (F::Output, Arc<RoundTrips>) {
    let counter = Arc::new(RoundTrips::default());
    let output = ROUND_TRIPS.scope(counter.clone(), work).await;
    (output, counter)
}

#[derive(Debug)]
struct RoundTripCounter;

impl Intercept for RoundTripCounter {
    fn name(&self) -> &'static str {
        "RoundTripCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_scan = context
            .request()
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| target.ends_with(".Scan"));
        let _ = ROUND_TRIPS.try_with(|counter| {
            counter.calls.fetch_add(1, Ordering::Relaxed);
            if is_scan {
                counter.scans.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = ROUND_TRIPS.try_with(|counter| {
            if counter.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
                counter.trips.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = ROUND_TRIPS.try_with(|counter| {
            let _ = counter
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        });
        Ok(())
    }
}

/// The DynamoDB client, built on first use from its configuration: building an SDK
/// client costs CPU (`make bench`), which a request that needs no table — the OpenAPI
/// document, a 401 or a 404, an empty batch — should not pay at a cold start.
#[derive(Clone)]
pub struct LazyDynamoDb(Arc<(aws_sdk_dynamodb::Config, OnceLock<aws_sdk_dynamodb::Client>)>);

impl LazyDynamoDb {
    /// One around a client already built (the bench's floors call the table as a
    /// function does, through `Table`).
    pub fn built(client: aws_sdk_dynamodb::Client) -> Self {
        let config = client.config().clone();
        LazyDynamoDb(Arc::new((config, OnceLock::from(client))))
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        let (config, client) = &*self.0;
        client.get_or_init(|| aws_sdk_dynamodb::Client::from_conf(config.clone()))
    }
}

/// A failed call to an AWS service other than the table, in the SDK's words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AwsError(pub String);

impl<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>
    From<aws_smithy_runtime_api::client::result::SdkError<E, R>> for AwsError
{
    fn from(err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Self {
        AwsError(aws_smithy_types::error::display::DisplayErrorContext(&err).to_string())
    }
}

/// The SQS client, built on first use: building an SDK client costs CPU at every cold
/// start (`make bench`), and most invocations send no message.
#[derive(Clone)]
pub struct LazySqs(Arc<(aws_config::SdkConfig, OnceLock<aws_sdk_sqs::Client>)>);

/// The longest delay SQS gives a message: longer waits travel as a `not_before` time
/// that the receiving worker honours by putting the message back.
pub const MAX_QUEUE_DELAY: chrono::Duration = chrono::Duration::minutes(15);

impl LazySqs {
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        let (sdk, client) = &*self.0;
        client.get_or_init(|| aws_sdk_sqs::Client::new(sdk))
    }

    /// Sends `message` (as JSON) to `queue_url`, to be received after `wait`, capped at
    /// `MAX_QUEUE_DELAY`.
    pub async fn send_after<T: serde::Serialize>(
        &self,
        queue_url: &str,
        message: &T,
        wait: chrono::Duration,
    ) -> Result<(), AwsError> {
        let body = serde_json::to_string(message).map_err(|e| AwsError(e.to_string()))?;
        let delay = wait.num_seconds().clamp(0, MAX_QUEUE_DELAY.num_seconds()) as i32;
        self.client()
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await?;
        Ok(())
    }
}

/// The S3 client. Locally (an endpoint URL is set) objects are addressed by path, as the
/// emulator serves them on one host; in AWS by virtual host, as S3 recommends.
#[cfg(feature = "s3")]
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The data-key ring from the Secrets Manager secret `secret` (its whole SecretString).
pub async fn data_keys(
    sdk: &aws_config::SdkConfig,
    secret: &str,
) -> Result<crate::crypto::Keyring, String> {
    #[cfg(feature = "secrets-manager")]
    {
        let out = aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "reading the data keys from {secret}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                )
            })?;
        let text = out
            .secret_string()
            .ok_or_else(|| format!("{secret} holds no SecretString"))?;
        crate::crypto::Keyring::parse(text)
    }
    #[cfg(not(feature = "secrets-manager"))]
    {
        let _ = sdk;
        Err(format!(
            "DATA_KEY_SECRET_ARN ({secret}) is set, but this function is built without the \
             shared crate's `secrets-manager` feature"
        ))
    }
}

#[derive(Clone)]
pub struct Clients {
    pub dynamodb: LazyDynamoDb,
    pub sqs: LazySqs,
    /// For a client of another service that one function builds itself (Route53).
    pub sdk: aws_config::SdkConfig,
}

const AWS_ROOTS: &[u8] = include_bytes!("aws_roots.pem");

fn trust_store() -> TrustStore {
    let store = TrustStore::empty().with_pem_certificate(AWS_ROOTS);
    match std::env::var_os("SSL_CERT_FILE").map(std::fs::read) {
        Some(Ok(pem)) => store.with_pem_certificate(pem),
        _ => store,
    }
}

fn https_client() -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
        .expect("a trust store of PEM certificates");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

impl Clients {
    /// The SDK's configuration as Lambda gives it, built without `aws-config`'s loader:
    /// the region and the role's credentials are environment variables there (and in the
    /// local stack), so the provider chains the loader would build and consult (profile
    /// files, SSO, web identity, container and instance metadata) have nothing to find,
    /// and the clients' own defaults (retries, timeouts, sleep, time source, identity
    /// cache, for the behavior version) are what the loader would set. `AWS_ENDPOINT_URL`
    /// points every client at the local emulator.
    pub async fn from_env() -> Self {
        let mut sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(https_client())
            .credentials_provider(SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ));
        if let Some(region) = env_var("AWS_REGION").or_else(|| env_var("AWS_DEFAULT_REGION")) {
            sdk = sdk.region(aws_config::Region::new(region));
        }
        if let Some(url) = env_var("AWS_ENDPOINT_URL") {
            sdk = sdk.endpoint_url(url);
        }
        let sdk = sdk.build();
        let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(RoundTripCounter)
            .build();
        Clients {
            dynamodb: LazyDynamoDb(Arc::new((dynamodb_config, OnceLock::new()))),
            sqs: LazySqs(Arc::new((sdk.clone(), OnceLock::new()))),
            sdk,
        }
    }
}

/// A variable that is set and not empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
