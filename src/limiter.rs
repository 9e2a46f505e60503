//! Rate limits shared by every instance: a GCRA in Lua (`redis/lua/rate_limit.lua`),
//! keyed by action and subject, on Redis's clock.
//!
//! A limited action writes nothing (neither the limiter's state nor the action's own).

use redis::RedisError;
use redis::aio::ConnectionManager;

use crate::redis::{keys, scripts};

/// The verdict on one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitDecision {
    Allowed,
    /// Over the limit; the earliest retry that could pass is `retry_after_ms` away.
    Limited {
        retry_after_ms: u64,
    },
}

/// An action with its own limit (a closed set: it labels `arena_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Claim => "claim",
        }
    }
}

/// Count one `action` by `subject` against `rate_per_s` per second, with a burst of the
/// same size (a client may spend one second's budget at once).
pub async fn check(
    conn: &mut ConnectionManager,
    action: Action,
    subject: &str,
    rate_per_s: u32,
) -> Result<LimitDecision, RedisError> {
    let key = keys::rate_limit(action.as_str(), subject);
    scripts::rate_limit(conn, &key, rate_per_s.max(1), rate_per_s.max(1)).await
}
