//! Logging. In Lambda: one JSON object a line, with the keys of AWS Lambda Powertools'
//! structured logs — `timestamp`, `level`, `service`, `cold_start`, `function_name`,
//! `function_memory_size`, `function_request_id`, `xray_trace_id`, `location`,
//! `message` — and the event's own fields at the top level (`parked: true`), where
//! CloudWatch Logs Insights and metric filters find them. Locally: compact text.
//! `RUST_LOG` overrides the level (default `info`); `POWERTOOLS_SERVICE_NAME` the
//! service (default: the function's name).
//!
//! The request and trace ids come from the span `lambda_runtime` opens around each
//! invocation; `cold_start` is true for the first invocation of the process (and for
//! what is logged before it, during init).

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The span `lambda_runtime` opens around each invocation.
const INVOKE_SPAN: &str = "Lambda runtime invoke";

/// The first invocation's request id: the cold start.
static FIRST_REQUEST: OnceLock<String> = OnceLock::new();

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .event_format(Powertools::from_env())
            .finish()
            .with(Invocations)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .compact()
            .try_init();
    }
}

/// What a log line says about the invocation it belongs to.
#[derive(Clone)]
struct Invocation {
    request_id: String,
    trace_id: Option<String>,
    cold_start: bool,
}

/// Keeps the invocation's ids on its span, for every line logged inside it.
pub struct Invocations;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Invocations {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != INVOKE_SPAN {
            return;
        }
        let mut fields = Map::new();
        attrs.record(&mut JsonFields(&mut fields));
        let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(request_id) = text("requestId") else {
            return;
        };
        let cold_start = *FIRST_REQUEST.get_or_init(|| request_id.clone()) == request_id;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Invocation {
                request_id,
                trace_id: text("xrayTraceId"),
                cold_start,
            });
        }
    }
}

/// The Powertools line format.
pub struct Powertools {
    service: String,
    function_name: Option<String>,
    memory_size: Option<u64>,
}

impl Powertools {
    pub fn from_env() -> Self {
        let var = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let function_name = var("AWS_LAMBDA_FUNCTION_NAME");
        Powertools {
            service: var("POWERTOOLS_SERVICE_NAME")
                .or_else(|| function_name.clone())
                .unwrap_or_else(|| "service_undefined".into()),
            function_name,
            memory_size: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.parse().ok()),
        }
    }
}

impl<S, N> FormatEvent<S, N> for Powertools
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let invocation = ctx.event_scope().and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<Invocation>().cloned())
        });
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("service".into(), self.service.clone().into());
        let cold_start = match &invocation {
            Some(invocation) => invocation.cold_start,
            None => FIRST_REQUEST.get().is_none(),
        };
        line.insert("cold_start".into(), cold_start.into());
        if let Some(name) = &self.function_name {
            line.insert("function_name".into(), name.clone().into());
        }
        if let Some(size) = self.memory_size {
            line.insert("function_memory_size".into(), size.into());
        }
        if let Some(invocation) = invocation {
            line.insert("function_request_id".into(), invocation.request_id.into());
            if let Some(trace) = invocation.trace_id {
                line.insert("xray_trace_id".into(), trace.into());
            }
        }
        if let (Some(file), Some(number)) = (meta.file(), meta.line()) {
            line.insert("location".into(), format!("{file}:{number}").into());
        }
        event.record(&mut JsonFields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's or span's fields as JSON values, each at the top level.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_the_powertools_keys_and_the_invocation_they_belong_to() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .event_format(Powertools {
                service: "organization".into(),
                function_name: Some("plexmcp-organization".into()),
                memory_size: Some(256),
            })
            .finish()
            .with(Invocations);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("init done");
            for (id, trace) in [("req-1", "Root=1-aaa"), ("req-2", "Root=1-bbb")] {
                let span = tracing::info_span!(INVOKE_SPAN, requestId = id, xrayTraceId = trace);
                let _entered = span.enter();
                let inner = tracing::info_span!("handler");
                let _inner = inner.enter();
                tracing::error!(parked = true, relays = 10u64, error = %"boom", "entry parked");
            }
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["cold_start"], true);
        assert_eq!(lines[0]["message"], "init done");
        assert!(lines[0].get("function_request_id").is_none());
        for (line, (id, trace, cold)) in lines[1..].iter().zip([
            ("req-1", "Root=1-aaa", true),
            ("req-2", "Root=1-bbb", false),
        ]) {
            assert_eq!(line["level"], "ERROR");
            assert_eq!(line["service"], "organization");
            assert_eq!(line["function_name"], "plexmcp-organization");
            assert_eq!(line["function_memory_size"], 256);
            assert_eq!(line["function_request_id"], id);
            assert_eq!(line["xray_trace_id"], trace);
            assert_eq!(line["cold_start"], cold);
            assert_eq!(line["message"], "entry parked");
            assert_eq!(line["parked"], true);
            assert_eq!(line["relays"], 10);
            assert_eq!(line["error"], "boom");
            assert!(line["location"].as_str().unwrap().contains("telemetry.rs:"));
            let at = line["timestamp"].as_str().unwrap();
            assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        }
    }
}
