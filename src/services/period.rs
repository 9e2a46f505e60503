//! The leader-per-period runner: every `period_ms`, all instances race for period `n`;
//! at most one wins it, and only the winner runs the job for `n`.
//!
//! `n = floor(now_ms / period_ms)` is the global period number. The race is one Lua step
//! (`lua/period_acquire.lua`) with zero retries: a lease on a key that names `n` (TTL
//! below the period) plus a monotonic fence (the highest `n` won so far), so a period is
//! never won twice even when instances start at different moments or their clocks are
//! skewed. The lease is not released after the job: releasing it is exactly what let a
//! late instance win the same period again in the Node reference.
//!
//! Ticks (`modes::rooms::tick`), the hunt's map generator and its leaderboard broadcast
//! all run on this.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::Conn;
use redis::{RedisError, Script};
use tokio_util::sync::CancellationToken;

use crate::base::clock::unix_ms;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::redis::keys;
use crate::services::AppState;

static PERIOD_ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/period_acquire.lua")));

/// One leader race: its name (the keys' hash tag), its period and its lease TTL.
#[derive(Debug, Clone)]
pub struct Race {
    /// Names the keys `arena:{<name>}:lock:<n>` and `arena:{<name>}:last`.
    pub name: &'static str,
    pub period_ms: u64,
    /// Lease TTL; below `period_ms`, so a lease never spans two periods.
    pub lease_ms: u64,
}

/// What one instance did in one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This instance won the period and ran the job.
    Won,
    /// Another instance won it.
    Lost,
    /// Redis did not answer: nobody here knows who won.
    Failed,
    /// Periods that passed without a race (this instance was paused or late).
    Missed(u64),
}

/// What Redis said to one attempt at period `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// This caller won period `n`.
    pub won: bool,
    /// `n` is not the current period by Redis's clock (the caller's clock is off).
    pub off_clock: bool,
    /// Redis's clock when it answered, in ms since the epoch.
    pub redis_ms: u64,
}

/// Try to win period `n` of `race` with `token` as the lease value. `true`: this caller
/// won. No clock check: `n` is taken as given (tests and tools).
pub async fn acquire(
    conn: &mut Conn,
    race: &str,
    n: u64,
    token: &str,
    lease_ms: u64,
) -> Result<bool, RedisError> {
    Ok(attempt(conn, race, n, token, lease_ms, 0, 0).await?.won)
}

/// Try to win period `n` of `race`, which must be the current period of `period_ms` by
/// Redis's clock (or start within `slack_ms`).
pub async fn attempt(
    conn: &mut Conn,
    race: &str,
    n: u64,
    token: &str,
    lease_ms: u64,
    period_ms: u64,
    slack_ms: u64,
) -> Result<Attempt, RedisError> {
    let reply: Vec<i64> = PERIOD_ACQUIRE
        .key(keys::period_lock(race, n))
        .key(keys::period_last(race))
        .arg(n)
        .arg(token)
        .arg(lease_ms)
        .arg(period_ms)
        .arg(slack_ms)
        .invoke_async(conn)
        .await?;
    let unexpected = || crate::redis::script::unexpected_reply("period_acquire.lua", &reply);
    let (won, redis_ms) = match reply.as_slice() {
        [won, now] if *now >= 0 => (*won, *now as u64),
        _ => return Err(unexpected()),
    };
    match won {
        -1..=1 => Ok(Attempt {
            won: won == 1,
            off_clock: won == -1,
            redis_ms,
        }),
        _ => Err(unexpected()),
    }
}

/// How early a caller may be for a period and still count (its estimate of Redis's
/// clock can be off by a round trip): a tenth of the period, at most 50 ms.
fn slack_ms(period_ms: u64) -> u64 {
    (period_ms / 10).min(50)
}

/// Wake this long after a period starts by Redis's clock, so that an estimate a little
/// off still lands inside the period.
const WAKE_AFTER_MS: u64 = 2;

/// Plus a random delay up to this long: every instance aims at the same moment, and
/// their estimates of Redis's clock differ by a steady fraction of a millisecond, so
/// without it the same instance would win every period. The jitter keeps the race open.
const WAKE_JITTER_US: u64 = 5_000;

