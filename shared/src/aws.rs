//! AWS clients, built once per process. `aws-config` honours `AWS_ENDPOINT_URL`, which is
//! the only thing that points the same code at the local emulator.
//!
//! Every DynamoDB client carries `RoundTripCounter`: inside a request scope
//! (`count_round_trips`) it counts each call sent to DynamoDB and each `Scan`, so the
//! design's budget (≤ 3 round trips per API call, no Scan) is measured, not assumed.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct RoundTrips {
    calls: AtomicU32,
    scans: AtomicU32,
}

impl RoundTrips {
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
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub async fn from_env() -> Self {
        let sdk = aws_config::load_from_env().await;
        let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(RoundTripCounter)
            .build();
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb_config),
            sqs: aws_sdk_sqs::Client::new(&sdk),
        }
    }
}
