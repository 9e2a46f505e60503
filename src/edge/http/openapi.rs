//! The OpenAPI document of every HTTP route an instance serves, generated from the
//! handlers' `#[utoipa::path]` annotations and the wire types' `ToSchema` derives:
//! this module's own routes (health, operator, admin), each mode's
//! (`Mode::openapi`) and the UI's files (from `ui`'s tables). Served at
//! `GET /api/openapi.json` on every port; `tests/it/openapi.rs` checks that no route
//! of the router is missing from it, and CI fuzzes the API from it (`scripts/fuzz.sh`).

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::ui;
use crate::base::error::{ErrorDetail, ErrorEnvelope};
use crate::base::openapi;
use crate::services::mode::Mode;

/// The bearer scheme the admin routes (and `POST /api/battles`) take in token mode.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "arena",
        description = "A real-time competition server. The operator routes (`/status`, \
            `/metrics`) and the admin routes (`/api/admin/*`, `/admin`) move to the internal \
            port when `INTERNAL_PORT` is set; the admin routes take a bearer token with the \
            `admin` role in token mode (open in dev mode). Every error is the JSON envelope \
            `{error: {code, message}}`; a body over `HTTP_BODY_LIMIT_BYTES` is 413 \
            `payload_too_large`."
    ),
    paths(
        super::health::health,
        super::health::ready,
        super::health::status,
        super::health::metrics,
        super::admin::instances,
        super::admin_judge::judge,
        super::admin_sockets::rooms,
        super::admin_sockets::player_sockets,
        super::admin_sockets::disconnect_player,
        super::admin_sockets::disconnect_socket,
        openapi::openapi_json,
    ),
    components(schemas(ErrorEnvelope, ErrorDetail)),
    modifiers(&BearerAuth),
)]
struct EdgeApi;

/// The whole document: this module's routes, every mode's, and the UI files.
pub fn document(modes: &[Arc<dyn Mode>]) -> Document {
    let mut doc = openapi::finish(EdgeApi::openapi());
    for mode in modes {
        doc.merge(mode.openapi());
    }
    for (path, content_type) in ui::pages() {
        doc.paths
            .add_path_operation(path, vec![HttpMethod::Get], static_file(content_type));
    }
    doc
}

/// A UI file: `GET` answers 200 with the embedded body.
fn static_file(content_type: &str) -> Operation {
    let ok = ResponseBuilder::new()
        .description("the embedded file")
        .content(
            content_type.split(';').next().unwrap_or(content_type),
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                )))
                .build(),
        )
        .build();
    OperationBuilder::new()
        .tag("ui")
        .summary(Some("A file of the browser UI"))
        .response("200", ok)
        .build()
}

/// `GET /api/openapi.json`, on every port.
pub fn routes(modes: &[Arc<dyn Mode>]) -> Router {
    openapi::route(&document(modes))
}
