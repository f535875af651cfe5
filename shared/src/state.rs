//! What a function builds once at start and hands to every request.

use crate::aws::Clients;
use crate::config::Config;
use crate::crypto::{Keyring, SecretBox};
use crate::error::Error;
use crate::outbox::EventRelay;
use crate::store::cursor::CursorKey;
use crate::store::Table;
use std::sync::Arc;
use tokio::sync::OnceCell;

const PIN_PEPPER: &str = "plexmcp/pin-pepper/v1";

/// The data keys and what is made of them.
pub struct DataKeys {
    pub ring: Keyring,
    /// Seals secrets kept in the table (TOTP secrets, webhook signing secrets).
    pub secrets: SecretBox,
    /// Signs list cursors so a client cannot hand DynamoDB a key of its own.
    pub cursors: CursorKey,
}

impl DataKeys {
    fn of(ring: Keyring) -> Self {
        DataKeys {
            secrets: SecretBox::new(&ring),
            cursors: CursorKey::new(&ring),
            ring,
        }
    }

    /// The server-side pepper of organization PINs, from the data key `key_id` (the one
    /// current when the PIN was set; `None`: the current key).
    pub fn pin_pepper(&self, key_id: Option<&str>) -> Option<Vec<u8>> {
        self.ring
            .derive(key_id.unwrap_or(self.ring.current_id()), PIN_PEPPER)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub table: Table,
    pub events: EventRelay,
    pub sqs: crate::aws::LazySqs,
    /// The SDK configuration, for a client of another service built where it is used.
    pub sdk: aws_config::SdkConfig,
    keys: Arc<OnceCell<DataKeys>>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(clients: Clients, config: Config) -> Self {
        // Known now unless they are the secret's, which `keys` reads on first use; a
        // function given neither has none.
        let known = match (&config.data_keys, &config.data_key_secret) {
            (Some(ring), _) => Some(ring.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(Keyring::none()),
        };
        AppState {
            table: Table::new(clients.dynamodb, config.table_name.clone()),
            events: EventRelay::new(clients.sqs.clone(), config.events_queue_url.clone()),
            sqs: clients.sqs,
            sdk: clients.sdk,
            keys: Arc::new(OnceCell::new_with(known.map(DataKeys::of))),
            config: Arc::new(config),
        }
    }

    /// The data keys: those of `DATA_KEY`, or the ring of the Secrets Manager secret
    /// `DATA_KEY_SECRET_ARN`, read by the first request that seals, opens, peppers or
    /// signs with it (one call, kept for the life of the process). The cold start and
    /// every request that needs no key never wait for it.
    pub async fn keys(&self) -> Result<&DataKeys, Error> {
        self.keys
            .get_or_try_init(|| async {
                // Only a function given the secret gets here (`new` fills the cell otherwise).
                let secret = self.config.data_key_secret.as_deref().ok_or_else(|| {
                    Error::Internal("no data keys and no secret to read them from".into())
                })?;
                let ring = crate::aws::data_keys(&self.sdk, secret)
                    .await
                    .map_err(Error::Internal)?;
                Ok(DataKeys::of(ring))
            })
            .await
    }

    pub async fn from_env() -> Result<Self, Error> {
        Ok(Self::new(Clients::from_env().await, Config::from_env()?))
    }
}
