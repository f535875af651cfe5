//! The settings pages, under `/settings/`: HTML, CSS and JS embedded at build time
//! (`build.rs`), assets under content-hashed names cached for a year, every answer with
//! a Content-Security-Policy that allows no inline script and nothing but this origin.
//! The pages call the same HTTP API as any client, signed in with a browser session
//! (`shared::http::browser`).
//!
//! A function of their own, which reads no table and calls no AWS service: its binary
//! links no AWS SDK, so a first page load costs about what a hello-world's start does
//! (`make bench`), and its role grants nothing but its logs.

use axum::extract::Path;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use shared::Error;

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/ui.rs"));

const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router {
    Router::new()
        .route("/", get(to_settings))
        .route("/settings", get(to_settings))
        .route("/settings/", get(page))
        .route("/settings/assets/{name}", get(asset))
        .route("/settings/{*page}", get(page))
}

/// The pages as the function serves them: behind the layers of every HTTP function but
/// the idempotency keys (GET only, nothing stored).
pub fn router(expose_round_trips: bool) -> Router {
    shared::http::layers::finish_stateless(routes(), expose_round_trips)
}

async fn to_settings() -> Redirect {
    Redirect::permanent("/settings/")
}

/// Headers of every page and asset.
fn guarded(content_type: &'static str, cache: &'static str, body: &'static [u8]) -> Response {
    let headers: [(HeaderName, &str); 6] = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    (StatusCode::OK, headers, body).into_response()
}

/// Every page is the one document; the script shows the page its URL names.
async fn page() -> Response {
    guarded("text/html; charset=utf-8", "no-cache", INDEX.as_bytes())
}

async fn asset(Path(name): Path<String>) -> Result<Response, Error> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or(Error::NotFound)?;
    Ok(guarded(
        asset.content_type,
        "public, max-age=31536000, immutable",
        asset.body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_asset_by_its_hashed_name_and_no_inline_script() {
        for asset in ASSETS {
            let (stem, rest) = asset.name.split_once('.').unwrap();
            let (hash, _ext) = rest.split_once('.').unwrap();
            assert!(!stem.is_empty() && hash.len() == 16, "{}", asset.name);
            if asset.name.ends_with(".js") || asset.name.ends_with(".css") {
                assert!(
                    INDEX.contains(&format!("/settings/assets/{}", asset.name)),
                    "{}",
                    asset.name
                );
            }
        }
        assert!(!INDEX.contains("<script>") && !INDEX.contains(" style="));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
    }
}
