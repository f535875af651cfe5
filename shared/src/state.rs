//! What a function builds once at start and hands to every request.

use crate::aws::Clients;
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::error::Error;
use crate::events::EventRelay;
use crate::store::Table;
use std::sync::Arc;

const PIN_PEPPER: &str = "plexmcp/pin-pepper/v1";

#[derive(Clone)]
pub struct AppState {
    pub table: Table,
    pub events: EventRelay,
    pub sqs: crate::aws::LazySqs,
    /// The SDK configuration, for a client of another service built where it is used.
    pub sdk: aws_config::SdkConfig,
    pub secrets: SecretBox,
    /// Signs list cursors so a client cannot hand DynamoDB a key of its own.
    pub cursors: Arc<crate::http::page::CursorKey>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(clients: Clients, config: Config) -> Self {
        AppState {
            table: Table::new(clients.dynamodb, config.table_name.clone()),
            events: EventRelay::new(clients.sqs.clone(), config.events_queue_url.clone()),
            sqs: clients.sqs,
            sdk: clients.sdk,
            secrets: SecretBox::new(config.keys()),
            cursors: Arc::new(crate::http::page::CursorKey::new(config.keys())),
            config: Arc::new(config),
        }
    }

    /// The server-side pepper of organization PINs, from the data key `key_id` (the one
    /// current when the PIN was set; `None`: the current key).
    pub fn pin_pepper(&self, key_id: Option<&str>) -> Option<Vec<u8>> {
        let keys = self.config.keys();
        keys.derive(key_id.unwrap_or(keys.current_id()), PIN_PEPPER)
    }

    /// The state of a function: with `DATA_KEY_SECRET_ARN` (and no `DATA_KEY`), the
    /// data keys are read from Secrets Manager first — one call, at init, cached for the
    /// life of the process.
    pub async fn build(clients: Clients, mut config: Config) -> Result<Self, Error> {
        if config.data_keys.is_none() {
            if let Some(secret) = &config.data_key_secret {
                config.data_keys = Some(crate::aws::data_keys(&clients.sdk, secret).await?);
            }
        }
        Ok(Self::new(clients, config))
    }

    pub async fn from_env() -> Result<Self, Error> {
        Self::build(Clients::from_env().await, Config::from_env()?).await
    }
}
