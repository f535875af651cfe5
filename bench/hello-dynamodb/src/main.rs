//! The simplest function that reads DynamoDB: aws-config's defaults, one client, one
//! `GetItem` per event, on the runtime flavour our functions use. In `make bench` a real
//! first request (one that reads the table) is compared with this one's first answer.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, table.as_str());
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
        let read = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("BENCH#HELLO".into()))
            .key("sk", AttributeValue::S("HELLO".into()))
            .send()
            .await?;
        let body = if read.item.is_some() { "found" } else { "none" };
        Ok::<_, Error>(json!({ "statusCode": 200, "body": body }))
    }))
    .await
}
