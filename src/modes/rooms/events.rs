//! `join_room`, `leave_room` and `attack`. Nothing a client sends reaches other clients
//! unless it was validated first.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::payload::{Attack, JoinAck, RoomAck, RoomReq, check_size};
use super::settings::Fanout;
use super::state::Rooms;
use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::RoomName;
use crate::services::realtime::outcome;
use crate::services::realtime::room_history::Position;
use crate::services::realtime::{Socket, player_of};

/// Rooms a client may not join or leave by hand (the server manages them).
const RESERVED_PREFIX: &str = "player:";

fn parse_room(req: Result<RoomReq, AckError>) -> Result<(RoomName, RoomReq), AckError> {
    let req =
        req.map_err(|e| AckError::bad_request(format!("expected {{room}}: {}", e.message)))?;
    if req.room.starts_with(RESERVED_PREFIX) {
        return Err(AckError::bad_request("rooms named player:* are reserved"));
    }
    Ok((RoomName::parse(&req.room)?, req))
}

/// The position a joining client says it last saw: `epoch` and `offset` together.
fn parse_position(req: &RoomReq) -> Result<Option<Position>, AckError> {
    match (&req.epoch, req.offset) {
        (None, None) => Ok(None),
        (Some(epoch), Some(offset))
            if !epoch.is_empty()
                && epoch.len() <= EPOCH_MAX
                && epoch.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(Some(Position {
                epoch: epoch.clone(),
                offset,
            }))
        }
        (Some(_), Some(_)) => Err(AckError::bad_request(format!(
            "epoch must be 1 to {EPOCH_MAX} letters or digits"
        ))),
        _ => Err(AckError::bad_request(
            "epoch and offset go together (the last event's), or neither",
        )),
    }
}

/// Longest `epoch` a client may name (the server makes 16 hex digits).
const EPOCH_MAX: usize = 32;

/// The ack code of a `join_room` past `SOCKET_MAX_ROOMS`.
pub const TOO_MANY_ROOMS: ErrorCode = ErrorCode::new("too_many_rooms", 429);

/// `join_room {room, epoch?, offset?}`: ack `{ok, room, epoch, offset, replayed, resync}`.
/// A socket may be in at most `SOCKET_MAX_ROOMS` rooms (its `player:*` room not counted):
/// a join past that gets `too_many_rooms` (joining a room it is already in is fine). With
/// a position, the events after it are sent to the socket first (or `resync`).
pub async fn join(
    rooms: Rooms,
    s: Socket,
    req: Result<RoomReq, AckError>,
) -> Result<JoinAck, AckError> {
    let (room, req) = parse_room(req)?;
    let from = parse_position(&req)?;
    let room = room.as_str().to_string();
    let max = rooms.settings.socket_max_rooms;
    if rooms.settings.room_fanout == Fanout::Namespace {
        if from.is_some() {
            return Err(AckError::bad_request(
                "epoch and offset need ROOM_FANOUT=sharded (this server keeps no room history)",
            ));
        }
        return namespace_join(&rooms, &s, room, max);
    }
    let reserve = |held: usize| {
        if held >= max {
            return Err(AckError::new(
                TOO_MANY_ROOMS,
                format!("a socket may be in {max} rooms (SOCKET_MAX_ROOMS); leave one first"),
            ));
        }
        Ok(())
    };
    let joined = rooms.bus.join(&s, &room, from, reserve).await?;
    let (epoch, offset) = joined.at.map(|p| (p.epoch, p.offset)).unzip();
    Ok(JoinAck {
        room,
        epoch,
        offset,
        replayed: joined.replayed,
        resync: joined.resync,
    })
}

/// `leave_room {room}`: ack `{ok, room}`.
pub async fn leave(
    rooms: Rooms,
    s: Socket,
    req: Result<RoomReq, AckError>,
) -> Result<RoomAck, AckError> {
    let (room, _) = parse_room(req)?;
    let room = room.as_str().to_string();
    match rooms.settings.room_fanout {
        Fanout::Sharded => rooms.bus.leave(&s, &room).await,
        Fanout::Namespace => s.leave(room.clone()),
    }
    Ok(RoomAck { room })
}

/// `join_room` with `ROOM_FANOUT=namespace`: a plain Socket.IO join, no position.
fn namespace_join(rooms: &Rooms, s: &Socket, room: String, max: usize) -> Result<JoinAck, AckError> {
    // Count and join as one step, or two joins at once could both pass the count.
    let _one_at_a_time = rooms.join_gate.lock().unwrap_or_else(|e| e.into_inner());
    let current = s.rooms();
    let member = current.iter().any(|r| **r == *room);
    let counted = current
        .iter()
        .filter(|r| !r.starts_with(RESERVED_PREFIX))
        .count();
    if !member && counted >= max {
        return Err(AckError::new(
            TOO_MANY_ROOMS,
            format!("a socket may be in {max} rooms (SOCKET_MAX_ROOMS); leave one first"),
        ));
    }
    s.join(room.clone());
    Ok(JoinAck {
        room,
        epoch: None,
        offset: None,
        replayed: 0,
        resync: false,
    })
}

#[derive(Serialize)]
pub struct Empty {}

/// `attack {room, damage, ...}`: to every member of the room on every instance, with
/// `from` and `instanceId` set by the server.
///
/// The broadcast body is serialized once, here: that text is what the size limit
/// measures (what the attack costs every receiver) and what is published; nothing on the
/// way to the members serializes it again.
pub async fn attack(
    rooms: Rooms,
    s: Socket,
    v: Result<Value, AckError>,
) -> Result<Empty, AckError> {
    let app = &rooms.ctx.app;
    let attack = Attack::parse(v?)?;
    let room = attack.room.as_str().to_string();
    let body = attack.into_broadcast(&player_of(&s), &app.instance_id);
    let body = serde_json::to_string(&body)
        .map_err(|e| AckError::bad_request(format!("attack payload: {e}")))?;
    check_size(body.len(), app.settings.max_payload_bytes)?;
    let member = match rooms.settings.room_fanout {
        // The bus's own member table: no copy of the socket's room set per attack.
        Fanout::Sharded => rooms.bus.holds(s.id, &room),
        Fanout::Namespace => s.rooms().contains(&Cow::Borrowed(room.as_str())),
    };
    if !member {
        return Err(AckError::new(
            ErrorCode::NOT_IN_ROOM,
            format!("join room {room:?} before attacking in it"),
        ));
    }
    match rooms.settings.room_fanout {
        // On the room's own channel, with its position; `unavailable`: nothing was done,
        // `timeout`: outcome unknown.
        Fanout::Sharded => rooms
            .bus
            .publish_json(&room, "attack", &body)
            .await
            .map(|_| ())
            .map_err(|e| {
                let ack = e.ack();
                tracing::warn!(error = %e, room, code = ack.code.as_str(), "attack not published");
                ack
            })?,
        // Through socketioxide-redis (see realtime::outcome for the acks).
        Fanout::Namespace => {
            let raw = RawValue::from_string(body)
                .map_err(|e| AckError::bad_request(format!("attack payload: {e}")))?;
            outcome::broadcast(
                &app.metrics,
                "attack",
                s.within(room).emit("attack", &raw).await,
            )?
        }
    }
    rooms.metrics.attacks.increment(1);
    Ok(Empty {})
}
