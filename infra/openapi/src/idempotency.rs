//! Every POST that takes `Idempotency-Key` (`shared::http::idempotency::applies`) lists
//! it, so a generated client has it as an argument; a replayed answer says so in
//! `Idempotent-Replayed`.

use shared::http::idempotency::{applies, KEY_PATTERN};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Type};

pub fn describe(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(operation) = item.post.as_mut() else {
            continue;
        };
        if !applies(&axum::http::Method::POST, path) {
            continue;
        }
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(KEY_PATTERN));
        operation.parameters.get_or_insert_with(Vec::new).push(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Acts once per (credential, key) for 24 hours: a retry gets the first answer again",
                ))
                .schema(Some(key))
                .build(),
        );
        for (status, response) in operation.responses.responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            if status.starts_with('2') {
                response.headers.insert(
                    "Idempotent-Replayed".into(),
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
                        .description(Some("`true` on the first answer given again to a retry with the same Idempotency-Key"))
                        .build(),
                );
            }
        }
    }
}
