//! `arena bench`: the load generator that proves the numbers.
//!
//! Scenarios: `fanout` (room broadcast latency and loss across instances), `connections`
//! (server memory per idle client), `ticks` (exactly one tick per interval), `battles`
//! (contended battle starts), `claims` (treasure-hunt claims), `flood` (hostile clients
//! against a quiet one), `outbox` (battle events to the SQL records), `coding` (coding
//! battles: submissions through the judge and back), `judge` (the judge fleet alone:
//! latency per language, jobs/s, sandbox overhead, the breaker's open answer), `replay`
//! (missed-event recovery: rejoin with a position, time to catch up). Every run is
//! bounded in count and time, targets loopback unless `--allow-remote`, shows a progress
//! bar, and prints a table or one JSON line (`--json`); `--plot` writes an SVG.

pub mod battles;
pub mod claims;
pub mod coding;
mod common;
pub mod connections;
pub mod fanout;
pub mod flood;
pub mod judge;
pub mod outbox;
pub mod projection;
pub mod replay;
pub mod report;
mod scrape;
mod status;
pub mod ticks;
pub mod wire;

pub use common::{BenchError, Common, Outcome, emit, progress, targets, write_plot};
pub use status::{ServerStatus, cpu_between, statuses};

use std::time::Duration;

use clap::{Args, Subcommand};

/// The scenarios.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Room broadcast across instances: latency, loss, server CPU per message.
    Fanout(fanout::FanoutArgs),
    /// N idle clients: server memory per client and connect time.
    Connections(connections::ConnectionsArgs),
    /// Observe server_tick from every instance: intervals with 0, 1, 2+ ticks.
    Ticks(ticks::TicksArgs),
    /// Contended battle starts: starts/s, latency, exactly one battle per pairing.
    Battles(battles::BattlesArgs),
    /// Treasure-hunt claims: claims/s, ack latency, outcomes, no tile with two owners.
    Claims(claims::ClaimsArgs),
    /// The leaderboard projection alone: claims straight into Redis at a paced rate, the
    /// lag until the instances applied them.
    Projection(projection::ProjectionArgs),
    /// Hostile sockets flood one instance: its memory, a quiet client's acks, tick delay.
    Flood(flood::FloodArgs),
    /// Battle events to the SQL records: events/s and lag (Lua step to SQL commit).
    Outbox(outbox::OutboxArgs),
    /// Coding battles: players submit solutions; submit to first update / result, the
    /// judge's queue, what saturates first.
    Coding(coding::CodingArgs),
    /// The judge fleet: submit -> verdict per language at 1 and 2 jobs in flight, jobs/s
    /// per core, sandbox overhead against a bare exec, the breaker-open answer.
    Judge(judge::JudgeArgs),
    /// Missed-event recovery: a client leaves, misses attacks, rejoins another instance
    /// with its last position; join -> caught up, no gap, none twice.
    Replay(replay::ReplayArgs),
}

/// `arena bench <scenario>`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// Run a scenario and print its report (a table, or one JSON line with `--json`).
pub async fn run(args: BenchArgs) -> Result<Outcome, BenchError> {
    // Every run is bounded in time, whatever the servers do.
    let secs = |s: u64| Duration::from_secs(s);
    let limit = match &args.scenario {
        Scenario::Fanout(a) if a.find_max => secs(20 * (a.duration + 15) + 120),
        Scenario::Fanout(a) => secs(a.duration + 120),
        Scenario::Connections(a) => secs(a.clients as u64 / 20 + 120),
        Scenario::Ticks(a) => secs(a.seconds + 60),
        Scenario::Battles(a) => secs(a.rounds as u64 * 30 + 120),
        Scenario::Claims(a) => secs(a.duration + 120),
        Scenario::Projection(a) => secs(a.duration + 120),
        Scenario::Flood(a) => a.limit(),
        Scenario::Outbox(_) => secs(900),
        Scenario::Coding(a) => a.limit(),
        Scenario::Judge(a) => a.limit(),
        Scenario::Replay(a) => a.limit(),
    };
    let fut = async move {
        match args.scenario {
            Scenario::Fanout(a) => fanout::run(a).await,
            Scenario::Connections(a) => connections::run(a).await,
            Scenario::Ticks(a) => ticks::run(a).await,
            Scenario::Battles(a) => battles::run(a).await,
            Scenario::Claims(a) => claims::run(a).await,
            Scenario::Projection(a) => projection::run(a).await,
            Scenario::Flood(a) => flood::run(a).await,
            Scenario::Outbox(a) => outbox::run(a).await,
            Scenario::Coding(a) => coding::run(a).await,
            Scenario::Judge(a) => judge::run(a).await,
            Scenario::Replay(a) => replay::run(a).await,
        }
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| BenchError::TimedOut(limit))?
}
