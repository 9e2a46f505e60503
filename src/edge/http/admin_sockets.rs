//! The admin routes over the whole fleet's sockets, through the Socket.IO adapter (every
//! instance answers over Redis, so these see and act on sockets anywhere):
//!
//! - `GET /api/admin/rooms`: every room with its member count, in total and per
//!   instance; the personal `player:<id>` rooms only as a count.
//! - `GET /api/admin/players/{id}/sockets`: a player's sockets (id, instance, rooms).
//! - `POST /api/admin/players/{id}/disconnect`: close every socket of a player.
//! - `POST /api/admin/sockets/{sid}/disconnect`: close one socket.
//!
//! A remote socket names its Socket.IO server (`server_id`); the fleet registry records
//! each instance's, which is how a socket is mapped to its instance.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::future::try_join_all;
use serde::Serialize;
use utoipa::ToSchema;

use super::health::HttpState;
use crate::base::error::{AckError, ApiError, ErrorCode, ErrorEnvelope};
use crate::base::ids::PlayerId;
use crate::services::fleet;
use crate::services::realtime::outcome::adapter_ack_error;

/// The personal room every socket of a player joins (the battle mode's `player_room`;
/// the edge sees modes only through the `Mode` trait, so the prefix is spelled here).
const PLAYER_ROOM_PREFIX: &str = "player:";

pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/api/admin/rooms", get(rooms))
        .route("/api/admin/players/{id}/sockets", get(player_sockets))
        .route(
            "/api/admin/players/{id}/disconnect",
            post(disconnect_player),
        )
        .route(
            "/api/admin/sockets/{sid}/disconnect",
            post(disconnect_socket),
        )
        .with_state(state)
}

/// `f` within the request timeout; an adapter failure or no answer in time is 503.
async fn bounded<T, E: std::fmt::Display>(
    s: &HttpState,
    what: &'static str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(s.request_timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, what, "admin: adapter request failed");
            Err(AckError::unavailable().into())
        }
        Err(_) => {
            tracing::warn!(what, "admin: adapter request timed out");
            Err(AckError::new(
                ErrorCode::UNAVAILABLE,
                format!(
                    "no answer within {} ms from the fleet, retry",
                    s.request_timeout.as_millis()
                ),
            )
            .into())
        }
    }
}

/// Socket.IO server id -> instance id, from the fleet registry. A server not (yet) in
/// the registry is shown by its server id.
async fn instance_names(s: &HttpState) -> Result<HashMap<String, String>, ApiError> {
    let mut conn = s.app.redis.clone();
    let members = bounded(s, "fleet list", fleet::list(&mut conn)).await?;
    Ok(members
        .into_iter()
        .filter(|m| !m.socket_server.is_empty())
        .map(|m| (m.socket_server, m.id))
        .collect())
}

