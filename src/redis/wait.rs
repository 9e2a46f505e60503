//! A script whose writes must reach a replica before they count: the script and a
//! `WAIT` in one pipeline, on one connection to the script's node.
//!
//! Why one pipeline and not two commands:
//! - `WAIT` counts the replicas that have the writes *of its own client connection*. Sent
//!   on its own, a reconnect between the script and the `WAIT` would leave it on a fresh
//!   connection with no writes to wait for, and it would answer at once with every
//!   connected replica: a false confirmation. In one pipeline both go over one connection
//!   or neither is answered.
//! - On a Redis Cluster, redis-rs sends a keyless `WAIT` to every master and keeps the
//!   smallest answer. In a pipeline it follows the script's key to that key's master, the
//!   node that took the writes (`route_for_pipeline` routes by the first keyed command).
//!
//! `WAIT` blocks its connection until the replicas answer or the bound passes, so
//! callers give these pipelines connections of their own, never the shared command
//! connection that ticks and every other command use.

use std::time::Duration;

use redis::{Cmd, RedisError, Script, ServerErrorKind, Value};

use super::conn::Conn;
use super::script::unexpected_reply;

/// The script's reply and how many replicas confirmed its writes within the bound, or
/// why `WAIT` could not say (the script ran all the same: its writes are not confirmed).
#[derive(Debug)]
pub struct Waited {
    pub reply: Value,
    pub replicas: Result<u64, RedisError>,
}

/// Run `evalsha` (an `EVALSHA` of `script`, keys in one slot) and then `WAIT replicas
/// within` on the same connection. A `NOSCRIPT` (a failover, a new node, `SCRIPT FLUSH`)
/// loads `script` (on every node of a cluster) and runs the pair once more; the script
/// did not run the first time, so it runs once.
pub async fn eval_and_wait(
    conn: &mut Conn,
    script: &Script,
    evalsha: &Cmd,
    replicas: u32,
    within: Duration,
) -> Result<Waited, RedisError> {
    // WAIT 0 means "for ever": never that.
    let ms = within.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
    let mut loaded = false;
    loop {
        let mut pipe = redis::pipe();
        // Errors come back as values: a NOSCRIPT must be told from a failed WAIT.
        pipe.ignore_errors()
            .add_command(evalsha.clone())
            .cmd("WAIT")
            .arg(replicas)
            .arg(ms);
        let replies: Vec<Value> = pipe.query_async(conn).await?;
        let [reply, wait]: [Value; 2] = replies
            .try_into()
            .map_err(|r: Vec<Value>| unexpected_reply("script + WAIT", r))?;
        let reply = match reply {
            Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript) && !loaded => {
                script.prepare_invoke().load_async(conn).await?;
                loaded = true;
                continue;
            }
            Value::ServerError(e) => return Err(e.into()),
            reply => reply,
        };
        // The script ran whatever WAIT answered: a WAIT that failed leaves its writes
        // unconfirmed, it does not undo them, so it is not the pipeline's error.
        let replicas = match wait {
            Value::Int(n) => u64::try_from(n).map_err(|_| unexpected_reply("WAIT", n)),
            Value::ServerError(e) => Err(e.into()),
            other => Err(unexpected_reply("WAIT", other)),
        };
        return Ok(Waited { reply, replicas });
    }
}
