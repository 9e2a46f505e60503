//! Start-up warm-up: seed shared data at most once per minute across all instances.
//!
//! A guard key (`SET NX PX 60000`) elects one instance per window; only it seeds. Redis
//! errors are retried up to 3 times with backoff, so a blip at start-up does not skip the
//! warm-up, and a retry never seeds twice (the guard is taken first).

use std::time::Duration;

use redis::AsyncCommands;

use crate::base::clock::unix_ms;
use crate::services::AppState;

/// The guard key: present while a warm-up window is open.
pub const GUARD: &str = "arena:{warmup}:guard";
/// How many warm-ups ran (for operators and tests).
pub const RUNS: &str = "arena:{warmup}:runs";
/// When the shared data was last seeded (ms since the epoch) and by whom.
pub const SEEDED: &str = "arena:{warmup}:seeded";
/// Length of a window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What this instance's warm-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmup {
    /// This instance won the window and seeded.
    Ran,
    /// Another instance warmed up within the window.
    Skipped,
    /// Redis stayed unreachable through every retry.
    Failed,
}

/// Run the warm-up once (a background task at start-up).
pub async fn run(app: AppState, warmups: metrics::Counter) -> Warmup {
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=3 {
        match try_once(&app).await {
            Ok(w) => {
                if w == Warmup::Ran {
                    warmups.increment(1);
                    tracing::info!("warm-up ran (first instance in this window)");
                }
                return w;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "warm-up failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    Warmup::Failed
}

async fn try_once(app: &AppState) -> Result<Warmup, redis::RedisError> {
    let mut conn = app.redis.clone();
    let won: bool = redis::cmd("SET")
        .arg(GUARD)
        .arg(app.instance_id.as_ref())
        .arg("NX")
        .arg("PX")
        .arg(WINDOW.as_millis() as u64)
        .query_async::<Option<String>>(&mut conn)
        .await?
        .is_some();
    if !won {
        // Our own guard from a failed earlier attempt still means "seed".
        let holder: Option<String> = conn.get(GUARD).await?;
        if holder.as_deref() != Some(app.instance_id.as_ref()) {
            return Ok(Warmup::Skipped);
        }
        let seeded_by: Option<String> = conn.hget(SEEDED, "by").await?;
        let seeded_at: Option<u64> = conn.hget(SEEDED, "at").await?;
        if seeded_by.as_deref() == Some(app.instance_id.as_ref())
            && seeded_at.is_some_and(|t| {
                unix_ms().saturating_sub(t) < WINDOW.as_millis() as u64
            })
        {
            return Ok(Warmup::Skipped);
        }
    }
    // The seed: shared data every instance expects (one pipeline, atomic).
    let now = unix_ms();
    redis::pipe()
        .atomic()
        .hset_multiple(
            SEEDED,
            &[("by", app.instance_id.to_string()), ("at", now.to_string())],
        )
        .ignore()
        .incr(RUNS, 1)
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;
    Ok(Warmup::Ran)
}
