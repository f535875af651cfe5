//! The smallest Lambda function `lambda_runtime` makes: the figure every function's cold
//! start, zip size and memory are compared with in `make bench`. On the runtime flavour
//! our functions use (current-thread).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200, "body": "hello" }))
    }))
    .await
}
