//! Socket.IO event handlers: parse the payload into domain values, act, ack, broadcast.
//!
//! Handlers take `TryData<T>`, so a malformed payload becomes a `bad_request` ack instead
//! of a handler that silently never runs. Nothing a client sends reaches other clients
//! unless it was validated first.

use std::borrow::Cow;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use socketioxide::BroadcastError;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;

use super::protocol::{Attack, Auth, PlayerId, RoomAck, RoomName, RoomReq, Welcome};
use super::{Adapter, Io};
use crate::error::{AckError, ErrorCode, ack_value};
use crate::metrics::Handler;
use crate::state::AppState;

/// Register the default namespace.
pub async fn register(io: &Io) -> Result<(), super::RealtimeError> {
    io.ns("/", on_connect.with(authenticate))
        .await
        .map_err(|e| super::RealtimeError::Adapter(e.to_string()))
}

/// Why a handshake was refused (sent to the client as a connect error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(String);

/// Handshake middleware: `auth.player` must be a valid id; no auth at all gets a guest id.
async fn authenticate(
    s: SocketRef<Adapter>,
    TryData(auth): TryData<Option<Auth>>,
) -> Result<(), AuthError> {
    let player = match auth {
        Ok(Some(Auth { player: Some(p) })) => {
            PlayerId::parse(&p).map_err(|e| AuthError(format!("auth.player: {}", e.message)))?
        }
        Ok(_) => PlayerId::guest(&s.id),
        Err(_) => {
            return Err(AuthError(
                "auth must be an object like {\"player\": \"id\"}".into(),
            ));
        }
    };
    s.extensions.insert(player);
    Ok(())
}

async fn on_connect(s: SocketRef<Adapter>, State(app): State<AppState>) {
    let start = Instant::now();
    app.metrics.client_connected();
    let player = player_of(&s);
    let _ = s.emit(
        "welcome",
        &Welcome {
            instance_id: app.instance_id.to_string(),
            socket_id: s.id.to_string(),
            player: player.as_str().to_string(),
        },
    );
    s.on("join_room", join_room);
    s.on("leave_room", leave_room);
    s.on("attack", attack);
    s.on("claim", claim);
    s.on("start_battle", start_battle);
    s.on("end_battle", end_battle);
    // A personal room, so battles can pull a player's sockets in from any instance.
    s.join(crate::battle::player_room(player.as_str()));
    s.on_disconnect(|State(app): State<AppState>| async move { app.metrics.client_disconnected() });
    app.metrics
        .handler(Handler::Connect)
        .record(start.elapsed());
}

fn player_of(s: &SocketRef<Adapter>) -> PlayerId {
    // `authenticate` always inserts it; the fallback only guards a future refactor.
    s.extensions
        .get::<PlayerId>()
        .unwrap_or_else(|| PlayerId::guest(&s.id))
}

/// Record the handler's duration and error code, then send the ack envelope.
fn reply<T: Serialize>(
    app: &AppState,
    ack: AckSender<Adapter>,
    handler: Handler,
    start: Instant,
    r: Result<T, AckError>,
) {
    if let Err(e) = &r {
        app.metrics.event_error(e.code).increment(1);
        tracing::debug!(code = e.code.as_str(), message = %e.message, "event rejected");
    }
    // No ack requested, or the client is gone: nothing to do.
    let _ = ack.send(&ack_value(&r));
    app.metrics.handler(handler).record(start.elapsed());
}

fn parse_room(req: Result<RoomReq, impl std::fmt::Display>) -> Result<RoomName, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{room}}: {e}")))?;
    if req.room.starts_with("player:") {
        return Err(AckError::bad_request("rooms named player:* are reserved"));
    }
    RoomName::parse(&req.room)
}

async fn join_room(
    s: SocketRef<Adapter>,
    TryData(req): TryData<RoomReq>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = parse_room(req).map(|room| {
        s.join(room.as_str().to_string());
        RoomAck {
            room: room.as_str().to_string(),
        }
    });
    reply(&app, ack, Handler::JoinRoom, start, r);
}

async fn leave_room(
    s: SocketRef<Adapter>,
    TryData(req): TryData<RoomReq>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = parse_room(req).map(|room| {
        s.leave(room.as_str().to_string());
        RoomAck {
            room: room.as_str().to_string(),
        }
    });
    reply(&app, ack, Handler::LeaveRoom, start, r);
}

#[derive(Serialize)]
struct Empty {}

