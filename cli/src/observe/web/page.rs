//! The console page, `GET /`: one self-contained HTML document (its CSS and script are
//! in it), built into the binary from `console/` with `include_str!`: nothing is
//! fetched from anywhere at build or run time, so it works on an isolated network.
//!
//! In: nothing (the page reads `/api/events`, `/api/log`, `/api/why` and posts
//! `/api/op/…` from the browser). Out: the document, with a Content-Security-Policy
//! that lets it talk to this endpoint only.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

const HTML: &str = include_str!("console/console.html");
const CSS: &str = include_str!("console/console.css");
const JS: &str = include_str!("console/console.js");

/// The page with its style and script in place.
pub fn html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| HTML.replace("/*STYLE*/", CSS).replace("/*SCRIPT*/", JS))
}

/// Only this endpoint: no other origin can be loaded from or sent to, no framing.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(super) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html(),
    )
        .into_response()
}
