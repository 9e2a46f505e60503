//! A room's short history: the publish step (history append + SPUBLISH, one script) and
//! the reads that recover what a client or an instance missed.
//!
//! Every room event gets a position `{epoch, offset}`: `offset` counts the room's events
//! from 1, `epoch` names the history they belong to. The epoch is made when the room's
//! first event is published and again whenever the room's keys were lost (expired after
//! `ROOM_HISTORY_TTL_S` without events, a Redis restart without persistence, eviction):
//! offsets restart at 1 under a new epoch, so a client holding an old position learns that
//! history no longer covers it (`resync`) instead of being handed other events.

use std::sync::LazyLock;

use redis::streams::StreamRangeReply;
use redis::{RedisError, Script, Value};

use super::room_channel::RoomKeys;
use crate::redis::script::unexpected_reply;

/// The command connection the room bus uses (standalone or Cluster).
pub use crate::redis::Conn;

static PUBLISH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/room_publish.lua")));
static SINCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/room_since.lua")));

/// How much history a room keeps.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    /// Entries kept (`XADD MAXLEN ~`: at least this many).
    pub len: usize,
    /// Seconds the history outlives the room's last event.
    pub ttl_s: u64,
}

/// A position in a room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub epoch: String,
    pub offset: u64,
}

/// What the publish step answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub at: Position,
    /// Subscribers of the room's channel that got it (instances with members there).
    pub heard: u64,
}

/// One room event, as published and as kept in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    /// The instance that published it.
    pub origin: String,
    pub at: Position,
    /// The Socket.IO event name (`attack`).
    pub event: String,
    /// The JSON object sent to clients (with `epoch` and `offset` in it).
    pub data: String,
}

impl RoomEvent {
    /// Parse a message of a room channel: `origin \n epoch \n offset \n event \n data`.
    pub fn parse_message(payload: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.splitn(5, '\n');
        let origin = parts.next()?.to_string();
        let epoch = parts.next()?.to_string();
        let offset = parts.next()?.parse().ok()?;
        let event = parts.next()?.to_string();
        let data = parts.next()?.to_string();
        Some(Self {
            origin,
            at: Position { epoch, offset },
            event,
            data,
        })
    }
}

/// Append `body` (a JSON object) as `event` to the room's history and publish it on the
/// room's channel, in one step. `new_epoch` is used only if the room has none yet.
pub async fn publish(
    conn: &mut Conn,
    keys: &RoomKeys,
    limits: HistoryLimits,
    new_epoch: &str,
    origin: &str,
    event: &str,
    body: &str,
) -> Result<Published, RedisError> {
    let reply: Value = PUBLISH
        .key(&keys.meta)
        .key(&keys.log)
        .arg(&keys.channel)
        .arg(new_epoch)
        .arg(limits.len)
        .arg(limits.ttl_s)
        .arg(origin)
        .arg(event)
        .arg(body)
        .invoke_async(conn)
        .await?;
    parse_published(reply)
}

fn parse_published(reply: Value) -> Result<Published, RedisError> {
    let bad = |r: &Value| unexpected_reply("room_publish", r);
    let Value::Array(items) = &reply else {
        return Err(bad(&reply));
    };
    match items.as_slice() {
        [
            Value::BulkString(epoch),
            Value::Int(offset),
            Value::Int(heard),
        ] => Ok(Published {
            at: Position {
                epoch: String::from_utf8(epoch.clone()).map_err(|_| bad(&reply))?,
                offset: u64::try_from(*offset).map_err(|_| bad(&reply))?,
            },
            heard: u64::try_from(*heard).map_err(|_| bad(&reply))?,
        }),
        _ => Err(bad(&reply)),
    }
}

/// What the history says about the events after a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Every event after it, in order (empty: nothing was missed). `now` is the room's
    /// newest position (the last event's, or the asked one when none followed).
    Covered {
        events: Vec<RoomEvent>,
        now: Position,
    },
    /// The history does not cover it (another epoch, or trimmed): the client must start
    /// over from the room's current state. `now` is the room's newest position, if any.
    Gone { now: Option<Position> },
}

