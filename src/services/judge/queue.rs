//! The judge queue on a Redis Stream: submit, read a result, and the two steps a judge
//! takes on a job (record its result exactly once; dead-letter a poison job).
//!
//! A submission is one stream entry; judges read it through the consumer group
//! `judges`, and an entry stays pending until its result is recorded, so a judge killed
//! mid-job leaves it to be taken over (XAUTOCLAIM). The result key is written by
//! `lua/record.lua` only if absent, in the same step as the ack and the outbox entry:
//! however many judges finish the same job, one result is recorded.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::Conn;
use redis::{AsyncCommands, RedisError, Script};

use super::keys;
use super::progress::Progress;
use super::report::Report;
use super::submission::Submission;
use crate::redis::script::unexpected_reply;

/// How long tokens and results are kept.
pub const RESULT_TTL_S: u64 = 24 * 3600;
/// Approximate cap of the job, result and dead-letter streams (MAXLEN ~). A backlog
/// beyond it would lose its oldest jobs: far above what a judge fleet should queue.
pub const STREAM_MAXLEN: u64 = 100_000;

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/enqueue.lua")));
static RECORD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/record.lua")));

/// The queue could not be used.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("stored result of {token} does not parse: {error}")]
    Corrupt { token: String, error: String },
    #[error("submission does not serialise: {0}")]
    Encode(String),
}

/// Where a token stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No such token (never submitted, or expired).
    Unknown,
    /// Waiting or running.
    Queued,
    Done(Box<Report>),
}

/// A fresh token: 128 random bits in hex.
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Create the consumer group (and the stream) if missing.
pub async fn ensure_group(conn: &mut Conn) -> Result<(), RedisError> {
    let r: Result<(), RedisError> = conn
        .xgroup_create_mkstream(keys::jobs(), keys::GROUP, "0")
        .await;
    match r {
        Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
        _ => Ok(()),
    }
}

/// Queue `sub`; returns its token.
pub async fn submit(conn: &mut Conn, sub: &Submission) -> Result<String, QueueError> {
    let json = serde_json::to_string(sub).map_err(|e| QueueError::Encode(e.to_string()))?;
    loop {
        let token = new_token();
        let reply: redis::Value = ENQUEUE
            .key(keys::job(&token))
            .key(keys::jobs())
            .arg(&token)
            .arg(&json)
            .arg(RESULT_TTL_S)
            .arg(STREAM_MAXLEN)
            .invoke_async(conn)
            .await?;
        match reply {
            redis::Value::BulkString(_) | redis::Value::SimpleString(_) => return Ok(token),
            // A 128-bit collision: draw again.
            redis::Value::Int(0) => continue,
            other => return Err(unexpected_reply("enqueue.lua", other).into()),
        }
    }
}

/// Where `token` stands.
pub async fn status(conn: &mut Conn, token: &str) -> Result<Status, QueueError> {
    let (state, result): (Option<String>, Option<String>) = redis::pipe()
        .get(keys::job(token))
        .get(keys::result(token))
        .query_async(conn)
        .await?;
    match (state, result) {
        (_, Some(json)) => serde_json::from_str(&json)
            .map(|r| Status::Done(Box::new(r)))
            .map_err(|e| QueueError::Corrupt {
                token: token.into(),
                error: e.to_string(),
            }),
        (Some(_), None) => Ok(Status::Queued),
        (None, None) => Ok(Status::Unknown),
    }
}

/// Poll until `token` is done or `within` passes (then `Queued`).
pub async fn wait(conn: &mut Conn, token: &str, within: Duration) -> Result<Status, QueueError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let s = status(conn, token).await?;
        if matches!(s, Status::Done(_) | Status::Unknown) || tokio::time::Instant::now() >= deadline
        {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Append one finished test to `token`'s progress list (kept as long as results).
pub async fn push_progress(conn: &mut Conn, token: &str, p: &Progress) -> Result<(), QueueError> {
    let json = serde_json::to_string(p).map_err(|e| QueueError::Encode(e.to_string()))?;
    let key = keys::progress(token);
    let _: () = redis::pipe()
        .atomic()
        .rpush(&key, json)
        .ignore()
        .expire(&key, RESULT_TTL_S as i64)
        .ignore()
        .query_async(conn)
        .await?;
    Ok(())
}

/// `token`'s progress entries from index `from` (0-based) on, in the order they were
/// pushed. A job taken over from a stopped judge is run again, so a test can appear
/// more than once; readers keep the first.
pub async fn progress(
    conn: &mut Conn,
    token: &str,
    from: usize,
) -> Result<Vec<Progress>, QueueError> {
    let raw: Vec<String> = conn
        .lrange(keys::progress(token), from as isize, -1)
        .await?;
    raw.iter()
        .map(|json| {
            serde_json::from_str(json).map_err(|e| QueueError::Corrupt {
                token: token.into(),
                error: format!("progress entry {json:?}: {e}"),
            })
        })
        .collect()
}

/// One finished job as a judge records it.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    pub token: &'a str,
    pub entry: &'a str,
    pub judge: &'a str,
    pub report: &'a Report,
    /// `Some(reason)`: the job is a poison job; it is also copied to the dead letters.
    pub dead_letter: Option<&'a str>,
    pub deliveries: u64,
}

/// Record a result exactly once and ack the entry; `true` when this call recorded it.
pub async fn record(conn: &mut Conn, f: &Finished<'_>) -> Result<bool, QueueError> {
    let json = serde_json::to_string(f.report).map_err(|e| QueueError::Encode(e.to_string()))?;
    let reply: redis::Value = RECORD
        .key(keys::result(f.token))
        .key(keys::job(f.token))
        .key(keys::jobs())
        .key(keys::results())
        .key(keys::dead())
        .arg(json)
        .arg(RESULT_TTL_S)
        .arg(keys::GROUP)
        .arg(f.entry)
        .arg(f.token)
        .arg(STREAM_MAXLEN)
        .arg(f.judge)
        .arg(f.dead_letter.unwrap_or(""))
        .arg(f.deliveries)
        .invoke_async(conn)
        .await?;
    match reply {
        redis::Value::Int(1) => Ok(true),
        redis::Value::Int(0) => Ok(false),
        other => Err(unexpected_reply("record.lua", other).into()),
    }
}
