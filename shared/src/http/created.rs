//! A 201 answer: the new resource as its body, and where it lives (`Location`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub struct Created<T> {
    /// The new resource's path (`/v1/orgs/acme/mcps/mcp_…`).
    pub location: String,
    pub body: T,
}

impl<T> Created<T> {
    pub fn at(location: String, body: T) -> Self {
        Created { location, body }
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (
            StatusCode::CREATED,
            [(header::LOCATION, self.location)],
            axum::Json(self.body),
        )
            .into_response()
    }
}
