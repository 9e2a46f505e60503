//! The judge queue's keys. All share the `{judge}` hash tag: every script touches the
//! stream and a job's keys together, so they must sit on one Cluster slot. Judge traffic
//! is a few jobs per second, far below what one slot serves.
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{judge}:jobs` | stream, MAXLEN ~ | submissions waiting or running (group `judges`) |
//! | `arena:{judge}:dead` | stream, MAXLEN ~ | poison jobs, after `JUDGE_MAX_DELIVERIES` |
//! | `arena:{judge}:results` | stream, MAXLEN ~ | one entry per recorded result (the outbox) |
//! | `arena:{judge}:job:<token>` | string, EX | `queued` / `done`: the token exists |
//! | `arena:{judge}:result:<token>` | string (JSON), EX | the report, written once |
//! | `arena:{judge}:progress:<token>` | list (JSON), EX | one `Progress` per finished test, pushed as the judge goes |
//! | `arena:{judge}:judges` | zset | judge id -> last heartbeat (ms, Redis clock) |
//! | `arena:{judge}:breaker` | hash | the fleet's breaker: state, opened_at, probe_until, reason |
//! | `arena:{judge}:breaker:window` | hash, PX | outcomes per second over the rolling window |

pub const GROUP: &str = "judges";

pub fn jobs() -> String {
    "arena:{judge}:jobs".into()
}

pub fn dead() -> String {
    "arena:{judge}:dead".into()
}

pub fn results() -> String {
    "arena:{judge}:results".into()
}

pub fn job(token: &str) -> String {
    format!("arena:{{judge}}:job:{token}")
}

pub fn result(token: &str) -> String {
    format!("arena:{{judge}}:result:{token}")
}

/// One `Progress` entry per finished test of a job (RPUSHed by the judge running it).
pub fn progress(token: &str) -> String {
    format!("arena:{{judge}}:progress:{token}")
}

pub fn judges() -> String {
    "arena:{judge}:judges".into()
}

/// The fleet-wide breaker: state, opened_at, probe_until, reason.
pub fn breaker() -> String {
    "arena:{judge}:breaker".into()
}

/// The breaker's rolling window: `ok:<sec>` / `fail:<sec>` counts.
pub fn breaker_window() -> String {
    "arena:{judge}:breaker:window".into()
}