fn instance_of(names: &HashMap<String, String>, server_id: &impl ToString) -> String {
    let server = server_id.to_string();
    names.get(&server).cloned().unwrap_or(server)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Rooms {
    /// Every room except the personal ones, by name.
    rooms: Vec<RoomRow>,
    /// How many personal `player:<id>` rooms exist (players with a socket).
    player_rooms: usize,
    /// Every socket in the fleet, and per instance.
    sockets: usize,
    sockets_by_instance: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RoomRow {
    name: String,
    members: usize,
    by_instance: BTreeMap<String, usize>,
}

#[utoipa::path(
    get,
    path = "/api/admin/rooms",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every room with its members, in total and per instance", body = Rooms),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "the fleet did not answer in time", body = ErrorEnvelope),
    )
)]
async fn rooms(State(s): State<HttpState>) -> Result<Json<Rooms>, ApiError> {
    let names = instance_names(&s).await?;
    let all = bounded(&s, "rooms", s.io.rooms()).await?;
    let (personal, shared): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|r| r.starts_with(PLAYER_ROOM_PREFIX));
    // One adapter request per room, all at once: every instance answers each.
    let members = try_join_all(shared.iter().map(|room| {
        let io = s.io.clone();
        let room = room.to_string();
        async move { io.within(room).fetch_sockets().await }
    }));
    let members = bounded(&s, "room members", members).await?;
    let mut rooms: Vec<RoomRow> = shared
        .iter()
        .zip(members)
        .map(|(name, sockets)| {
            let mut by_instance = BTreeMap::new();
            for sock in &sockets {
                *by_instance
                    .entry(instance_of(&names, &sock.data().server_id))
                    .or_insert(0) += 1;
            }
            RoomRow {
                name: name.to_string(),
                members: sockets.len(),
                by_instance,
            }
        })
        .collect();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    let sockets = bounded(&s, "sockets", s.io.fetch_sockets()).await?;
    let mut sockets_by_instance = BTreeMap::new();
    for sock in &sockets {
        *sockets_by_instance
            .entry(instance_of(&names, &sock.data().server_id))
            .or_insert(0) += 1;
    }
    Ok(Json(Rooms {
        rooms,
        player_rooms: personal.len(),
        sockets: sockets.len(),
        sockets_by_instance,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PlayerSockets {
    player: String,
    sockets: Vec<SocketRow>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SocketRow {
    id: String,
    instance: String,
    rooms: Vec<String>,
}

fn player_room(id: Result<Path<String>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path(id) = id?;
    let player = PlayerId::parse(&id)?;
    let room = format!("{PLAYER_ROOM_PREFIX}{}", player.as_str());
    Ok((player.as_str().to_string(), room))
}

#[utoipa::path(
    get,
    path = "/api/admin/players/{id}/sockets",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "a player id")),
    responses(
        (status = 200, description = "the player's sockets on every instance", body = PlayerSockets),
        (status = 400, description = "not a player id", body = ErrorEnvelope),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "the fleet did not answer in time", body = ErrorEnvelope),
    )
)]
async fn player_sockets(
    State(s): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<PlayerSockets>, ApiError> {
    let (player, room) = player_room(id)?;
    let names = instance_names(&s).await?;
    let found = bounded(&s, "player sockets", s.io.within(room).fetch_sockets()).await?;
    let rooms = try_join_all(found.iter().map(|sock| sock.rooms()));
    let rooms = bounded(&s, "socket rooms", rooms).await?;
    let mut sockets: Vec<SocketRow> = found
        .iter()
        .zip(rooms)
        .map(|(sock, rooms)| {
            let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
            rooms.sort();
            SocketRow {
                id: sock.data().id.to_string(),
                instance: instance_of(&names, &sock.data().server_id),
                rooms,
            }
        })
        .collect();
    sockets.sort_by(|a, b| (&a.instance, &a.id).cmp(&(&b.instance, &b.id)));
    Ok(Json(PlayerSockets { player, sockets }))
}

#[derive(Debug, Serialize, ToSchema)]
struct Disconnected {
    disconnected: usize,
}

/// Close every socket of the player, on every instance (one adapter broadcast).
#[utoipa::path(
    post,
    path = "/api/admin/players/{id}/disconnect",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "a player id")),
    responses(
        (status = 200, description = "how many sockets were closed", body = Disconnected),
        (status = 400, description = "not a player id", body = ErrorEnvelope),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "the fleet did not answer in time", body = ErrorEnvelope),
    )
)]
async fn disconnect_player(
    State(s): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Disconnected>, ApiError> {
    let (player, room) = player_room(id)?;
    let found = bounded(
        &s,
        "player sockets",
        s.io.within(room.clone()).fetch_sockets(),
    )
    .await?;
    let done = tokio::time::timeout(s.request_timeout, s.io.within(room).disconnect()).await;
    match done {
        Ok(Ok(())) | Ok(Err(socketioxide::BroadcastError::Socket(_))) => {}
        Ok(Err(socketioxide::BroadcastError::Adapter(e))) => {
            tracing::warn!(error = %e, "admin: disconnect player failed");
            return Err(adapter_ack_error(&e).into());
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "admin: disconnect player failed");
            return Err(AckError::unavailable().into());
        }
        Err(_) => {
            return Err(
                AckError::new(ErrorCode::TIMEOUT, "outcome unknown: no answer in time").into(),
            );
        }
    }
    tracing::info!(
        player,
        sockets = found.len(),
        "admin: player disconnected everywhere"
    );
    Ok(Json(Disconnected {
        disconnected: found.len(),
    }))
}

/// Close one socket, wherever it is; 404 when no instance has it.
#[utoipa::path(
    post,
    path = "/api/admin/sockets/{sid}/disconnect",
    tag = "admin",
    security(("bearer" = [])),
    params(("sid" = String, Path, description = "a Socket.IO socket id")),
    responses(
        (status = 200, description = "the socket was closed", body = Disconnected),
        (status = 400, description = "not a socket id", body = ErrorEnvelope),
        (status = 404, description = "no instance has the socket", body = ErrorEnvelope),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "the fleet did not answer in time", body = ErrorEnvelope),
    )
)]
async fn disconnect_socket(
    State(s): State<HttpState>,
    sid: Result<Path<String>, PathRejection>,
) -> Result<Json<Disconnected>, ApiError> {
    let Path(sid) = sid?;
    let all = bounded(&s, "sockets", s.io.fetch_sockets()).await?;
    let Some(sock) = all.into_iter().find(|x| x.data().id.to_string() == sid) else {
        let shown = crate::base::error::echo(&sid);
        return Err(AckError::new(ErrorCode::NOT_FOUND, format!("no socket {shown:?}")).into());
    };
    bounded(&s, "disconnect socket", sock.disconnect()).await?;
    tracing::info!(sid, "admin: socket disconnected");
    Ok(Json(Disconnected { disconnected: 1 }))
}
