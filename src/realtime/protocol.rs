//! Wire payloads of the Socket.IO protocol (DESIGN.md) and the parsers that turn raw
//! client input into domain values at the edge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{AckError, ErrorCode};

/// Check a name: 1..=`max` chars of `[A-Za-z0-9_.-]`, plus `:` when `colon` is allowed.
pub fn check_name(s: &str, max: usize, colon: bool) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    let ok = s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-' || (colon && b == b':')
    });
    if ok {
        Ok(())
    } else {
        let allowed = if colon {
            "[A-Za-z0-9_:.-]"
        } else {
            "[A-Za-z0-9_.-]"
        };
        Err(format!("may only contain {allowed}"))
    }
}

/// A room name: 1–64 chars of `[A-Za-z0-9_:.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(s: &str) -> Result<Self, AckError> {
        check_name(s, 64, true).map_err(|r| AckError::bad_request(format!("room {r}")))?;
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A player id from the handshake `auth.player`: 1–64 chars of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlayerId(String);

impl PlayerId {
    pub fn parse(s: &str) -> Result<Self, AckError> {
        check_name(s, 64, false).map_err(|r| AckError::bad_request(format!("player {r}")))?;
        Ok(Self(s.to_string()))
    }
    /// A guest id for a client that sent no auth: `guest-<socket id>` (socket ids are
    /// base64url, so the result is always a valid id).
    pub fn guest(sid: &impl std::fmt::Display) -> Self {
        Self(format!("guest-{sid}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Damage of an attack: an integer 0..=1000.
pub fn parse_damage(v: Option<&Value>) -> Result<u32, AckError> {
    let bad = || AckError::bad_request("damage must be an integer from 0 to 1000");
    let d = v.and_then(Value::as_u64).ok_or_else(bad)?;
    if d > 1000 {
        return Err(bad());
    }
    Ok(d as u32)
}

/// The handshake payload: `auth: {player}`.
#[derive(Debug, Deserialize, Default)]
pub struct Auth {
    pub player: Option<String>,
}

/// `join_room` / `leave_room` payload.
#[derive(Debug, Deserialize)]
pub struct RoomReq {
    pub room: String,
}

/// Ack body of `join_room` / `leave_room`.
#[derive(Debug, Serialize)]
pub struct RoomAck {
    pub room: String,
}

/// Sent once on connect.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub instance_id: String,
    pub socket_id: String,
    pub player: String,
}

/// Broadcast by the tick winner to every client on every instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServerTick {
    /// The global interval number floor(now / tick_ms): the same on every instance.
    pub tick: u64,
    pub instance_id: String,
    /// Milliseconds since the Unix epoch when the winner broadcast it.
    pub at: u64,
}

/// A validated attack, ready to broadcast: the client's object with every extra field
/// kept, and `from` / `instanceId` set by the server (a client cannot forge them).
#[derive(Debug)]
pub struct Attack {
    pub room: RoomName,
    pub damage: u32,
    pub payload: Map<String, Value>,
}

impl Attack {
    /// Validate a raw `attack` payload of `size` bytes (as serialized).
    pub fn parse(v: Value, size: usize, max: usize) -> Result<Self, AckError> {
        if size > max {
            return Err(AckError::new(
                ErrorCode::PayloadTooLarge,
                format!("payload is {size} bytes; the limit is {max}"),
            ));
        }
        let Value::Object(payload) = v else {
            return Err(AckError::bad_request("attack payload must be an object"));
        };
        let room = match payload.get("room") {
            Some(Value::String(r)) => RoomName::parse(r)?,
            _ => return Err(AckError::bad_request("room is required (a string)")),
        };
        let damage = parse_damage(payload.get("damage"))?;
        Ok(Self {
            room,
            damage,
            payload,
        })
    }

    /// The broadcast body: the client's payload plus `{from, instanceId}`.
    pub fn into_broadcast(mut self, from: &PlayerId, instance_id: &str) -> Map<String, Value> {
        self.payload
            .insert("from".into(), Value::String(from.as_str().to_string()));
        self.payload
            .insert("instanceId".into(), Value::String(instance_id.to_string()));
        self.payload
    }
}

/// `start_battle` / `POST /api/battles` payload.
#[derive(Debug, Deserialize)]
pub struct StartBattleReq {
    pub players: Vec<String>,
}

/// Ack of `start_battle`: `{ok, battleId, created}` (plus `players`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBattleAck {
    pub battle_id: String,
    pub players: Vec<String>,
    pub created: bool,
}

impl From<&crate::battle::Started> for StartBattleAck {
    fn from(s: &crate::battle::Started) -> Self {
        Self {
            battle_id: s.battle.battle_id.clone(),
            players: s.battle.players.clone(),
            created: s.created,
        }
    }
}

/// Sent to the players and every asker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleStarted {
    pub battle_id: String,
    pub players: Vec<String>,
}

/// `end_battle` payload, and its ack body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdReq {
    pub battle_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdAck {
    pub battle_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn room_names() {
        assert!(RoomName::parse("lobby").is_ok());
        assert!(RoomName::parse("battle:42.a_b-c").is_ok());
        assert!(RoomName::parse(&"x".repeat(64)).is_ok());
        assert!(RoomName::parse(&"x".repeat(65)).is_err());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse("a b").is_err());
        assert!(RoomName::parse("é").is_err());
    }

    #[test]
    fn player_ids_have_no_colon() {
        assert!(PlayerId::parse("p-1.x_y").is_ok());
        assert!(PlayerId::parse("p:1").is_err());
    }

    #[test]
    fn damage_bounds() {
        assert_eq!(parse_damage(Some(&json!(0))).unwrap(), 0);
        assert_eq!(parse_damage(Some(&json!(1000))).unwrap(), 1000);
        assert!(parse_damage(Some(&json!(1001))).is_err());
        assert!(parse_damage(Some(&json!(-1))).is_err());
        assert!(parse_damage(Some(&json!(1.5))).is_err());
        assert!(parse_damage(Some(&json!("5"))).is_err());
        assert!(parse_damage(None).is_err());
    }

    #[test]
    fn attack_keeps_extras_and_overrides_identity() {
        let v = json!({"room": "r", "damage": 3, "combo": [1, 2], "from": "forged"});
        let a = Attack::parse(v, 10, 100).unwrap();
        let p = PlayerId::parse("alice").unwrap();
        let out = a.into_broadcast(&p, "i1");
        assert_eq!(out["combo"], json!([1, 2]));
        assert_eq!(out["from"], json!("alice"));
        assert_eq!(out["instanceId"], json!("i1"));
    }

    #[test]
    fn attack_errors() {
        let code = |v: Value, size| Attack::parse(v, size, 100).unwrap_err().code;
        assert_eq!(code(json!("str"), 5), ErrorCode::BadRequest);
        assert_eq!(code(json!({"damage": 1}), 5), ErrorCode::BadRequest);
        assert_eq!(
            code(json!({"room": 5, "damage": 1}), 5),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(json!({"room": "r", "damage": 1}), 101),
            ErrorCode::PayloadTooLarge
        );
    }
}
