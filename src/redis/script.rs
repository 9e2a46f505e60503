//! What every typed script wrapper shares.
//!
//! Each Lua script lives beside the code that owns it (`services/lock/lua/`,
//! `modes/hunt/lua/`, ...) and is loaded there with `include_str!` into a
//! `LazyLock<redis::Script>`; redis-rs sends EVALSHA and reloads the script on NOSCRIPT.
//! Each wrapper parses the reply into an enum; a reply it does not know is an error
//! (this one), never a default.

use redis::RedisError;

/// A script answered something its wrapper does not know: an error, counted by the
/// caller as `unavailable`, never read as a default.
pub fn unexpected_reply(script: &'static str, reply: impl std::fmt::Debug) -> RedisError {
    RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        script,
        format!("unexpected reply {reply:?}"),
    ))
}
