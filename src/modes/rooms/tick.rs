//! Leader-elected ticks: every `TICK_MS` all instances race for interval `n` through the
//! period runner (`services::period`); the one winner broadcasts `server_tick` to every
//! client on every instance.

use tokio_util::sync::CancellationToken;

use super::payload::ServerTick;
use super::state::Rooms;
use crate::base::clock::unix_ms;
use crate::services::period::{self, Outcome, Race};

/// The period race of ticks (its keys are `arena:{tick}:...`).
pub const RACE: &str = "tick";

/// Race for every interval until `shutdown`. Acquired + skipped always equals the number
/// of intervals since the loop started (intervals missed while paused count as skipped).
pub async fn run(rooms: Rooms, shutdown: CancellationToken) {
    let app = &rooms.ctx.app;
    let race = Race {
        name: RACE,
        period_ms: rooms.settings.tick_ms,
        lease_ms: app.settings.lock_ttl_ms,
    };
    let m = &rooms.metrics;
    let io = &rooms.ctx.io;
    period::run(
        race,
        app,
        shutdown,
        |n| async move {
            let tick = ServerTick {
                tick: n,
                instance_id: app.instance_id.to_string(),
                at: unix_ms(),
            };
            if let Err(e) = io.emit("server_tick", &tick).await {
                tracing::warn!(tick = n, error = %e, "server_tick broadcast failed");
            }
            tracing::debug!(tick = n, "tick acquired");
        },
        |outcome| match outcome {
            Outcome::Won => m.ticks_acquired.increment(1),
            Outcome::Lost => m.ticks_skipped.increment(1),
            Outcome::Failed => {
                m.tick_errors.increment(1);
                m.ticks_skipped.increment(1);
            }
            Outcome::Missed(k) => m.ticks_skipped.increment(k),
        },
    )
    .await
}
