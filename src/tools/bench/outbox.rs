//! `arena bench outbox`: how fast battle events reach the SQL records, and how late.
//!
//! Phase 1 (live): `--battles` battles of fresh pairings are started over HTTP and ended
//! over Socket.IO by `--concurrency` workers, as fast as the servers take them; the run
//! waits until the instances' `arena_outbox_applied_total` grew by every event. It
//! reports events per second (start of the phase to the last SQL commit) and the lag
//! (Lua step to SQL commit) percentiles from the `arena_outbox_lag_seconds` histogram,
//! interpolated within its buckets as Prometheus' `histogram_quantile` does.
//!
//! Phase 2 (backlog, with `--redis-url`): `--backlog` well-formed `created` events are
//! appended straight to the outbox streams (pipelined, spread over `--partitions`), so
//! the consumers face a queue rather than the API's pace: events per second from the
//! first append to the last commit is the consumers' throughput. Those battles exist only
//! in SQL: run it against a throwaway database.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::common::{BenchError, Common, Outcome, emit, progress, targets};
use super::scrape::{Buckets, quantile};
use crate::tools::client::Client;
use crate::tools::http_client::{http_get, http_post};

#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    #[command(flatten)]
    pub common: Common,
    /// Battles started and ended through the API in phase 1 (2 events each).
    #[arg(long, default_value_t = 1000)]
    pub battles: usize,
    /// Workers starting and ending battles at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// The Redis of the instances: enables phase 2 (events appended straight to the outbox).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Events appended in phase 2.
    #[arg(long, default_value_t = 20_000)]
    pub backlog: usize,
    /// TLS files for a `rediss://` --redis-url.
    #[command(flatten)]
    pub tls: crate::services::settings::RedisTls,
    /// The instances' BATTLE_OUTBOX_PARTITIONS.
    #[arg(long, default_value_t = 8)]
    pub partitions: u32,
}

/// `arena_outbox_applied_total` and the lag buckets, summed over the instances.
async fn scrape(addrs: &[String]) -> Result<(f64, Buckets), BenchError> {
    let mut applied = 0.0;
    let mut buckets: Buckets = Vec::new();
    for a in addrs {
        let (_, body) = http_get(a, "/metrics")
            .await
            .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?;
        for line in body.lines() {
            if let Some(v) = line.strip_prefix("arena_outbox_applied_total ") {
                applied += v.trim().parse::<f64>().unwrap_or(0.0);
            } else if let Some(rest) = line.strip_prefix("arena_outbox_lag_seconds_bucket{le=\"") {
                let Some((le, v)) = rest.split_once("\"} ") else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                let v: f64 = v.trim().parse().unwrap_or(0.0);
                match buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, c)) => *c += v,
                    None => buckets.push((le, v)),
                }
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((applied, buckets))
}