/// Host clock this far from Redis's is logged as a warning (at most once a minute).
pub const SKEW_WARN_MS: i64 = 250;

/// This instance's estimate of Redis's clock: the host clock plus an offset learned from
/// every race's reply (half the round trip taken as the one-way delay).
struct RedisClock {
    offset_ms: i64,
    /// Test only: pretend the host clock is off by this much.
    host_skew_ms: i64,
    learned: bool,
    warned_at: Option<std::time::Instant>,
}

impl RedisClock {
    fn host_ms(&self) -> i64 {
        unix_ms() as i64 + self.host_skew_ms
    }

    fn now_ms(&self) -> u64 {
        (self.host_ms() + self.offset_ms).max(0) as u64
    }

    /// Learn from one reply: `sent_ms` host time at send, `rtt` the round trip.
    fn learn(&mut self, sent_ms: i64, rtt: Duration, redis_ms: u64, race: &str, app: &AppState) {
        let sample = redis_ms as i64 - (sent_ms + rtt.as_millis() as i64 / 2);
        // The first sample is taken whole (a skewed host must be right at once); later
        // ones are smoothed so one slow reply does not move the estimate much.
        self.offset_ms = if self.learned {
            self.offset_ms + (sample - self.offset_ms) / 4
        } else {
            sample
        };
        self.learned = true;
        let skew_ms = -self.offset_ms;
        app.metrics.clock_skew.set(skew_ms as f64 / 1000.0);
        let quiet = self
            .warned_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
        if skew_ms.abs() > SKEW_WARN_MS && !quiet {
            self.warned_at = Some(std::time::Instant::now());
            tracing::warn!(
                race,
                skew_ms,
                "host clock is off from Redis's; periods follow Redis's clock"
            );
        }
    }
}

/// Race for every period of `race` until `shutdown`; the winner of period `n` runs
/// `job(n)`. Period numbers come from Redis's clock (`TIME`), never the host's alone, so
/// a host whose clock is off neither wins early nor late. `report` hears every outcome:
/// won + lost + failed + missed always equals the number of periods since the loop
/// started.
pub async fn run<J, F>(
    race: Race,
    app: &AppState,
    shutdown: CancellationToken,
    mut job: J,
    mut report: impl FnMut(Outcome),
) where
    J: FnMut(u64) -> F,
    F: Future<Output = ()>,
{
    let mut conn = app.redis.clone();
    let period = race.period_ms.max(1);
    let slack = slack_ms(period);
    let mut clock = RedisClock {
        offset_ms: 0,
        host_skew_ms: app.settings.test_clock_skew_ms,
        learned: false,
        warned_at: None,
    };
    let mut last = clock.now_ms() / period;
    loop {
        let next_at = (last + 1) * period + WAKE_AFTER_MS;
        let wait = Duration::from_millis(next_at.saturating_sub(clock.now_ms()))
            + Duration::from_micros(rand::random_range(0..WAKE_JITTER_US));
        if !sleep_unless_cancelled(wait, &shutdown).await {
            return;
        }
        let n = (clock.now_ms() / period).max(last + 1);
        let missed = n - last - 1;
        if missed > 0 {
            report(Outcome::Missed(missed));
        }
        last = n;
        let token = format!("{}:{:032x}", app.instance_id, rand::random::<u128>());
        let sent_ms = clock.host_ms();
        let started = std::time::Instant::now();
        let r = attempt(
            &mut conn,
            race.name,
            n,
            &token,
            race.lease_ms,
            period,
            slack,
        )
        .await;
        match r {
            Ok(a) => {
                clock.learn(sent_ms, started.elapsed(), a.redis_ms, race.name, app);
                if a.won {
                    job(n).await;
                    report(Outcome::Won);
                } else {
                    if a.off_clock {
                        tracing::debug!(
                            race = race.name,
                            period = n,
                            "period not current by Redis's clock"
                        );
                    }
                    report(Outcome::Lost);
                }
            }
            Err(e) => {
                app.metrics.redis_failure("period race", &e);
                report(Outcome::Failed);
            }
        }
    }
}
