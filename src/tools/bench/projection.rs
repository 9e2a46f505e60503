//! `arena bench projection`: the leaderboard projection alone, at a paced rate of claims.
//! The tool runs the claim script (`claim.lua`, the exact call an instance makes) straight
//! against the instances' Redis, one map of its own per partition, with the claim time
//! taken when each is sent, and reads the projection's lag (claim -> applied to the
//! boards) from the instances' `arena_leaderboard_lag_seconds` buckets.
//!
//! Why not through Socket.IO (`arena bench claims` does that): the question here is
//! whether the projection keeps up with a claim rate, and on a small host the Socket.IO
//! load client, the instances' claim path and Redis together saturate the cores below
//! the rate in question; the lag then measures the starved host, not the projection.
//! Run it against `arena demo` (or instances) with the treasure hunt on; `--partitions`
//! must match the instances' `HUNT_PARTITIONS`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Semaphore;

use super::common::{BenchError, Common, Outcome, Pacer, emit, progress, targets};
use super::report::{Latency, histogram};
use super::scrape;
use super::status::{cpu_between, statuses};
use crate::modes::hunt::map::{HuntMap, store};
use crate::modes::hunt::scripts::{ClaimArgs, ClaimKeys, ClaimOutcome, claim};
use crate::modes::hunt::{PARTITIONS, STREAM_MAXLEN};

#[derive(Debug, Clone, Args)]
pub struct ProjectionArgs {
    #[command(flatten)]
    pub common: Common,
    /// The Redis the instances share (the claims go straight to it).
    #[arg(long)]
    pub redis_url: String,
    /// Claims per second written to the log.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Seconds of claiming (at most 600).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The instances' `HUNT_PARTITIONS`: one map per partition, so every partition's
    /// stream gets its share.
    #[arg(long, default_value_t = PARTITIONS)]
    pub partitions: u32,
    /// Claims in flight at most (like `redis-benchmark -c`).
    #[arg(long, default_value_t = 50)]
    pub in_flight: usize,
}

/// The projection's lag histogram (seconds), on every instance.
const LAG_METRIC: &str = "arena_leaderboard_lag_seconds";
/// How long the projection may take to catch up after the last claim before the lag is read.
const LAG_DRAIN: Duration = Duration::from_secs(15);
/// Distinct players the claims are spread over (each board update is per player).
const PLAYERS: u64 = 200;
/// Side of the tool's maps: 16M tiles each, more than 600 s at any rate fills.
const SIDE: u32 = 4096;

