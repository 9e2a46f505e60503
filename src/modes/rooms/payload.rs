//! The rooms mode's wire payloads, and the parsers that turn raw client input into
//! domain values at the edge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::{PlayerId, RoomName, check_name};

/// Longest client-chosen attack `id`.
pub const EVENT_ID_MAX: usize = 64;

/// The id of an attack as broadcast (`eventId`): the client's `id` (1–64 chars of
/// `[A-Za-z0-9_:.-]`), or one the server made when the client sent none. A client that
/// retries after a `timeout` ack sends the same `id`, and receivers drop the second copy
/// (the key is `from` + `eventId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId(String);

impl EventId {
    /// A client's `id` field (absent: `None`).
    pub fn parse(v: Option<&Value>) -> Result<Option<Self>, AckError> {
        let bad = |why: String| AckError::bad_request(format!("id {why}"));
        match v {
            None => Ok(None),
            Some(Value::String(s)) => {
                check_name(s, EVENT_ID_MAX, true).map_err(bad)?;
                Ok(Some(Self(s.clone())))
            }
            Some(_) => Err(bad(format!(
                "must be a string of 1 to {EVENT_ID_MAX} characters"
            ))),
        }
    }

    /// A fresh server-made id: 128 random bits, `s-` and 32 hex digits.
    pub fn server_made() -> Self {
        Self(format!("s-{:032x}", rand::random::<u128>()))
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

/// `join_room` / `leave_room` payload. A join may name the last position the client saw
/// in the room (`epoch` and `offset` of its last event, both or neither): what followed is
/// replayed to it before it becomes a member, or it gets `resync`.
#[derive(Debug, Deserialize)]
pub struct RoomReq {
    pub room: String,
    #[serde(default)]
    pub epoch: Option<String>,
    #[serde(default)]
    pub offset: Option<u64>,
}

/// Ack body of `join_room`: the room's newest position when the socket became a member
/// (`null`s: no events yet), how many missed events were replayed, whether it got
/// `resync` instead.
#[derive(Debug, Serialize)]
pub struct JoinAck {
    pub room: String,
    pub epoch: Option<String>,
    pub offset: Option<u64>,
    pub replayed: usize,
    pub resync: bool,
}

/// Ack body of `join_room` / `leave_room`.
#[derive(Debug, Serialize)]
pub struct RoomAck {
    pub room: String,
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

/// `payload_too_large` for a body of `size` bytes over `max`.
pub fn check_size(size: usize, max: usize) -> Result<(), AckError> {
    if size > max {
        return Err(AckError::new(
            ErrorCode::PAYLOAD_TOO_LARGE,
            format!("payload is {size} bytes; the limit is {max}"),
        ));
    }
    Ok(())
}

/// A validated attack, ready to broadcast: the client's object with every extra field
/// kept, and `from` / `instanceId` / `eventId` set by the server (a client cannot forge
/// them; its own `id`, if valid, becomes the `eventId`).
#[derive(Debug)]
pub struct Attack {
    pub room: RoomName,
    pub damage: u32,
    /// The client's `id`, if it sent one.
    pub id: Option<EventId>,
    pub payload: Map<String, Value>,
}

impl Attack {
    /// Validate a raw `attack` payload (its size is checked on the broadcast body, see
    /// [`check_size`]).
    pub fn parse(v: Value) -> Result<Self, AckError> {
        let Value::Object(payload) = v else {
            return Err(AckError::bad_request("attack payload must be an object"));
        };
        let room = match payload.get("room") {
            Some(Value::String(r)) => RoomName::parse(r)?,
            _ => return Err(AckError::bad_request("room is required (a string)")),
        };
        let damage = parse_damage(payload.get("damage"))?;
        let id = EventId::parse(payload.get("id"))?;
        Ok(Self {
            room,
            damage,
            id,
            payload,
        })
    }

    /// The broadcast body: the client's payload plus `{from, instanceId, eventId}` (the
    /// client's `id`, or a fresh server-made one).
    pub fn into_broadcast(mut self, from: &PlayerId, instance_id: &str) -> Map<String, Value> {
        let event_id = self.id.take().unwrap_or_else(EventId::server_made);
        self.payload
            .insert("from".into(), Value::String(from.as_str().to_string()));
        self.payload
            .insert("instanceId".into(), Value::String(instance_id.to_string()));
        self.payload
            .insert("eventId".into(), Value::String(event_id.0));
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let a = Attack::parse(v).unwrap();
        let p = PlayerId::parse("alice").unwrap();
        let out = a.into_broadcast(&p, "i1");
        assert_eq!(out["combo"], json!([1, 2]));
        assert_eq!(out["from"], json!("alice"));
        assert_eq!(out["instanceId"], json!("i1"));
    }

    #[test]
    fn the_clients_id_is_the_event_id() {
        let p = PlayerId::parse("alice").unwrap();
        let v = json!({"room": "r", "damage": 3, "id": "a-1:x", "eventId": "forged"});
        let out = Attack::parse(v).unwrap().into_broadcast(&p, "i1");
        assert_eq!(out["eventId"], json!("a-1:x"));
        // Without one, each attack gets its own server-made id.
        let once = || {
            Attack::parse(json!({"room": "r", "damage": 3}))
                .unwrap()
                .into_broadcast(&p, "i1")["eventId"]
                .clone()
        };
        let (a, b) = (once(), once());
        assert!(
            a.as_str()
                .is_some_and(|s| s.starts_with("s-") && s.len() == 34),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn bad_ids_are_refused() {
        let code = |id: Value| {
            Attack::parse(json!({"room": "r", "damage": 1, "id": id}))
                .unwrap_err()
                .code
        };
        assert_eq!(code(json!("")), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!("x".repeat(65))), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!("a b")), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!(7)), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!(null)), ErrorCode::BAD_REQUEST);
        assert!(
            Attack::parse(json!({"room": "r", "damage": 1, "id": "x".repeat(64)})).is_ok()
        );
    }

    #[test]
    fn attack_errors() {
        let code = |v: Value| Attack::parse(v).unwrap_err().code;
        assert_eq!(code(json!("str")), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!({"damage": 1})), ErrorCode::BAD_REQUEST);
        assert_eq!(code(json!({"room": 5, "damage": 1})), ErrorCode::BAD_REQUEST);
        assert!(check_size(100, 100).is_ok());
        assert_eq!(
            check_size(101, 100).unwrap_err().code,
            ErrorCode::PAYLOAD_TOO_LARGE
        );
    }

    proptest::proptest! {
        /// Any JSON as an attack: never a panic; an accepted one is a valid room and damage.
        #[test]
        fn any_attack_payload_is_parsed_or_refused(v in crate::base::arbitrary::json()) {
            if let Ok(a) = Attack::parse(v) {
                proptest::prop_assert!(a.damage <= 1000);
                proptest::prop_assert!(RoomName::parse(a.room.as_str()).is_ok());
            }
        }
    }
}
