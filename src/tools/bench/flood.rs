//! `arena bench flood`: hostile clients flood one instance with events while a quiet
//! client keeps asking for acks. Reports the instance's memory before, at its peak and
//! after the flood, the quiet client's ack latency and losses, and how late ticks came.
//!
//! It answers "does one client's flood hurt anyone else?": a bounded server keeps its
//! memory, answers the quiet client within milliseconds and ticks on time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::common::{BenchError, Common, Outcome, emit, progress, targets};
use super::report::{Latency, histogram};
use super::status::statuses;
use super::wire::{Packet, Wire, scan_str, scan_u64};

#[derive(Debug, Clone, Args)]
pub struct FloodArgs {
    #[command(flatten)]
    pub common: Common,
    /// Flooding sockets, all on the first --url.
    #[arg(long, default_value_t = 4)]
    pub flooders: usize,
    /// Events each flooder sends as fast as it can, asking no ack.
    #[arg(long, default_value_t = 50_000)]
    pub events: u64,
    /// The quiet client asks for an ack this often, in ms.
    #[arg(long, default_value_t = 20)]
    pub quiet_every_ms: u64,
    /// Seconds to wait after the flood before reading the memory again.
    #[arg(long, default_value_t = 5)]
    pub settle: u64,
    /// Upper bound on the flood phase, in seconds.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
}

impl FloodArgs {
    /// The bound on the whole run.
    pub fn limit(&self) -> Duration {
        Duration::from_secs(self.max_seconds + self.settle + 60)
    }
}

const MB: f64 = 1024.0 * 1024.0;

