//! `arena bench connections`: N idle clients; server memory per client and connect time.

use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use serde_json::json;

use super::common::{BenchError, Common, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{cpu_between, statuses};
use super::wire::Wire;

#[derive(Debug, Clone, Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Idle clients to open, spread over the instances (at most 50000).
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// How long to let the servers settle before reading their memory, in ms.
    #[arg(long, default_value_t = 2000)]
    pub settle_ms: u64,
}

pub async fn run(args: ConnectionsArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    let hs = super::common::Handshake::of(&args.common)?;
    if args.clients == 0 || args.clients > 50_000 || args.concurrency == 0 {
        return Err(BenchError::Invalid(
            "--clients must be 1..=50000 and --concurrency > 0".into(),
        ));
    }
    let before = statuses(&addrs).await?;
    let pb = progress(args.clients as u64, "connecting");
    let n = addrs.len();
    let started = Instant::now();
    let results: Vec<Result<(Wire, u64), BenchError>> = futures_util::stream::iter(0..args.clients)
        .map(|i| {
            let addr = format!("http://{}", addrs[i % n]);
            let pb = pb.clone();
            let hs = hs.clone();
            async move {
                // Signed before the clock starts: the server's handshake is measured.
                let auth = hs.auth(&format!("idle-{i}"))?;
                let t = Instant::now();
                let w = Wire::connect(&addr, &auth).await?;
                pb.inc(1);
                Ok((w, t.elapsed().as_micros() as u64))
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let connect_all_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let mut hist = histogram();
    let mut held = Vec::with_capacity(args.clients);
    for r in results {
        let (w, us) = r?;
        hist.saturating_record(us.max(1));
        // Keep reading so pings are answered and the server sees live clients.
        let (writer, mut reader) = w.split();
        tokio::spawn(async move { while reader.next_event().await.is_some() {} });
        held.push(writer);
    }
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let after = statuses(&addrs).await?;
    let mut per_instance = Vec::new();
    let mut rss_delta: i64 = 0;
    let mut counted: i64 = 0;
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let clients_here = (args.clients / n + usize::from(i < args.clients % n)) as i64;
        let delta = a.rss_bytes as i64 - b.rss_bytes as i64;
        rss_delta += delta;
        counted += a.connected_clients - b.connected_clients;
        per_instance.push(json!({
            "instance": a.instance_id, "clients": clients_here, "rss_before": b.rss_bytes,
            "rss_after": a.rss_bytes, "bytes_per_client": delta as f64 / clients_here.max(1) as f64,
        }));
    }
    for w in &held {
        w.close();
    }
    let per_client = rss_delta as f64 / args.clients as f64;
    let latency = Latency::of(&hist);
    write_plot(&args.common, || {
        plot_svg(
            &format!("connect time, {} clients", args.clients),
            &[("connect", &hist)],
        )
    })?;
    let ok = counted == args.clients as i64;
    let rows = vec![
        ("instances".to_string(), n.to_string()),
        ("clients".into(), args.clients.to_string()),
        (
            "servers count them as connected".into(),
            counted.to_string(),
        ),
        (
            "server RSS growth".into(),
            format!("{:.1} MiB", rss_delta as f64 / 1048576.0),
        ),
        (
            "server RSS per idle client".into(),
            format!("{:.0} bytes ({:.1} KiB)", per_client, per_client / 1024.0),
        ),
        (
            "connect p50/p90/p99/max".into(),
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms",
                latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms
            ),
        ),
        (
            "server CPU while connecting and settling".into(),
            format!("{:.2} s", cpu_between(&before, &after)),
        ),
        (
            "all connected in".into(),
            format!(
                "{connect_all_s:.2} s ({:.0}/s)",
                args.clients as f64 / connect_all_s
            ),
        ),
    ];
    let j = json!({
        "scenario": "connections", "instances": n, "clients": args.clients, "counted": counted,
        "rss_delta_bytes": rss_delta, "bytes_per_client": per_client, "per_instance": per_instance,
        "connect": latency, "connect_all_s": connect_all_s, "server_cpu_s": cpu_between(&before, &after),
    });
    Ok(emit(&args.common, "arena bench connections", rows, j, ok))
}
