//! `join_room`, `leave_room` and `attack`. Nothing a client sends reaches other clients
//! unless it was validated first.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use super::state::Rooms;
use super::payload::{Attack, RoomAck, RoomReq};
use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::RoomName;
use crate::services::realtime::outcome;
use crate::services::realtime::{Socket, player_of};

/// Rooms a client may not join or leave by hand (the server manages them).
const RESERVED_PREFIX: &str = "player:";

fn parse_room(req: Result<RoomReq, AckError>) -> Result<RoomName, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{room}}: {}", e.message)))?;
    if req.room.starts_with(RESERVED_PREFIX) {
        return Err(AckError::bad_request("rooms named player:* are reserved"));
    }
    RoomName::parse(&req.room)
}

/// `membership::<JOIN>` handles `join_room`.
pub const JOIN: bool = true;
/// `membership::<LEAVE>` handles `leave_room`.
pub const LEAVE: bool = false;

/// `join_room {room}` / `leave_room {room}`: ack `{ok, room}`.
pub async fn membership<const JOIN: bool>(
    _: Rooms,
    s: Socket,
    req: Result<RoomReq, AckError>,
) -> Result<RoomAck, AckError> {
    let room = parse_room(req)?.as_str().to_string();
    if JOIN {
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
    outcome::broadcast(&app.metrics, "attack", s.within(room).emit("attack", &body).await)?;
    rooms.metrics.attacks.increment(1);
    Ok(Empty {})
}
