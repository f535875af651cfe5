//! The mail worker (an SQS-triggered Lambda on the mail queue): hands each rendered
//! message (`shared::mail::Mail`) to Amazon SES with `SendEmail`, from the address the
//! template configures (`MAIL_FROM_ADDRESS`, and `MAIL_CONFIGURATION_SET` if any).
//!
//! Once per message id: a message SES accepted is recorded (`MAILSENT#<id>` in its
//! owner's partition, kept 14 days, longer than the queue keeps a message), and a
//! redelivered one is not sent again. A failure (SES throttling, an outage) is reported in
//! `batchItemFailures`: only that message comes back after the visibility timeout, and
//! after the queue's `maxReceiveCount` it waits in the DLQ (alarmed) instead of being lost.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use chrono::Utc;
use shared::mail::Mail;
use shared::sqs_batch::each_record;
use shared::store::{n, s, Key, StoreError};
use shared::AppState;

/// How long a sent message's id is remembered: beyond any redelivery.
const SENT_MEMORY_DAYS: i64 = 14;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the message is not an e-mail: {0}")]
    Malformed(String),
    #[error("SES: {0}")]
    Ses(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of one message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Sent,
    /// Sent by an earlier delivery of the same message.
    AlreadySent,
}

pub struct Mailer {
    ses: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

fn sent_key(mail: &Mail) -> Key {
    Key::mail_sent(&mail.owner, mail.id.as_str())
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Ses(e.to_string()))
}

impl Mailer {
    /// The sender and configuration set of the function's configuration.
    pub fn new(state: &AppState) -> Result<Self, String> {
        let from = state
            .config
            .mail_from_address
            .clone()
            .ok_or("MAIL_FROM_ADDRESS is not set")?;
        Ok(Mailer {
            ses: aws_sdk_sesv2::Client::new(&state.sdk),
            from,
            configuration_set: state.config.mail_configuration_set.clone(),
        })
    }

    pub async fn handle(&self, state: &AppState, event: SqsEvent) -> SqsBatchResponse {
        each_record(event, 1, |record| async move {
            match serde_json::from_str::<Mail>(record.body.as_deref().unwrap_or("")) {
                Ok(mail) => self.deliver(state, &mail).await,
                Err(err) => Err(MailError::Malformed(err.to_string())),
            }
        })
        .await
    }

    /// Sends `mail` unless an earlier delivery of it did, then records it as sent.
    pub async fn deliver(&self, state: &AppState, mail: &Mail) -> Result<Outcome, MailError> {
        let key = sent_key(mail);
        if state.table.get(&key).await?.is_some() {
            return Ok(Outcome::AlreadySent);
        }
        if shared::test_switch(&format!("mail-fails.{}", mail.to)) {
            return Err(MailError::Ses("SES is unavailable (test switch)".into()));
        }
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&mail.text)?)
                    .html(utf8(&mail.html)?)
                    .build(),
            )
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                MailError::Ses(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string())
            })?;
        let mut item = key.to_item();
        item.insert("message_id".into(), s(mail.id.as_str()));
        item.insert(
            "ttl".into(),
            n((Utc::now() + chrono::Duration::days(SENT_MEMORY_DAYS)).timestamp()),
        );
        state
            .table
            .client()
            .put_item()
            .table_name(state.table.name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok(Outcome::Sent)
    }
}
