//! What every typed script wrapper shares.
//!
//! Each Lua script lives beside the code that owns it (`services/lock/lua/`,
//! `modes/hunt/lua/`, ...) and is loaded there with `include_str!` into a
//! `LazyLock<redis::Script>`; redis-rs sends EVALSHA and reloads the script on NOSCRIPT.
//! Each wrapper parses the reply into an enum; a reply it does not know is an error
//! (this one), never a default.

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, RedisError, Script, ServerErrorKind, Value};

/// A script answered something its wrapper does not know: an error, counted by the
/// caller as `unavailable`, never read as a default.
pub fn unexpected_reply(script: &'static str, reply: impl std::fmt::Debug) -> RedisError {
    RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        script,
        format!("unexpected reply {reply:?}"),
    ))
}

/// Run `evalsha` (an `EVALSHA` of `script` built by hand); on `NOSCRIPT` (a failover, a
/// new node, `SCRIPT FLUSH`) load `script` (on every node of a cluster) and run it once
/// more. redis-rs's `invoke_async` does the same for its own invocations; this form lets
/// one command builder serve both this and `wait::eval_and_wait`.
pub async fn eval<C>(conn: &mut C, script: &Script, evalsha: &Cmd) -> Result<Value, RedisError>
where
    C: ConnectionLike,
{
    match evalsha.query_async(conn).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.prepare_invoke().load_async(conn).await?;
            evalsha.query_async(conn).await
        }
        r => r,
    }
}

/// `EVALSHA <script's hash> <keys.len()> keys…` with no arguments yet: the start of a
/// command for [`eval`] and `wait::eval_and_wait`.
pub fn evalsha<K: redis::ToRedisArgs>(script: &Script, keys: &[K]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys.len());
    for k in keys {
        cmd.arg(k);
    }
    cmd
}
