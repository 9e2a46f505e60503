//! The lease and fence scripts (`lua/`), one typed wrapper each.

use std::sync::LazyLock;

use crate::redis::Conn;
use redis::{RedisError, Script};

use crate::redis::script::unexpected_reply;

use super::outcome::FencedOutcome;

static LOCK_RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/lock_release.lua")));
static LOCK_EXTEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/lock_extend.lua")));
static FENCED_SET: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/fenced_set.lua")));
static FENCED_INCRBY: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/fenced_incrby.lua")));

/// Delete the lease `key` on one master if it still holds `token`. `true`: it did.
pub async fn lock_release(conn: &mut Conn, key: &str, token: &str) -> Result<bool, RedisError> {
    let deleted: i64 = LOCK_RELEASE.key(key).arg(token).invoke_async(conn).await?;
    yes_or_no("lock_release.lua", deleted)
}

/// Reset the lease `key` on one master to expire `ttl_ms` from now, if it still holds
/// `token`. `true`: it did.
pub async fn lock_extend(
    conn: &mut Conn,
    key: &str,
    token: &str,
    ttl_ms: u64,
) -> Result<bool, RedisError> {
    let extended: i64 = LOCK_EXTEND
        .key(key)
        .arg(token)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    yes_or_no("lock_extend.lua", extended)
}

/// `SET data_key value` if fencing `token` is not older than the newest one in `fence_key`.
pub async fn fenced_set(
    conn: &mut Conn,
    fence_key: &str,
    data_key: &str,
    token: u64,
    value: &str,
) -> Result<FencedOutcome<()>, RedisError> {
    let (committed, n): (i64, i64) = FENCED_SET
        .key(fence_key)
        .key(data_key)
        .arg(token)
        .arg(value)
        .invoke_async(conn)
        .await?;
    FencedOutcome::from_reply(committed, n, |_| ())
        .ok_or_else(|| unexpected_reply("fenced_set.lua", (committed, n)))
}

/// `INCRBY data_key by` if fencing `token` is not older than the newest one in `fence_key`;
/// commits with the counter's new value.
pub async fn fenced_incr_by(
    conn: &mut Conn,
    fence_key: &str,
    data_key: &str,
    token: u64,
    by: i64,
) -> Result<FencedOutcome<i64>, RedisError> {
    let (committed, n): (i64, i64) = FENCED_INCRBY
        .key(fence_key)
        .key(data_key)
        .arg(token)
        .arg(by)
        .invoke_async(conn)
        .await?;
    FencedOutcome::from_reply(committed, n, |v| v)
        .ok_or_else(|| unexpected_reply("fenced_incrby.lua", (committed, n)))
}

/// A 1/0 reply; anything else is an unknown reply, an error.
fn yes_or_no(script: &'static str, reply: i64) -> Result<bool, RedisError> {
    match reply {
        1 => Ok(true),
        0 => Ok(false),
        other => Err(unexpected_reply(script, other)),
    }
}
