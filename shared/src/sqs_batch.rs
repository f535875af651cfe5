//! The batch loop of every queue worker, with Lambda's partial-batch answer: each record
//! is handled on its own; those whose handling failed are reported and come back from
//! the queue (then its DLQ), the others are deleted. A record that can never be handled
//! (unreadable) is the handler's to drop — retrying cannot make it readable.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::stream::{self, StreamExt};
use std::fmt::{Debug, Display};
use std::future::Future;

/// Handles each record of `event` with `work`, up to `concurrency` at a time (1: one
/// after the other), logging what became of each; answers with the failed ones.
pub async fn each_record<F, Fut, T, E>(
    event: SqsEvent,
    concurrency: usize,
    work: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Debug,
    E: Display,
{
    let handled: Vec<(String, Result<T, E>)> = stream::iter(event.records)
        .map(|record| {
            let id = record.message_id.clone().unwrap_or_default();
            let work = work(record);
            async move { (id, work.await) }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    failures(handled.into_iter().filter_map(|(id, result)| match result {
        Ok(done) => {
            tracing::info!(message_id = %id, ?done, "queue message done");
            None
        }
        Err(err) => {
            tracing::warn!(message_id = %id, error = %err, "queue message not done; the queue gives it back");
            Some(id)
        }
    }))
}

/// The partial-batch answer that gives back the records `failed` (by message id).
pub fn failures(failed: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for id in ids {
            let mut record = SqsMessage::default();
            record.message_id = Some((*id).to_owned());
            record.body = Some((*id).to_owned());
            event.records.push(record);
        }
        event
    }

    #[tokio::test]
    async fn only_the_failed_records_are_given_back_in_order() {
        for concurrency in [1, 10] {
            let answer = each_record(
                event(&["a", "bad1", "b", "bad2"]),
                concurrency,
                |r| async move {
                    let body = r.body.unwrap_or_default();
                    match body.starts_with("bad") {
                        true => Err(format!("{body} failed")),
                        false => Ok(body),
                    }
                },
            )
            .await;
            let given_back: Vec<_> = answer
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            assert_eq!(given_back, ["bad1", "bad2"]);
        }
    }
}
