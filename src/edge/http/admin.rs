//! Admin routes (the `admin` role in token mode; open in dev mode): the fleet of live
//! instances with totals, the fleet's rooms and sockets (`admin_sockets`), each mode's
//! operator routes (`Mode::admin_routes`), and the admin page (`/admin`, itself open:
//! it asks for a token and sends it with every call). Served on the internal port when
//! there is one.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde::Serialize;
use utoipa::ToSchema;

use super::health::HttpState;
use super::ui;
use super::{admin_judge, admin_sockets};
use crate::base::error::{AckError, ApiError, ErrorEnvelope};
use crate::services::auth::guard;
use crate::services::fleet::{self, Member};

pub fn routes(state: HttpState) -> Router {
    let auth = state.app.auth.clone();
    let mut modes = Router::new();
    for mode in state.modes.iter() {
        modes = modes.merge(mode.admin_routes());
    }
    Router::new()
        .route("/api/admin/instances", get(instances))
        .with_state(state.clone())
        .merge(admin_judge::routes(state.clone()))
        .merge(admin_sockets::routes(state))
        .merge(modes)
        .route_layer(middleware::from_fn_with_state(auth, guard::admin))
        .merge(ui::admin_page())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Fleet {
    /// `arena serve` processes.
    instances: Vec<Member>,
    /// `arena judge` processes (their `concurrency` and `jobsRunning` filled in).
    judges: Vec<Member>,
    /// Over the instances.
    totals: Totals,
}

#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Totals {
    instances: usize,
    clients: i64,
    rss_bytes: u64,
    cpu_seconds: f64,
}

/// `GET /api/admin/instances`: every instance that beat within the silence bound.
#[utoipa::path(
    get,
    path = "/api/admin/instances",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the live fleet (instances with totals, and judges)", body = Fleet),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "Redis did not answer", body = ErrorEnvelope),
    )
)]
async fn instances(State(s): State<HttpState>) -> Result<Json<Fleet>, ApiError> {
    let mut conn = s.app.redis.clone();
    let members = fleet::list(&mut conn).await.map_err(|e| {
        tracing::warn!(error = %e, "fleet list failed");
        ApiError::from(AckError::unavailable())
    })?;
    let (judges, instances): (Vec<Member>, Vec<Member>) =
        members.into_iter().partition(|m| m.kind == "judge");
    let mut totals = Totals {
        instances: instances.len(),
        ..Totals::default()
    };
    for m in &instances {
        totals.clients += m.clients;
        totals.rss_bytes += m.rss_bytes;
        totals.cpu_seconds += m.cpu_seconds;
    }
    Ok(Json(Fleet {
        instances,
        judges,
        totals,
    }))
}
