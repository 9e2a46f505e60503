//! Rate limits shared by every instance: a GCRA in Lua (`lua/gcra.lua`, run by
//! `lua/rate_limit.lua`), keyed by action and subject, on Redis's clock. A script that
//! checks its own limit in the same step (one round trip instead of two) is prepended with
//! [`GCRA_LUA`] and calls `gcra(key, rate, burst)` itself.
//!
//! A limited action writes nothing (neither the limiter's state nor the action's own).

use std::sync::LazyLock;

use crate::redis::Conn;
use redis::{RedisError, Script};

use crate::redis::keys;

/// The GCRA as a Lua function `gcra(key, rate, burst)` (0 = allowed and counted, else the
/// ms until a retry could pass), to prepend to a script that limits within its own step.
pub const GCRA_LUA: &str = include_str!("lua/gcra.lua");

static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/gcra.lua"),
        include_str!("lua/rate_limit.lua")
    ))
});

/// The verdict on one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitDecision {
    Allowed,
    /// Over the limit; the earliest retry that could pass is `retry_after_ms` away.
    Limited {
        retry_after_ms: u64,
    },
}

/// Count one `action` (a fixed name such as `claim`, chosen by the mode) by `subject`
/// against `rate_per_s` per second, with a burst of the same size (a client may spend one
/// second's budget at once).
pub async fn check(
    conn: &mut Conn,
    action: &'static str,
    subject: &str,
    rate_per_s: u32,
) -> Result<LimitDecision, RedisError> {
    let rate = rate_per_s.max(1);
    let (allowed, retry_after_ms): (i64, i64) = RATE_LIMIT
        .key(keys::rate_limit(action, subject))
        .arg(rate)
        .arg(rate)
        .invoke_async(conn)
        .await?;
    match allowed {
        1 => Ok(LimitDecision::Allowed),
        0 => Ok(LimitDecision::Limited {
            retry_after_ms: retry_after_ms.max(0) as u64,
        }),
        other => Err(crate::redis::script::unexpected_reply(
            "rate_limit.lua",
            other,
        )),
    }
}
