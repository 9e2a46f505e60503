//! The browser UI: plain HTML/CSS/JS from `web/`, embedded in the binary.
//!
//! The scripts are native ES modules: `index.html` loads `/main.js`, which
//! imports the rest. A new file in `web/` is one more row in [`FILES`].

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// A file from `web/`, by a path that does not depend on where this module sits.
macro_rules! web {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file))
    };
}

const MAIN_JS: &str = web!("main.js");

/// Every UI file: (URL path, body, content type).
const FILES: &[(&str, &str, &str)] = &[
    ("/", web!("index.html"), HTML),
    ("/style.css", web!("style.css"), CSS),
    ("/main.js", MAIN_JS, JS),
    ("/socket.js", web!("socket.js"), JS),
    ("/page.js", web!("page.js"), JS),
    ("/rooms.js", web!("rooms.js"), JS),
    ("/hunt.js", web!("hunt.js"), JS),
    ("/status.js", web!("status.js"), JS),
    // The Battle Zone page: coding battles (lobby, battle, result, spectator).
    ("/zone", web!("zone.html"), HTML),
    ("/zone.css", web!("zone.css"), CSS),
    ("/zone.js", web!("zone.js"), JS),
    ("/markdown.js", web!("markdown.js"), JS),
    // The old single-file script's path, still fetched by tests/it/metrics.rs;
    // it now serves the module entry point.
    ("/app.js", MAIN_JS, JS),
];

/// The admin page's files, served with the admin routes (on the internal port when
/// there is one). The page is open; the data it fetches is behind the admin guard.
const ADMIN_FILES: &[(&str, &str, &str)] = &[
    ("/admin", web!("admin.html"), HTML),
    ("/admin.css", web!("admin.css"), CSS),
    ("/admin.js", web!("admin.js"), JS),
];

pub fn routes() -> Router {
    serve(FILES)
}

pub fn admin_page() -> Router {
    serve(ADMIN_FILES)
}

/// Every UI path and its content type (for the OpenAPI document).
pub fn pages() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILES
        .iter()
        .chain(ADMIN_FILES)
        .map(|&(path, _, content_type)| (path, content_type))
}

fn serve(files: &'static [(&'static str, &'static str, &'static str)]) -> Router {
    files
        .iter()
        .fold(Router::new(), |router, &(path, body, content_type)| {
            router.route(path, get(move || async move { page(body, content_type) }))
        })
}

fn page(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