pub async fn run(args: FloodArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    let hs = super::common::Handshake::of(&args.common)?;
    if args.flooders == 0 || args.flooders > 256 || args.events == 0 {
        return Err(BenchError::Invalid(
            "--flooders must be 1..=256 and --events at least 1".into(),
        ));
    }
    let target = addrs[0].clone();
    let base = format!("http://{target}");
    let before = statuses(std::slice::from_ref(&target)).await?[0].clone();
    let tick_ms = before.tick_ms.max(1);

    // The quiet client and a tick watcher, both on the flooded instance.
    let mut quiet = Wire::connect(&base, &hs.auth("quiet")?).await?;
    quiet.join("quiet").await?;
    let (quiet_w, mut quiet_r) = quiet.split();
    let watcher = Wire::connect(&base, &hs.auth("tick-watcher")?).await?;
    let (_watch_w, mut watch_r) = watcher.split();

    // The flooders join one room, so every attack is valid and is broadcast.
    let mut flooders = Vec::new();
    for i in 0..args.flooders {
        let mut w = Wire::connect(&base, &hs.auth(&format!("flood-{i}"))?).await?;
        w.join("flood").await?;
        flooders.push(w.split());
    }

    let stop = Instant::now() + Duration::from_secs(args.max_seconds);
    // Cancelled when the flood and the drain after it are over: the observers stop then.
    let done = CancellationToken::new();
    let closed = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let mut flood_tasks = Vec::new();
    for (writer, mut reader) in flooders {
        // Drain what the room sends back, like a client that reads; count a server close
        // (one that comes before the run is over).
        let closed = closed.clone();
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = done.cancelled() => return,
                    p = reader.next_packet() => if p.is_none() { break },
                }
            }
            if !done.is_cancelled() {
                closed.fetch_add(1, Ordering::Relaxed);
            }
        });
        let sent = sent.clone();
        let n = args.events;
        flood_tasks.push(tokio::spawn(async move {
            let frame = r#"["attack",{"room":"flood","damage":1}]"#;
            for i in 0..n {
                if !writer.event(frame) || Instant::now() >= stop {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                if i % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            writer
        }));
    }

    // Ticks during the flood: how late after the boundary each one arrives.
    let tick_done = done.clone();
    let tick_task = tokio::spawn(async move {
        let mut late = histogram();
        let mut seen = 0u64;
        loop {
            let ev = tokio::select! {
                _ = tick_done.cancelled() => break,
                ev = watch_r.next_event() => match ev {
                    Some(ev) => ev,
                    None => break,
                },
            };
            if ev.starts_with(r#"["server_tick""#)
                && let Some(n) = scan_u64(&ev, "tick")
            {
                seen += 1;
                let ms = crate::base::clock::unix_ms().saturating_sub(n * tick_ms);
                late.saturating_record((ms * 1000).max(1));
            }
        }
        (seen, late)
    });

    // The quiet client: one acked attack every quiet_every_ms while the flood lasts, then
    // up to 5 s for the last acks.
    let quiet_done = done.clone();
    let every = Duration::from_millis(args.quiet_every_ms.max(1));
    let quiet_task = tokio::spawn(async move {
        let mut asked: BTreeMap<u64, Instant> = BTreeMap::new();
        let mut lat = histogram();
        let mut codes: BTreeMap<String, u64> = BTreeMap::new();
        let mut id = 0u64;
        let mut next = Instant::now();
        loop {
            let flooding = !quiet_done.is_cancelled();
            if !flooding && asked.is_empty() {
                break;
            }
            if flooding && Instant::now() >= next {
                id += 1;
                quiet_w.request(id, r#"["attack",{"room":"quiet","damage":1}]"#);
                asked.insert(id, Instant::now());
                next = Instant::now() + every;
            }
            let wait = if flooding {
                next.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            } else {
                Duration::from_secs(5)
            };
            match tokio::time::timeout(wait, quiet_r.next_packet()).await {
                Ok(Some(Packet::Ack(i, body))) => {
                    if let Some(t) = asked.remove(&i) {
                        lat.saturating_record(t.elapsed().as_micros().max(1) as u64);
                        let code = if body.contains(r#""ok":true"#) {
                            "ok".to_string()
                        } else {
                            scan_str(&body, "code").unwrap_or("error").to_string()
                        };
                        *codes.entry(code).or_default() += 1;
                    }
                }
                Ok(Some(Packet::Event(_))) => {}
                Ok(None) => break,
                Err(_) if !flooding => break,
                Err(_) => {}
            }
        }
        (id, asked.len() as u64, lat, codes)
    });

    // Memory while the flood runs: the peak of /status every 250 ms.
    let pb = progress(args.flooders as u64 * args.events, "flooding");
    let started = Instant::now();
    let mut peak = before.rss_bytes;
    let total = args.flooders as u64 * args.events;
    while Instant::now() < stop && sent.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(250)).await;
        pb.set_position(sent.load(Ordering::Relaxed));
        if let Ok(s) = statuses(std::slice::from_ref(&target)).await {
            peak = peak.max(s[0].rss_bytes);
        }
    }
    let mut writers = Vec::new();
    for t in flood_tasks {
        if let Ok(w) = t.await {
            writers.push(w);
        }
    }
    // Give the server the same time again to work off what it accepted, still sampling.
    let flood_secs = started.elapsed().as_secs_f64();
    let drain_until = Instant::now() + started.elapsed().min(Duration::from_secs(10));
    while Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Ok(s) = statuses(std::slice::from_ref(&target)).await {
            peak = peak.max(s[0].rss_bytes);
        }
    }
    pb.finish_and_clear();
    done.cancel();
    for w in &writers {
        w.close();
    }
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = statuses(std::slice::from_ref(&target)).await?[0].clone();
    let (asked, lost, lat, codes) = quiet_task
        .await
        .map_err(|e| BenchError::Protocol(format!("quiet client: {e}")))?;
    let (ticks, late) = tick_task
        .await
        .map_err(|e| BenchError::Protocol(format!("tick watcher: {e}")))?;
    let lat = Latency::of(&lat);
    let late = Latency::of(&late);
    let sent = sent.load(Ordering::Relaxed);
    let closed = closed.load(Ordering::Relaxed);
    let ok = lost == 0;
    let rows = vec![
        (
            "flooders".to_string(),
            format!("{} on {target}", args.flooders),
        ),
        (
            "events queued by the flooders".into(),
            format!(
                "{sent} in {flood_secs:.1} s ({:.0}/s)",
                sent as f64 / flood_secs.max(0.001)
            ),
        ),
        ("flooders closed by the server".into(), closed.to_string()),
        (
            "server RSS before / peak / after".into(),
            format!(
                "{:.1} / {:.1} / {:.1} MB",
                before.rss_bytes as f64 / MB,
                peak as f64 / MB,
                after.rss_bytes as f64 / MB
            ),
        ),
        (
            "quiet acks asked / lost".into(),
            format!("{asked} / {lost}"),
        ),
        ("quiet ack codes".into(), format!("{codes:?}")),
        (
            "quiet ack p50/p99/max".into(),
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                lat.p50_ms, lat.p99_ms, lat.max_ms
            ),
        ),
        (
            "ticks seen, delay p50/p99/max".into(),
            format!(
                "{ticks}, {:.1} / {:.1} / {:.1} ms after the boundary",
                late.p50_ms, late.p99_ms, late.max_ms
            ),
        ),
        (
            "verdict".into(),
            if ok {
                "every quiet ack arrived".into()
            } else {
                "FAILED: quiet acks lost".into()
            },
        ),
    ];
    let j = json!({
        "scenario": "flood", "flooders": args.flooders, "events_sent": sent,
        "flood_seconds": flood_secs, "flooders_closed": closed,
        "rss_before": before.rss_bytes, "rss_peak": peak, "rss_after": after.rss_bytes,
        "quiet_asked": asked, "quiet_lost": lost, "quiet_codes": codes, "quiet_ack": lat,
        "ticks": ticks, "tick_delay": late, "ok": ok,
    });
    Ok(emit(&args.common, "arena bench flood", rows, j, ok))
}