pub async fn run(args: ProjectionArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    if args.rate == 0
        || args.rate > 1_000_000
        || args.duration == 0
        || args.duration > 600
        || args.in_flight == 0
        || !(1..=1024).contains(&args.partitions)
    {
        return Err(BenchError::Invalid(
            "need a rate of 1..=1000000, 1..=600 s, --in-flight > 0, 1..=1024 partitions".into(),
        ));
    }
    let tls = crate::redis::Tls::load(None, None)
        .map_err(|e| BenchError::Invalid(format!("--redis-url: {e}")))?;
    let endpoint = crate::redis::Endpoint::new(args.redis_url.clone(), &tls);
    let conn = crate::redis::command_connection(&endpoint, Duration::from_secs(5))
        .map_err(|e| BenchError::Invalid(format!("--redis-url: {e}")))?;
    statuses(&addrs).await?;

    // One map per partition (a map's partition is its id modulo the partitions), ids far
    // above the hunt's own.
    let run_id = u64::from(rand::random::<u32>());
    let base = (1u64 << 50) + run_id * u64::from(args.partitions);
    let expires_at = crate::base::clock::unix_ms() + (args.duration + 300) * 1000;
    let maps: Vec<u64> = (0..u64::from(args.partitions)).map(|k| base + k).collect();
    for &map_id in &maps {
        let map = HuntMap {
            map_id,
            width: SIDE,
            height: SIDE,
            treasures: Default::default(),
            expires_at,
        };
        let mut c = conn.clone();
        store(&mut c, &map, args.partitions, args.duration + 300)
            .await
            .map_err(|e| BenchError::Connect(args.redis_url.clone(), e.to_string()))?;
    }

    let before = statuses(&addrs).await?;
    let lag_before = scrape::buckets(&addrs, LAG_METRIC).await?;
    let claimed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(std::sync::Mutex::new(histogram()));
    let slots = Arc::new(Semaphore::new(args.in_flight));
    let pb = progress(args.duration, &format!("{} claims/s to the log", args.rate));
    let mut pacer = Pacer::new(args.rate as f64, Duration::from_secs(args.duration));
    let mut sent = 0u64;
    let mut late = 0u64;
    while let Some((due, elapsed)) = pacer.due().await {
        while sent < due {
            // Every in-flight slot taken: Redis is behind the offered rate; the claim waits
            // (and is counted late) rather than piling up unbounded.
            let permit = match slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    late += 1;
                    match slots.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => break,
                    }
                }
            };
            let k = sent % u64::from(args.partitions);
            let map_id = maps[k as usize];
            let tile = (sent / u64::from(args.partitions)) as i64;
            let player = format!("proj-{run_id:x}-{}", sent % PLAYERS);
            sent += 1;
            let mut c = conn.clone();
            let (claimed, failed, latency) = (claimed.clone(), failed.clone(), latency.clone());
            let partitions = args.partitions;
            tokio::spawn(async move {
                let keys = ClaimKeys::new(map_id, partitions, &player);
                let t = Instant::now();
                let r = claim(
                    &mut c,
                    &keys,
                    &ClaimArgs {
                        map_id,
                        tile,
                        player: &player,
                        now_ms: crate::base::clock::unix_ms(),
                        stream_maxlen: STREAM_MAXLEN,
                        ttl_s: 3600,
                        rate_per_s: 1_000_000,
                    },
                )
                .await;
                let us = t.elapsed().as_micros() as u64;
                match r {
                    Ok(ClaimOutcome::Claimed { .. }) => {
                        claimed.fetch_add(1, Ordering::Relaxed);
                        let mut h = latency.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = h.record(us.max(1));
                    }
                    Ok(other) => {
                        tracing::debug!(?other, "bench projection: claim not taken");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "bench projection: claim failed");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                drop(permit);
            });
        }
        pb.set_position(elapsed.as_secs());
    }
    let seconds = pacer.seconds();
    // Every claim answered (all permits back), then the projection's catch-up.
    let _all = slots
        .acquire_many(args.in_flight as u32)
        .await
        .map_err(|e| BenchError::Protocol(e.to_string()))?;
    pb.finish_and_clear();
    let claimed = claimed.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let drain_from = Instant::now();
    let lag_after =
        scrape::until_counted(&addrs, LAG_METRIC, &lag_before, claimed, LAG_DRAIN).await?;
    let drained_s = drain_from.elapsed().as_secs_f64();
    let after = statuses(&addrs).await?;
    let cpu = cpu_between(&before, &after);
    let lag_ms = |q| scrape::quantile(&lag_before, &lag_after, q).map(|s| s * 1000.0);
    let applied = scrape::count(&lag_before, &lag_after);
    let hist: Histogram<u64> = latency.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let script = Latency::of(&hist);
    let ok = failed == 0 && applied >= claimed as f64;
    let rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        (
            "claims into the log".into(),
            format!(
                "{claimed} in {seconds:.2} s = {:.0}/s (offered {}/s; {failed} failed, {late} waited for a slot)",
                claimed as f64 / seconds,
                args.rate
            ),
        ),
        (
            "applied to the boards".into(),
            format!(
                "{applied:.0} ({:.0}/s; the last {drained_s:.2} s after the last claim)",
                applied / seconds
            ),
        ),
        (
            "leaderboard lag p50/p99/p99.9".into(),
            format!(
                "{:.1} / {:.1} / {:.1} ms (from the server's buckets)",
                lag_ms(0.5).unwrap_or(f64::NAN),
                lag_ms(0.99).unwrap_or(f64::NAN),
                lag_ms(0.999).unwrap_or(f64::NAN)
            ),
        ),
        (
            "claim script round trip p50/p99".into(),
            format!("{:.3} / {:.3} ms", script.p50_ms, script.p99_ms),
        ),
        (
            "server CPU (instances)".into(),
            format!(
                "{cpu:.2} s ({:.1} µs per applied claim)",
                if applied > 0.0 {
                    cpu * 1e6 / applied
                } else {
                    0.0
                }
            ),
        ),
    ];
    let j = json!({
        "scenario": "projection", "instances": addrs.len(), "rate": args.rate,
        "partitions": args.partitions, "seconds": seconds, "claimed": claimed,
        "claimed_per_s": claimed as f64 / seconds, "failed": failed, "late": late,
        "leaderboard_lag": {
            "applied": applied, "applied_per_s": applied / seconds, "drained_s": drained_s,
            "p50_ms": lag_ms(0.5), "p99_ms": lag_ms(0.99), "p999_ms": lag_ms(0.999),
        },
        "script": script, "server_cpu_s": cpu, "ok": ok,
    });
    Ok(emit(&args.common, "arena bench projection", rows, j, ok))
}
