//! Leader-elected ticks: every `tick_ms` all instances race for interval `n`; at most one wins.
//!
//! `n = floor(now_ms / tick_ms)` is the global interval number. The race is one Lua step
//! (`lua/tick_acquire.lua`) with zero retries: a lease on a key that names `n` (TTL below
//! the interval) plus a monotonic fence (the highest `n` won so far), so an interval is
//! never won twice even when instances start at different moments or their clocks are
//! skewed. The lease is not released after the broadcast: releasing it is exactly what
//! let a late instance win the same interval again in the Node reference.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::realtime::Io;
use crate::realtime::protocol::ServerTick;
use crate::redis::scripts;
use crate::state::AppState;

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What one instance did in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    Acquired,
    Skipped,
}

/// The tick loop of one instance.
pub struct Ticker {
    app: AppState,
    io: Io,
}

impl Ticker {
    pub fn new(app: AppState, io: Io) -> Self {
        Self { app, io }
    }

    /// Race for every interval until `shutdown`. Acquired + skipped always equals the number
    /// of intervals since the loop started (intervals missed while paused count as skipped).
    pub async fn run(self, shutdown: CancellationToken) {
        let tick_ms = self.app.config.tick_ms;
        let mut last = unix_ms() / tick_ms;
        loop {
            let next_at = (last + 1) * tick_ms;
            let wait = Duration::from_millis(next_at.saturating_sub(unix_ms()));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let n = (unix_ms() / tick_ms).max(last + 1);
            let missed = n - last - 1;
            if missed > 0 {
                self.app.metrics.ticks_skipped.increment(missed);
            }
            last = n;
            match self.race(n).await {
                TickOutcome::Acquired => self.app.metrics.ticks_acquired.increment(1),
                TickOutcome::Skipped => self.app.metrics.ticks_skipped.increment(1),
            }
        }
    }

    /// One attempt at interval `n`, zero retries; the winner broadcasts `server_tick`.
    async fn race(&self, n: u64) -> TickOutcome {
        let token = format!("{}:{:032x}", self.app.instance_id, rand::random::<u128>());
        let mut conn = self.app.redis.clone();
        match scripts::tick_acquire(&mut conn, n, &token, self.app.config.lock_ttl_ms).await {
            Ok(true) => {
                let tick = ServerTick {
                    tick: n,
                    instance_id: self.app.instance_id.to_string(),
                    at: unix_ms(),
                };
                if let Err(e) = self.io.emit("server_tick", &tick).await {
                    tracing::warn!(tick = n, error = %e, "server_tick broadcast failed");
                }
                tracing::debug!(tick = n, "tick acquired");
                TickOutcome::Acquired
            }
            Ok(false) => TickOutcome::Skipped,
            Err(e) => {
                self.app.metrics.tick_errors.increment(1);
                tracing::warn!(tick = n, error = %e, "tick race failed: redis unavailable");
                TickOutcome::Skipped
            }
        }
    }
}
