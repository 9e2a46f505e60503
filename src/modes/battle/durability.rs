//! `BATTLE_DURABILITY=replica`: every Lua step that changes a battle and is told to a
//! client (create, matchmake, submission open and verdict, end or forfeit) runs with a
//! `WAIT 1 BATTLE_WAIT_MS` in the same pipeline on the script's node
//! (`crate::redis::wait::eval_and_wait`), and what the client is told says whether a
//! replica confirmed it (`durable: true|false`).
//!
//! Why: a Redis master acknowledges a write before its replicas have it, so a battle end
//! acknowledged just before its master is killed can be missing on the replica that takes
//! over: the battle would be active again, its result never reaching the SQL records (the
//! outbox entry is written in the same step, so it is lost with it). A `durable: true`
//! step was on a replica before anyone was told.
//!
//! What an unconfirmed step does: it stands (the master has it; `WAIT` cannot undo a
//! write), it is never reported as confirmed (`durable: false`, counted per step in
//! `arena_battle_steps_not_durable_total`), and an end that was not confirmed keeps the
//! battle in the deadline index: if a failover undid it, the battle's clock still ends
//! it at its time (reason `time`) instead of it running on to its TTL; if it held, the
//! sweep finds it over and drops the entry. A client that must have its own end can send
//! it again: `end_battle`/`forfeit` of a battle that is over answers `not_found`.
//!
//! Why its own setting and not `CLAIM_DURABILITY`: a battle step is rare (a handful per
//! battle) and decides a match, a claim is the hot path; an operator may well want the
//! wait for battles only. The two share the mechanism (`redis::wait`), not the knob.
//!
//! Pause and resume (`battle_pause.lua`) do not wait: the pause driver re-applies the
//! judge's state to every active battle every 5 s (`clock::pauses`), so a pause a
//! failover undid comes back on its own, and a wait there would cost a replica-less
//! master one `BATTLE_WAIT_MS` per active battle per pass, one after another.
//!
//! Why no skip-the-wait pause when a master has no replica (claims have one): a battle
//! step waits at most `BATTLE_WAIT_MS` on connections of its own and steps are few, so
//! a master without a replica slows battle steps by that bound and nothing else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::Counter;
use redis::{Cmd, RedisError, Script, Value};

use super::metrics::STEPS_NOT_DURABLE_TOTAL;
use super::settings::{Durability, Settings};
use crate::redis::{Conn, command_connection, script, wait};
use crate::services::AppState;

/// Connections battle steps that wait take turns on: `WAIT` holds its connection, so a
/// few let steps of one instance wait side by side.
const CONNECTIONS: usize = 4;

/// A Lua step that changes a battle (the label of its metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Matchmake,
    SubmissionOpen,
    SubmissionFinal,
    End,
    Pause,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Create,
        Step::Matchmake,
        Step::SubmissionOpen,
        Step::SubmissionFinal,
        Step::End,
        Step::Pause,
    ];

    /// Does this step wait for a replica (with `BATTLE_DURABILITY=replica`)? Not pauses
    /// (see the module's docs).
    pub fn waits(self) -> bool {
        self != Step::Pause
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "battle_create",
            Step::Matchmake => "matchmake",
            Step::SubmissionOpen => "submission_open",
            Step::SubmissionFinal => "submission_final",
            Step::End => "battle_end",
            Step::Pause => "battle_pause",
        }
    }
}

/// A step's reply and, with `BATTLE_DURABILITY=replica`, whether a replica confirmed its
/// writes within the bound (`None`: the setting is off).
#[derive(Debug)]
pub struct Stepped {
    pub reply: Value,
    pub durable: Option<bool>,
}

/// How the battle mode runs its steps: on the shared command connection, or (replica)
/// on connections of its own with a `WAIT` after each.
pub struct Steps {
    redis: Conn,
    durable: Option<Durable>,
    not_durable: Vec<(Step, Counter)>,
}

struct Durable {
    conns: Vec<Conn>,
    next: AtomicUsize,
    wait: Duration,
}

impl Steps {
    /// The connections are lazy (connected by their first step); each command's timeout
    /// covers the wait.
    pub fn new(app: &AppState, settings: &Settings) -> Result<Self, RedisError> {
        let durable = match settings.battle_durability {
            Durability::None => None,
            Durability::Replica => {
                let wait = Duration::from_millis(settings.battle_wait_ms);
                let timeout = Duration::from_millis(app.settings.redis_timeout_ms) + wait;
                let conns = (0..CONNECTIONS)
                    .map(|_| command_connection(&app.redis_endpoint, timeout))
                    .collect::<Result<_, _>>()?;
                Some(Durable {
                    conns,
                    next: AtomicUsize::new(0),
                    wait,
                })
            }
        };
        let not_durable = Step::ALL
            .iter()
            .filter(|s| s.waits())
            .map(|s| (*s, app.metrics.counter_with(STEPS_NOT_DURABLE_TOTAL, "step", s.name())))
            .collect();
        Ok(Self {
            redis: app.redis.clone(),
            durable,
            not_durable,
        })
    }

    /// Run `evalsha` (an `EVALSHA` of `script`, its keys in one slot); with
    /// `BATTLE_DURABILITY=replica` also `WAIT 1` for its writes. A `WAIT` that failed or
    /// found no replica in time makes the step `durable: false` (counted), never true.
    /// Steps that wrote nothing (a refusal) are confirmed as well as the connection's
    /// earlier writes are: their `durable` says nothing a client relies on.
    pub async fn run(&self, step: Step, script: &Script, evalsha: &Cmd) -> Result<Stepped, RedisError> {
        let Some(d) = self.durable.as_ref().filter(|_| step.waits()) else {
            let reply = script::eval(&mut self.redis.clone(), script, evalsha).await?;
            return Ok(Stepped { reply, durable: None });
        };
        let i = d.next.fetch_add(1, Ordering::Relaxed) % d.conns.len();
        let mut conn = d.conns[i].clone();
        let waited = wait::eval_and_wait(&mut conn, script, evalsha, 1, d.wait).await?;
        let confirmed = match waited.replicas {
            Ok(n) => n >= 1,
            Err(e) => {
                // The step happened; only its confirmation is missing.
                tracing::warn!(step = step.name(), error = %e, "WAIT after a battle step failed; durable: false");
                false
            }
        };
        if !confirmed && let Some((_, c)) = self.not_durable.iter().find(|(s, _)| *s == step) {
            c.increment(1);
        }
        Ok(Stepped {
            reply: waited.reply,
            durable: Some(confirmed),
        })
    }
}

/// A step's reply as `T`; anything else is an error naming the script.
pub fn parse<T: redis::FromRedisValue>(script_name: &'static str, reply: Value) -> Result<T, RedisError> {
    redis::from_redis_value_ref(&reply).map_err(|_| script::unexpected_reply(script_name, reply))
}
