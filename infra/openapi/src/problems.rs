//! Error responses are `application/problem+json` (but API Gateway's own, `GatewayMessage`,
//! which are plain JSON), and any operation may also answer with
//! a problem not listed for it (400 malformed body, 413, 415, 429, 500): the document says
//! so once here, as each operation's `default`, instead of on every route. A 429 or 423
//! says when to come back in `Retry-After`.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type};

pub fn describe(doc: &mut OpenApi) {
    for (_, operation) in crate::operations_mut(doc) {
        for (status, response) in operation.responses.responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            // API Gateway's own answers (`GatewayMessage`) are plain JSON, not problems.
            let gateways = response
                .content
                .get("application/json")
                .and_then(|c| c.schema.as_ref())
                .is_some_and(
                    |s| matches!(s, RefOr::Ref(r) if r.ref_location.ends_with("/GatewayMessage")),
                );
            if (status.starts_with('4') || status.starts_with('5')) && !gateways {
                if let Some(content) = response.content.shift_remove("application/json") {
                    response
                        .content
                        .insert("application/problem+json".into(), content);
                }
            }
            if status == "429" || status == "423" {
                let seconds = ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .build();
                response.headers.insert(
                    "Retry-After".into(),
                    HeaderBuilder::new()
                        .schema(seconds)
                        .description(Some(
                            "Seconds until the request may succeed (the problem's `retry_after`)",
                        ))
                        .build(),
                );
            }
        }
        // Header values are strings, never JSON null (an absent header is `required: false`).
        for parameter in operation.parameters.iter_mut().flatten() {
            if parameter.parameter_in == ParameterIn::Header {
                parameter.schema = Some(ObjectBuilder::new().schema_type(Type::String).into());
            }
        }
        let problem = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build();
        let default = ResponseBuilder::new()
            .description("A problem (RFC 9457) with a stable `code`")
            .content("application/problem+json", problem)
            .build();
        operation
            .responses
            .responses
            .entry("default".into())
            .or_insert(default.into());
    }
}
