//! The host clock, in milliseconds since the Unix epoch.
//!
//! Timestamps in payloads and records come from here. Interval numbers (ticks, maps,
//! leaderboard broadcasts) are the period runner's business (`services::period`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the host clock is before 1970).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
