//! The `webhooks` section (OpenAPI 3.1): the request PlexMCP sends to an endpoint for each
//! event type and for Send Test (`webhook.test`): the payload, with `data` as the event's
//! own type (`shared::event_data`), and the Standard Webhooks headers that sign it. Each
//! payload is also a component (`McpCreatedEvent`, …) for generated clients to name.
//! utoipa's `OpenApi` has no field for the section, so it travels as a root extension
//! (serialized in place, at the document's root).

use shared::event_data::{self, TestMessage};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::SchemaFormat;
use utoipa::openapi::{
    ContentBuilder, KnownFormat, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder,
    Schema, Type,
};
use utoipa::PartialSchema;

const TEST_EVENT: &str = "webhook.test";

pub fn describe(doc: &mut OpenApi) {
    let mut events: Vec<(String, RefOr<Schema>)> = event_data::schemas()
        .into_iter()
        .map(|(event, data)| (event.name().to_owned(), data))
        .collect();
    events.push((TEST_EVENT.to_owned(), TestMessage::schema()));
    let components = doc.components.get_or_insert_with(Default::default);
    let mut section = serde_json::Map::new();
    for (name, data) in events {
        let component = component_name(&name);
        components
            .schemas
            .insert(component.clone(), payload(&name, data).into());
        let item = PathItem::new(HttpMethod::Post, delivery(&name, &component));
        section.insert(
            name,
            serde_json::to_value(item).expect("a path item serializes"),
        );
    }
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), section.into());
}

/// `mcp.health_changed` → `McpHealthChangedEvent`.
fn component_name(event: &str) -> String {
    type_name(event) + "Event"
}

/// `mcp.health_changed` → `McpHealthChanged`.
fn type_name(event: &str) -> String {
    let mut name = String::new();
    for word in event.split(['.', '_']) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// `{type, event, timestamp, organization_id, data}`, as `shared::events::Event::payload`.
fn payload(event: &str, data: RefOr<Schema>) -> Schema {
    let name = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([event]))
    };
    ObjectBuilder::new()
        .description(Some(format!("The payload of `{event}`.")))
        .property(
            "type",
            name().description(Some("The event type (the Standard Webhooks name)")),
        )
        .property(
            "event",
            name().description(Some("The event type, as `type`")),
        )
        .property(
            "timestamp",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("When it happened")),
        )
        .property("organization_id", Ref::from_schema_name("OrgId"))
        .property("data", data)
        .required("type")
        .required("event")
        .required("timestamp")
        .required("organization_id")
        .required("data")
        .into()
}

fn delivery(event: &str, component: &str) -> utoipa::openapi::path::Operation {
    let header = |name: &str, about: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(about))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(component)))
                .build(),
        )
        .build();
    let mut operation = OperationBuilder::new()
        .operation_id(Some(format!("receive{}", type_name(event))))
        .summary(Some(format!("`{event}` sent to an endpoint that subscribes to it")))
        .parameter(header(
            "webhook-id",
            "The message id (`msg_…`): the same for every attempt and redelivery; deduplicate on it",
        ))
        .parameter(header(
            "webhook-timestamp",
            "Unix seconds when this attempt was signed; refuse one far from now",
        ))
        .parameter(header(
            "webhook-signature",
            "`v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}>` keyed with the endpoint secret's bytes after `whsec_`; space-separated, one per secret that signs (two for 24 h after a rotation)",
        ))
        .request_body(Some(body))
        .response(
            "2XX",
            ResponseBuilder::new()
                .description("Delivered. Any other answer, or none within the timeout, is retried on the schedule"),
        )
        .build();
    // Signed, not authenticated with the API's schemes.
    operation.security = Some(Vec::new());
    operation
}
