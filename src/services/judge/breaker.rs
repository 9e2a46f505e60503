//! The circuit breaker around the execution service, shared by every arena instance
//! through Redis: the fleet opens together, sends one probe when half-open, and closes
//! together.
//!
//! The state machine runs in one Lua step (`lua/breaker.lua`) on the `{judge}` slot,
//! beside the judges' heartbeats and the job stream it watches. In-process breaker
//! crates (tower-resilience's, failsafe) keep their state in memory, one per process:
//! what we need is the opposite — one state for the fleet and one probe for the
//! fleet — so the crate's state machine would have had to be replaced wholesale; the
//! transitions follow the usual shape (closed -> open on a failure rate over a rolling
//! window; open -> half-open after a cool-down; one probe; its outcome closes or reopens).
//! Added: it also opens when no judge has sent a heartbeat lately and when the oldest
//! job has waited in the queue past a bound.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::Conn;
use redis::{RedisError, Script};

use super::keys;
use crate::redis::script::unexpected_reply;

static BREAKER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/breaker.lua")));

/// The breaker's tuning.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// The rolling window of outcomes.
    pub window: Duration,
    /// Outcomes needed in the window before the failure rate counts.
    pub min_calls: u32,
    /// Failure rate (0..1) that opens the breaker.
    pub failure_rate: f64,
    /// How long it stays open before one probe is let through.
    pub open_for: Duration,
    /// A judge heartbeat older than this does not count (no judge -> open).
    pub heartbeat_within: Duration,
    /// The probe's slot is held this long; after it another probe may go.
    pub probe_timeout: Duration,
    /// Open when the oldest job not yet taken has waited longer (zero: never).
    pub max_queue_wait: Duration,
}

impl BreakerConfig {
    /// The defaults (the `JUDGE_BREAKER_*` settings' defaults are read from here).
    pub const DEFAULT: BreakerConfig = BreakerConfig {
        window: Duration::from_secs(30),
        min_calls: 5,
        failure_rate: 0.5,
        open_for: Duration::from_secs(5),
        heartbeat_within: Duration::from_secs(5),
        probe_timeout: Duration::from_secs(30),
        max_queue_wait: Duration::from_secs(10),
    };
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What `allow` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go ahead.
    Closed,
    /// Half-open, and this caller is the fleet's one probe: go ahead, then record.
    Probe,
    /// Open (or half-open with the probe out): answer `judge_unavailable` at once.
    Open,
}

/// The breaker's state, as `arena_circuit_state{breaker="judge"}` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

/// The answer of one step: the decision, a transition this step made, the state after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub admission: Admission,
    pub transition: Option<State>,
    pub state: State,
}

fn state(s: &str) -> Option<State> {
    match s {
        "closed" => Some(State::Closed),
        "half_open" => Some(State::HalfOpen),
        "open" => Some(State::Open),
        _ => None,
    }
}

/// The fleet-wide breaker (cheap to clone).
#[derive(Clone)]
pub struct Breaker {
    conn: Conn,
    cfg: BreakerConfig,
}

impl Breaker {
    pub fn new(conn: Conn, cfg: BreakerConfig) -> Self {
        Self { conn, cfg }
    }

    async fn call(&self, op: &str, outcome: &str, probe: bool) -> Result<Step, RedisError> {
        let mut conn = self.conn.clone();
        let c = &self.cfg;
        let reply: (String, String, String) = BREAKER
            .key(keys::breaker())
            .key(keys::breaker_window())
            .key(keys::judges())
            .key(keys::jobs())
            .arg(op)
            .arg(c.window.as_secs().max(1))
            .arg(c.min_calls)
            .arg(c.failure_rate)
            .arg(c.open_for.as_millis() as u64)
            .arg(c.heartbeat_within.as_millis() as u64)
            .arg(outcome)
            .arg(if probe { "1" } else { "0" })
            .arg(c.probe_timeout.as_millis() as u64)
            .arg(c.max_queue_wait.as_millis() as u64)
            .arg(keys::GROUP)
            .invoke_async(&mut conn)
            .await?;
        let admission = match reply.0.as_str() {
            "closed" => Admission::Closed,
            "probe" => Admission::Probe,
            // `half_open` is peek's answer while a probe is out.
            "open" | "half_open" => Admission::Open,
            _ => return Err(unexpected_reply("breaker.lua", reply)),
        };
        let transition = match reply.1.as_str() {
            "" => None,
            t => Some(state(t).ok_or_else(|| unexpected_reply("breaker.lua", reply.clone()))?),
        };
        let st = state(&reply.2).ok_or_else(|| unexpected_reply("breaker.lua", reply.clone()))?;
        Ok(Step {
            admission,
            transition,
            state: st,
        })
    }

    /// May a submission go to the judges now?
    pub async fn allow(&self) -> Result<Step, RedisError> {
        self.call("allow", "", false).await
    }

    /// The breaker's state without sending a submission, for a fleet that sends none
    /// while it is open (battles paused). Makes the same moves `allow` makes (closed ->
    /// open without a judge heartbeat or with a queue waiting too long; open ->
    /// half-open after the cool-down), and in half-open with no probe out it is the
    /// probe itself: a fresh judge heartbeat closes the breaker, none reopens it. Its
    /// admission is never `Probe`: nothing is let through.
    pub async fn peek(&self) -> Result<Step, RedisError> {
        self.call("peek", "", false).await
    }

    /// Record how a submission let through went (`probe`: it was the fleet's probe).
    pub async fn record(&self, ok: bool, probe: bool) -> Result<Step, RedisError> {
        self.call("record", if ok { "ok" } else { "fail" }, probe)
            .await
    }
}
