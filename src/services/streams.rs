//! What every consumer-group reader of a Redis Stream shares (the hunt's claim
//! projection, the battle outbox): reading new entries of several partition streams,
//! and moving a poison entry to its dead-letter stream.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::Conn;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, RedisError, Script};

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

/// A consumer's read of new entries (`>`) from partition streams.
#[derive(Debug, Clone, Copy)]
pub struct GroupRead<'a> {
    pub group: &'a str,
    pub consumer: &'a str,
    /// At most this many entries per stream.
    pub count: usize,
    /// How long to wait for an entry when there is none.
    pub block_ms: usize,
}

/// How often a cluster reader looks again when every partition was empty.
const CLUSTER_POLL: Duration = Duration::from_millis(50);

/// New entries of `streams` for `read`'s consumer. On one Redis: one XREADGROUP naming
/// every stream, blocking up to `block_ms`. On a cluster, where streams of different
/// slots cannot share a command (CROSSSLOT): one non-blocking XREADGROUP per stream, all
/// at once (each goes to its slot's master), then a short pause when all were empty,
/// until `block_ms` has passed. (A blocking read per stream would hold its node's
/// connection: the reads of one node would wait for each other.) An error is returned
/// only when no stream could be read.
pub async fn read_new(
    conn: &mut Conn,
    streams: &[String],
    read: GroupRead<'_>,
) -> Result<Option<StreamReadReply>, RedisError> {
    if !conn.is_cluster() {
        let ids = vec![">"; streams.len()];
        let opts = StreamReadOptions::default()
            .group(read.group, read.consumer)
            .count(read.count)
            .block(read.block_ms);
        return conn.xread_options(streams, &ids, &opts).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(read.block_ms as u64);
    loop {
        let reads = streams.iter().map(|s| {
            let mut c = conn.clone();
            let opts = StreamReadOptions::default()
                .group(read.group, read.consumer)
                .count(read.count);
            async move {
                c.xread_options::<_, _, Option<StreamReadReply>>(&[s], &[">"], &opts)
                    .await
            }
        });
        let mut keys = Vec::new();
        let mut failed = None;
        for r in futures_util::future::join_all(reads).await {
            match r {
                Ok(Some(reply)) => keys.extend(reply.keys),
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) if keys.is_empty() => return Err(e),
            _ => {}
        }
        if !keys.is_empty() {
            return Ok(Some(StreamReadReply { keys }));
        }
        if tokio::time::Instant::now() + CLUSTER_POLL > deadline {
            return Ok(None);
        }
        tokio::time::sleep(CLUSTER_POLL).await;
    }
}