async fn attack(
    s: SocketRef<Adapter>,
    TryData(v): TryData<Value>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = async {
        let v = v.map_err(|e| AckError::bad_request(format!("attack payload: {e}")))?;
        // Serialized size: what the payload costs every receiver.
        let size = serde_json::to_vec(&v)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        let attack = Attack::parse(v, size, app.config.max_payload_bytes)?;
        if !s.rooms().contains(&Cow::Borrowed(attack.room.as_str())) {
            return Err(AckError::new(
                ErrorCode::NotInRoom,
                format!(
                    "join room {:?} before attacking in it",
                    attack.room.as_str()
                ),
            ));
        }
        let room = attack.room.as_str().to_string();
        let body = attack.into_broadcast(&player_of(&s), &app.instance_id);
        match s.within(room).emit("attack", &body).await {
            Ok(()) => {}
            // Some local receivers' buffers were full: they are skipped, never awaited.
            Err(BroadcastError::Socket(errs)) => {
                app.metrics.client_send_dropped.increment(errs.len() as u64)
            }
            Err(e) => {
                tracing::warn!(error = %e, "attack broadcast failed");
                return Err(AckError::unavailable());
            }
        }
        app.metrics.attacks.increment(1);
        Ok(Empty {})
    }
    .await;
    reply(&app, ack, Handler::Attack, start, r);
}

/// `claim {mapId, tile}`: ack `{ok:true, value}` or an error; on success `tile_claimed`
/// goes to the room `hunt` on every instance, built from the claim script's reply.
async fn claim(
    s: SocketRef<Adapter>,
    TryData(v): TryData<Value>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = crate::hunt::claim::handle(&app, &player_of(&s), v).await;
    let delta = r.as_ref().ok().cloned();
    let r = r.map(|d| crate::hunt::claim::ClaimAck { value: d.value });
    reply(&app, ack, Handler::Claim, start, r);
    if let Some(delta) = delta {
        // Every member of the room on every instance, the claimer included if it is one.
        match s
            .within(crate::hunt::ROOM)
            .emit("tile_claimed", &delta)
            .await
        {
            Ok(()) => {}
            Err(BroadcastError::Socket(errs)) => {
                app.metrics.client_send_dropped.increment(errs.len() as u64)
            }
            Err(e) => tracing::warn!(error = %e, "tile_claimed broadcast failed"),
        }
    }
}

/// `start_battle {players}`: ack `{ok, battleId, created}`. Every asker gets
/// `battle_started`; when this call created the battle, the players' sockets (on any
/// instance) join the battle room and get it there.
async fn start_battle(
    s: SocketRef<Adapter>,
    io: super::Io,
    TryData(req): TryData<super::protocol::StartBattleReq>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = async {
        let req =
            req.map_err(|e| AckError::bad_request(format!("expected {{players: [ids]}}: {e}")))?;
        let started = crate::battle::start(&app, &app.redlock, &req.players).await?;
        announce(&io, &started, Some(&s)).await;
        Ok(super::protocol::StartBattleAck::from(&started))
    }
    .await;
    reply(&app, ack, Handler::StartBattle, start, r);
}

/// Tell the players (and the asker) that a battle started; on creation, pull every
/// player's sockets into the battle room first.
pub async fn announce(
    io: &super::Io,
    started: &crate::battle::Started,
    asker: Option<&SocketRef<Adapter>>,
) {
    let b = &started.battle;
    let event = super::protocol::BattleStarted {
        battle_id: b.battle_id.clone(),
        players: b.players.clone(),
    };
    let room = crate::battle::room(&b.battle_id);
    let asker_is_player = asker.is_some_and(|s| {
        s.extensions
            .get::<PlayerId>()
            .is_some_and(|p| b.players.iter().any(|x| x == p.as_str()))
    });
    if started.created {
        let players: Vec<String> = b
            .players
            .iter()
            .map(|p| crate::battle::player_room(p))
            .collect();
        if let Err(e) = io.within(players).join(room.clone()).await {
            tracing::warn!(error = %e, "could not add players to the battle room");
        }
        if let Err(e) = io.within(room).emit("battle_started", &event).await {
            tracing::warn!(error = %e, "battle_started broadcast failed");
        }
    }
    // The asker always hears back once: from the room above, or directly.
    if let Some(s) = asker
        && !(started.created && asker_is_player)
    {
        let _ = s.emit("battle_started", &event);
    }
}

/// `end_battle {battleId}`: ack `{ok, battleId}`; `battle_ended` to the battle room.
async fn end_battle(
    s: SocketRef<Adapter>,
    TryData(req): TryData<super::protocol::BattleIdReq>,
    ack: AckSender<Adapter>,
    State(app): State<AppState>,
) {
    let start = Instant::now();
    let r = async {
        let req = req.map_err(|e| AckError::bad_request(format!("expected {{battleId}}: {e}")))?;
        let battle = crate::battle::end(&app, &req.battle_id).await?;
        let room = crate::battle::room(&battle.battle_id);
        if let Err(e) = s.within(room).emit("battle_ended", &battle).await {
            tracing::warn!(error = %e, "battle_ended broadcast failed");
        }
        Ok(super::protocol::BattleIdAck {
            battle_id: battle.battle_id,
        })
    }
    .await;
    reply(&app, ack, Handler::EndBattle, start, r);
}
