//! `join_room`, `leave_room` and `attack`. Nothing a client sends reaches other clients
//! unless it was validated first.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use super::payload::{Attack, RoomAck, RoomReq};
use super::state::Rooms;
use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::RoomName;
use crate::services::realtime::outcome;
use crate::services::realtime::{Socket, player_of};

/// Rooms a client may not join or leave by hand (the server manages them).
const RESERVED_PREFIX: &str = "player:";

fn parse_room(req: Result<RoomReq, AckError>) -> Result<RoomName, AckError> {
    let req =
        req.map_err(|e| AckError::bad_request(format!("expected {{room}}: {}", e.message)))?;
    if req.room.starts_with(RESERVED_PREFIX) {
        return Err(AckError::bad_request("rooms named player:* are reserved"));
    }
    RoomName::parse(&req.room)
}

/// `membership::<JOIN>` handles `join_room`.
pub const JOIN: bool = true;
/// `membership::<LEAVE>` handles `leave_room`.
pub const LEAVE: bool = false;

/// The ack code of a `join_room` past `SOCKET_MAX_ROOMS`.
pub const TOO_MANY_ROOMS: ErrorCode = ErrorCode::new("too_many_rooms", 429);

/// `join_room {room}` / `leave_room {room}`: ack `{ok, room}`. A socket may be in at most
/// `SOCKET_MAX_ROOMS` rooms (its `player:*` room not counted): a join past that gets
/// `too_many_rooms` (joining a room it is already in is fine).
pub async fn membership<const JOIN: bool>(
    rooms: Rooms,
    s: Socket,
    req: Result<RoomReq, AckError>,
) -> Result<RoomAck, AckError> {
    let room = parse_room(req)?.as_str().to_string();
    if JOIN {
        let max = rooms.settings.socket_max_rooms;
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
    } else {
        s.leave(room.clone());
    }
    Ok(RoomAck { room })
}

#[derive(Serialize)]
pub struct Empty {}

/// `attack {room, damage, ...}`: to every member of the room on every instance, with
/// `from` and `instanceId` set by the server.
pub async fn attack(
    rooms: Rooms,
    s: Socket,
    v: Result<Value, AckError>,
) -> Result<Empty, AckError> {
    let v = v?;
    let app = &rooms.ctx.app;
    // Serialized size: what the payload costs every receiver.
    let size = serde_json::to_vec(&v)
        .map(|b| b.len())
        .unwrap_or(usize::MAX);
    let attack = Attack::parse(v, size, app.settings.max_payload_bytes)?;
    if !s.rooms().contains(&Cow::Borrowed(attack.room.as_str())) {
        return Err(AckError::new(
            ErrorCode::NOT_IN_ROOM,
            format!(
                "join room {:?} before attacking in it",
                attack.room.as_str()
            ),
        ));
    }
    let room = attack.room.as_str().to_string();
    let body = attack.into_broadcast(&player_of(&s), &app.instance_id);
    // `unavailable`: nothing was done; `timeout`: outcome unknown (see realtime::outcome).
    outcome::broadcast(
        &app.metrics,
        "attack",
        s.within(room).emit("attack", &body).await,
    )?;
    rooms.metrics.attacks.increment(1);
    Ok(Empty {})
}