/// The room's newest position, if it has an epoch.
pub async fn head(conn: &mut Conn, keys: &RoomKeys) -> Result<Option<Position>, RedisError> {
    let (epoch, seq): (Option<String>, Option<u64>) = redis::cmd("HMGET")
        .arg(&keys.meta)
        .arg("epoch")
        .arg("seq")
        .query_async(conn)
        .await?;
    match (epoch, seq) {
        (Some(epoch), Some(offset)) => Ok(Some(Position { epoch, offset })),
        (Some(epoch), None) => Ok(Some(Position { epoch, offset: 0 })),
        (None, _) => Ok(None),
    }
}

/// The events after `from` up to `upto` (the newest when `None`), read in one atomic
/// step (the epoch and the entries cannot come from two histories): `room_since.lua`.
pub async fn since(
    conn: &mut Conn,
    keys: &RoomKeys,
    from: &Position,
    upto: Option<u64>,
) -> Result<Since, RedisError> {
    let end = upto.map_or_else(|| "+".to_string(), |u| format!("0-{u}"));
    // One script (`room_since.lua`), so a Cluster routes it, and follows a moved slot.
    let ((epoch, seq), range): ((Option<String>, Option<u64>), StreamRangeReply) = SINCE
        .key(&keys.meta)
        .key(&keys.log)
        .arg(format!("(0-{}", from.offset))
        .arg(end)
        .invoke_async(conn)
        .await?;
    let Some(epoch) = epoch else {
        return Ok(Since::Gone { now: None });
    };
    let now = Position {
        epoch: epoch.clone(),
        offset: seq.unwrap_or(0),
    };
    if epoch != from.epoch || from.offset > now.offset {
        return Ok(Since::Gone { now: Some(now) });
    }
    let mut events = Vec::with_capacity(range.ids.len());
    let mut expect = from.offset + 1;
    for entry in range.ids {
        let offset = entry
            .id
            .strip_prefix("0-")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| unexpected_reply("room history id", &entry.id))?;
        if offset != expect {
            // Trimmed past the position (or a hole): the history does not cover it.
            return Ok(Since::Gone { now: Some(now) });
        }
        expect += 1;
        let field = |name: &str| -> Result<String, RedisError> {
            match entry.map.get(name) {
                Some(Value::BulkString(b)) => String::from_utf8(b.clone())
                    .map_err(|_| unexpected_reply("room history entry", &entry.map)),
                _ => Err(unexpected_reply("room history entry", &entry.map)),
            }
        };
        events.push(RoomEvent {
            origin: field("o")?,
            at: Position {
                epoch: epoch.clone(),
                offset,
            },
            event: field("e")?,
            data: field("d")?,
        });
    }
    let want = upto.unwrap_or(now.offset).min(now.offset);
    if expect <= want {
        // Entries up to `want` should exist but the range ended early: trimmed or lost.
        return Ok(Since::Gone { now: Some(now) });
    }
    let now = events.last().map_or(
        Position {
            epoch,
            offset: from.offset,
        },
        |e| e.at.clone(),
    );
    Ok(Since::Covered { events, now })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_and_bad_ones_do_not() {
        let m = RoomEvent::parse_message(b"i0\nab12\n7\nattack\n{\"a\":\"x\ny\"}").unwrap();
        assert_eq!(m.origin, "i0");
        assert_eq!(
            m.at,
            Position {
                epoch: "ab12".into(),
                offset: 7
            }
        );
        assert_eq!(m.event, "attack");
        assert_eq!(m.data, "{\"a\":\"x\ny\"}");
        assert!(RoomEvent::parse_message(b"i0\nab\nseven\nattack\n{}").is_none());
        assert!(RoomEvent::parse_message(b"i0\nab\n7\nattack").is_none());
        assert!(RoomEvent::parse_message(&[0xff, b'\n']).is_none());
    }

    #[test]
    fn publish_replies_parse_strictly() {
        let ok = Value::Array(vec![
            Value::BulkString(b"e1".to_vec()),
            Value::Int(3),
            Value::Int(2),
        ]);
        assert_eq!(
            parse_published(ok).unwrap(),
            Published {
                at: Position {
                    epoch: "e1".into(),
                    offset: 3
                },
                heard: 2
            }
        );
        assert!(parse_published(Value::Int(1)).is_err());
        assert!(parse_published(Value::Array(vec![Value::Int(1)])).is_err());
        let negative = Value::Array(vec![
            Value::BulkString(b"e1".to_vec()),
            Value::Int(-1),
            Value::Int(0),
        ]);
        assert!(parse_published(negative).is_err());
    }
}
