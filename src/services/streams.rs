//! What every consumer-group reader of a Redis Stream shares (the hunt's claim
//! projection, the battle outbox): moving a poison entry to its dead-letter stream.

use std::sync::LazyLock;

use crate::redis::Conn;
use redis::{RedisError, Script};

use crate::redis::script::unexpected_reply;

static DEAD_LETTER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/dead_letter.lua")));

/// One pending entry to dead-letter, and where.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// The stream and its dead-letter stream (the same hash tag).
    pub stream: &'a str,
    pub dead: &'a str,
    pub group: &'a str,
    pub consumer: &'a str,
    /// Only an entry idle this long is taken (another consumer may be working on it).
    pub min_idle_ms: u64,
    pub id: &'a str,
    /// Recorded with the copy, for whoever looks at the dead letters.
    pub deliveries: usize,
    /// Approximate cap of the dead-letter stream.
    pub maxlen: u64,
}

/// Copy entry `d.id` to `d.dead` and ack it, if it has been idle `d.min_idle_ms`
/// (`lua/dead_letter.lua`). Of several consumers trying at once exactly one gets `true`.
pub async fn dead_letter(conn: &mut Conn, d: DeadLetter<'_>) -> Result<bool, RedisError> {
    let moved: i64 = DEAD_LETTER
        .key(d.stream)
        .key(d.dead)
        .arg(d.group)
        .arg(d.consumer)
        .arg(d.min_idle_ms)
        .arg(d.id)
        .arg(d.deliveries)
        .arg(d.maxlen)
        .invoke_async(conn)
        .await?;
    match moved {
        1 => Ok(true),
        0 => Ok(false),
        other => Err(unexpected_reply("dead_letter.lua", other)),
    }
}