/// Wait until the instances applied `want` more events than `from`; the moment it was seen.
async fn wait_applied(addrs: &[String], from: f64, want: usize) -> Result<Instant, BenchError> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (now, _) = scrape(addrs).await?;
        if now - from >= want as f64 {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(BenchError::TimedOut(Duration::from_secs(300)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(args: OutboxArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    if args.battles == 0
        || args.battles > 100_000
        || args.concurrency == 0
        || args.concurrency > 1000
    {
        return Err(BenchError::Invalid(
            "need 1..=100000 battles and 1..=1000 workers".into(),
        ));
    }
    let run_id: u32 = rand::random();
    let mut clients = Vec::new();
    for i in 0..args.concurrency {
        let url = format!("http://{}", addrs[i % addrs.len()]);
        let c = Client::connect(&url, json!({"player": format!("ref{run_id:x}-{i}")}))
            .await
            .map_err(|e| BenchError::Connect(url, e.to_string()))?;
        clients.push(c);
    }
    // Phase 1: through the API.
    let (applied0, lag0) = scrape(&addrs).await?;
    let pb = progress(args.battles as u64, "battles");
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let errors = std::sync::atomic::AtomicU64::new(0);
    let workers = clients.iter().enumerate().map(|(w, c)| {
        let (addrs, next, errors, pb) = (&addrs, &next, &errors, &pb);
        async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= args.battles {
                    break;
                }
                let body = format!(r#"{{"players":["ob{run_id:x}-{i}a","ob{run_id:x}-{i}b"]}}"#);
                let created = http_post(&addrs[w % addrs.len()], "/api/battles", &body).await;
                let id = match created {
                    Ok((201, b)) => serde_json::from_str::<serde_json::Value>(&b)
                        .ok()
                        .and_then(|v| v["battleId"].as_str().map(str::to_string)),
                    _ => None,
                };
                let ended = match id {
                    Some(id) => c
                        .emit_with_ack(
                            "end_battle",
                            &json!({"battleId": id, "winner": format!("ob{run_id:x}-{i}a")}),
                            Duration::from_secs(10),
                        )
                        .await
                        .is_ok_and(|a| a["ok"] == json!(true)),
                    None => false,
                };
                if !ended {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                pb.inc(1);
            }
        }
    });
    futures_util::future::join_all(workers).await;
    let produced = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let errors = errors.into_inner();
    let events = 2 * args.battles;
    let live_done = wait_applied(&addrs, applied0, events).await?;
    let live_s = (live_done - started).as_secs_f64();
    let (applied1, lag1) = scrape(&addrs).await?;
    let p50 = quantile(&lag0, &lag1, 0.50).unwrap_or(f64::NAN) * 1000.0;
    let p99 = quantile(&lag0, &lag1, 0.99).unwrap_or(f64::NAN) * 1000.0;
    let mut rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        (
            "live: battles x 2 events".into(),
            format!(
                "{} x 2 = {events} in {produced:.2} s through the API ({errors} errors)",
                args.battles
            ),
        ),
        (
            "live: applied to SQL".into(),
            format!(
                "{events} by {live_s:.2} s = {:.0} events/s",
                events as f64 / live_s
            ),
        ),
        (
            "live: lag p50 / p99".into(),
            format!("{p50:.1} / {p99:.1} ms"),
        ),
    ];
    let mut j = json!({
        "scenario": "outbox", "instances": addrs.len(), "battles": args.battles,
        "concurrency": args.concurrency, "errors": errors, "events": events,
        "produce_s": produced, "live_s": live_s, "live_events_per_s": events as f64 / live_s,
        "lag_p50_ms": p50, "lag_p99_ms": p99,
    });
    // Phase 2: a queue appended straight to the streams.
    if let Some(url) = &args.redis_url {
        let shown = crate::base::config::redact_url(url);
        let endpoint = args
            .tls
            .endpoint(url)
            .map_err(|e| BenchError::Invalid(e.to_string()))?;
        let mut conn = crate::redis::command_connection(&endpoint, Duration::from_secs(10))
            .map_err(|e| BenchError::Connect(shown, e.to_string()))?;
        let now = crate::base::clock::unix_ms();
        let started = Instant::now();
        for chunk in (0..args.backlog).collect::<Vec<_>>().chunks(1000) {
            let mut pipe = redis::pipe();
            for &i in chunk {
                let hash = format!("{:032x}", (u128::from(run_id) << 64) | i as u128);
                let id = format!("{hash}-{now}-1");
                let record = json!({
                    "battleId": id, "players": [format!("bk{run_id:x}-{i}a"), format!("bk{run_id:x}-{i}b")],
                    "state": "active", "createdAt": now, "createdBy": "bench",
                });
                let p = (i as u32) % args.partitions.max(1);
                pipe.cmd("XADD")
                    .arg(format!("arena:{{b{p}}}:outbox"))
                    .arg("*")
                    .arg("event")
                    .arg("created")
                    .arg("key")
                    .arg(format!("{id}:created"))
                    .arg("record")
                    .arg(record.to_string())
                    .arg("at")
                    .arg(crate::base::clock::unix_ms())
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| BenchError::Protocol(e.to_string()))?;
        }
        let appended = started.elapsed().as_secs_f64();
        let done = wait_applied(&addrs, applied1, args.backlog).await?;
        let drain_s = (done - started).as_secs_f64();
        rows.push((
            "backlog: events appended".into(),
            format!("{} in {appended:.2} s", args.backlog),
        ));
        rows.push((
            "backlog: applied to SQL".into(),
            format!(
                "by {drain_s:.2} s = {:.0} events/s",
                args.backlog as f64 / drain_s
            ),
        ));
        j["backlog"] = json!(args.backlog);
        j["backlog_s"] = json!(drain_s);
        j["backlog_events_per_s"] = json!(args.backlog as f64 / drain_s);
    }
    let ok = errors == 0;
    j["ok"] = json!(ok);
    Ok(emit(&args.common, "arena bench outbox", rows, j, ok))
}
