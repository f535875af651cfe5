//! `GET /_local/mailbox?to=<address>`: the e-mails the emulator's SES accepted, newest
//! first, so a person trying `make run` and the tests can read what the platform sent
//! (the verification link, an invitation). Served by the local gateway only: no function
//! of the template routes it, so it never exists in AWS.
//!
//! `token` is the verification or invitation token the message carries (the `token=`
//! of its link), else null.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Where the emulator (`infra/emulator.py`) serves what SES accepted.
const SENT_MAIL_PATH: &str = "/_emulator/ses/sent";

#[derive(Deserialize)]
struct Sent {
    to: Vec<String>,
    subject: String,
    text: String,
    html: String,
    sent_at: String,
}

#[derive(Serialize)]
struct MailboxItem {
    to: String,
    subject: String,
    text: String,
    html: String,
    sent_at: String,
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct MailboxQuery {
    to: Option<String>,
}

/// The `token=` value of the first link in `text`.
fn token_of(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("token=")?;
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'))
        .collect();
    (!token.is_empty()).then_some(token)
}

pub async fn mailbox(Query(query): Query<MailboxQuery>) -> Response {
    match read(query.to.as_deref()).await {
        Ok(items) => axum::Json(serde_json::json!({ "items": items })).into_response(),
        Err(message) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(serde_json::json!({ "message": message })),
        )
            .into_response(),
    }
}

async fn read(to: Option<&str>) -> Result<Vec<MailboxItem>, String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| "no AWS emulator (AWS_ENDPOINT_URL) to read mail from".to_string())?;
    let url = format!("{}{SENT_MAIL_PATH}", endpoint.trim_end_matches('/'));
    let sent: Vec<Sent> = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("the emulator's mail is not readable at {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the emulator's mail is not readable at {url}: {e}"))?;
    let wanted = to.map(str::to_lowercase);
    Ok(sent
        .into_iter()
        .rev()
        .flat_map(|mail| {
            let token = token_of(&mail.text);
            mail.to
                .iter()
                .filter(|to| wanted.as_ref().is_none_or(|w| to.to_lowercase() == *w))
                .map(|to| MailboxItem {
                    to: to.clone(),
                    subject: mail.subject.clone(),
                    text: mail.text.clone(),
                    html: mail.html.clone(),
                    sent_at: mail.sent_at.clone(),
                    token: token.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::token_of;

    #[test]
    fn the_token_is_the_value_of_the_link() {
        let text = "Hello\n\nVerify: http://127.0.0.1:3000/settings/#verify-email?token=pmv.usr_1.aB-_9\n\n-- ";
        assert_eq!(token_of(text).as_deref(), Some("pmv.usr_1.aB-_9"));
        assert_eq!(token_of("no link here"), None);
    }
}
