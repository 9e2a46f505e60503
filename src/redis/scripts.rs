//! The Lua scripts, loaded from `lua/*.lua`, with one typed wrapper each.
//!
//! `redis::Script` sends EVALSHA and reloads the script on NOSCRIPT (e.g. after a Redis
//! restart), so callers never see either.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{RedisError, Script};

use super::keys;

static TICK_ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/tick_acquire.lua")));

/// Try to win tick interval `n` with `token` as the lease value. `true`: this caller won.
pub async fn tick_acquire(
    conn: &mut ConnectionManager,
    n: u64,
    token: &str,
    ttl_ms: u64,
) -> Result<bool, RedisError> {
    let won: i64 = TICK_ACQUIRE
        .key(keys::tick_lock(n))
        .key(keys::tick_last())
        .arg(n)
        .arg(token)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    Ok(won == 1)
}
