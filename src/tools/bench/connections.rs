//! `arena bench connections`: N idle clients; server memory per client and connect time.
//!
//! Up to 200k clients from this one process: over loopback they come from several
//! 127.0.0.x source addresses (one source reaches one server port from ~28k ephemeral
//! ports), the open-files limit is raised by the tool itself, and `--rss-plot` draws the
//! servers' RSS against the clients connected so far.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use serde_json::json;

use super::common::{BenchError, Common, Handshake, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{cpu_between, statuses};
use super::wire::{Wire, Writer as WireWriter};
use indicatif::ProgressBar;

#[derive(Debug, Clone, Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Idle clients to open, spread over the instances (at most 200000).
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// New connections per second at most (0: as fast as `--concurrency` allows).
    #[arg(long, default_value_t = 0)]
    pub connect_rate: u32,
    /// Local 127.0.0.x addresses to connect from (0: enough for at most 20000 clients per
    /// source and server; loopback servers only).
    #[arg(long, default_value_t = 0)]
    pub sources: u8,
    /// Write an SVG plot of the servers' RSS against the clients connected so far here
    /// (20 steps, each measured after a short settle).
    #[arg(long)]
    pub rss_plot: Option<std::path::PathBuf>,
    /// Clients per client process (0: as many as its open-files limit allows); more
    /// clients than that are opened by several processes of this tool.
    #[arg(long, default_value_t = 0)]
    pub per_process: usize,
    /// Internal: run as one of several client processes (when one process may not open
    /// enough files), opening clients `first_index..first_index + clients`.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Internal: the index of this worker's first client.
    #[arg(long, hide = true, default_value_t = 0)]
    pub first_index: usize,
    /// How long to let the servers settle before reading their memory, in ms.
    #[arg(long, default_value_t = 2000)]
    pub settle_ms: u64,
}

/// The most clients one run opens.
const MAX_CLIENTS: usize = 200_000;
/// Open files beyond one per client: the runtime, the status requests, stdio.
const FDS_SPARE: u64 = 512;
/// Clients per (source address, server) pair: below the ~28k ephemeral ports of Linux's
/// default range, with room for connections in TIME_WAIT.
const PER_SOURCE: usize = 20_000;
/// Client processes at most (each holds up to its open-files limit of clients).
const MAX_PROCESSES: usize = 64;
/// Fewer clients per process than this: the limit is too low to be worth splitting.
const MIN_PER_PROCESS: usize = 1000;
/// Points of `--rss-plot`.
const RSS_STEPS: usize = 20;
/// Settle between two points of `--rss-plot` (at most `--settle-ms`).
const STEP_SETTLE: Duration = Duration::from_millis(500);

/// The source addresses to connect from: none (the system's choice) when one address is
/// enough, otherwise 127.0.0.1, 127.0.0.2, ... (loopback servers only).
fn sources(args: &ConnectionsArgs, addrs: &[String]) -> Result<Vec<IpAddr>, BenchError> {
    let per_server = args.clients.div_ceil(addrs.len().max(1));
    let wanted = match args.sources {
        0 => per_server.div_ceil(PER_SOURCE),
        k => usize::from(k),
    };
    if wanted <= 1 && args.sources == 0 {
        return Ok(Vec::new());
    }
    let loopback = addrs.iter().all(|a| {
        std::net::ToSocketAddrs::to_socket_addrs(a.as_str())
            .map(|mut it| it.all(|s| s.ip().is_loopback() && s.is_ipv4()))
            .unwrap_or(false)
    });
    if !loopback {
        return Err(BenchError::Invalid(format!(
            "{per_server} clients per server need several source addresses, which this tool \
             only has over IPv4 loopback; open fewer clients or run a bench per client machine"
        )));
    }
    if wanted > 250 {
        return Err(BenchError::Invalid(
            "--sources: at most 250 (127.0.0.1 to 127.0.0.250)".into(),
        ));
    }
    Ok((1..=wanted)
        .map(|k| IpAddr::V4(Ipv4Addr::new(127, 0, 0, k as u8)))
        .collect())
}

/// An SVG line of the servers' RSS (MiB) against the clients connected so far.
fn rss_plot_svg(points: &[(usize, u64)]) -> String {
    use std::fmt::Write as _;
    let (w, h, pad) = (720.0, 420.0, 64.0);
    let xmax = points.iter().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let ymax = points.iter().map(|p| mib(p.1)).fold(1.0_f64, f64::max) * 1.1;
    let px = |x: f64| pad + x / xmax * (w - 2.0 * pad);
    let py = |y: f64| h - pad - y / ymax * (h - 2.0 * pad);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">server RSS by idle clients</text>
<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="black"/>
"#,
        w / 2.0,
        h - pad,
        w - pad,
        h - pad,
        h - pad
    );
    for i in 0..=4 {
        let (x, y) = (xmax * i as f64 / 4.0, ymax * i as f64 / 4.0);
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle">{x:.0}</text><line x1="{pad}" y1="{5}" x2="{2}" y2="{5}" stroke="#eee"/><text x="{3}" y="{4}" text-anchor="end">{y:.0}</text>"##,
            px(x),
            h - pad + 18.0,
            w - pad,
            pad - 6.0,
            py(y) + 4.0,
            py(y),
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{0}" transform="rotate(-90 16 {0})">RSS, all servers (MiB)</text><text x="{1}" y="{2}" text-anchor="middle">idle clients</text>"#,
        h / 2.0,
        w / 2.0,
        h - 12.0
    );
    let line: Vec<String> = points
        .iter()
        .map(|&(c, r)| format!("{:.1},{:.1}", px(c as f64), py(mib(r))))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#6d28d9" stroke-width="2" points="{}"/>"##,
        line.join(" ")
    );
    s.push_str("</svg>\n");
    s
}

/// Open clients `range` in this process (paced by `--connect-rate` from `started`); each
/// with its connect time in µs. A reader task per client answers pings from the moment
/// it is connected.
async fn open(
    args: &ConnectionsArgs,
    addrs: &[String],
    sources: &[IpAddr],
    hs: &Handshake,
    range: std::ops::Range<usize>,
    started: Instant,
    pb: &ProgressBar,
) -> Result<Vec<(WireWriter, u64)>, BenchError> {
    let n = addrs.len();
    let results: Vec<Result<(WireWriter, u64), BenchError>> = futures_util::stream::iter(range)
        .map(|i| {
            let addr = format!("http://{}", addrs[i % n]);
            // Clients of one server take the sources in turn.
            let source = (!sources.is_empty()).then(|| sources[(i / n) % sources.len()]);
            let pb = pb.clone();
            let hs = hs.clone();
            let due = (args.connect_rate > 0).then(|| {
                started + Duration::from_secs_f64(i as f64 / f64::from(args.connect_rate))
            });
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                // Signed before the clock starts: the server's handshake is measured.
                let auth = hs.auth(&format!("idle-{i}"))?;
                let t = Instant::now();
                let w = Wire::connect_from(&addr, &auth, source).await?;
                let us = t.elapsed().as_micros() as u64;
                // Read from the start, so pings are answered while the other clients are
                // still connecting (a long connect phase outlasts the heartbeat timeout).
                let (writer, mut reader) = w.split();
                tokio::spawn(async move { while reader.next_event().await.is_some() {} });
                pb.inc(1);
                Ok((writer, us))
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// A worker process: open its clients, print their connect times as one JSON line, hold
/// them until stdin closes.
async fn work(
    args: &ConnectionsArgs,
    addrs: &[String],
    sources: &[IpAddr],
    hs: &Handshake,
) -> Result<Outcome, BenchError> {
    use tokio::io::AsyncReadExt;
    let range = args.first_index..args.first_index + args.clients;
    let held = open(
        args,
        addrs,
        sources,
        hs,
        range,
        Instant::now(),
        &ProgressBar::hidden(),
    )
    .await?;
    let latencies: Vec<u64> = held.iter().map(|(_, us)| *us).collect();
    println!("{}", json!({ "latencies_us": latencies }));
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    for (w, _) in &held {
        w.close();
    }
    Ok(Outcome {
        ok: true,
        report: json!({ "worker": true, "clients": held.len() }),
    })
}

/// Start `processes` workers sharing the clients; follow the servers' counts and RSS
/// (progress bar, `--rss-plot` points) until every worker has reported; the workers and
/// every connect time.
async fn spawn_workers(
    args: &ConnectionsArgs,
    addrs: &[String],
    sources: &[IpAddr],
    processes: usize,
    before: &[super::status::ServerStatus],
    rss_points: &mut Vec<(usize, u64)>,
    pb: &ProgressBar,
) -> Result<(Vec<tokio::process::Child>, Vec<u64>), BenchError> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let exe = std::env::current_exe().map_err(|e| BenchError::Invalid(e.to_string()))?;
    let urls: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    let counted_before: i64 = before.iter().map(|b| b.connected_clients).sum();
    let mut children = Vec::new();
    let mut lines = futures_util::stream::FuturesUnordered::new();
    for k in 0..processes {
        let (from, to) = (
            args.clients * k / processes,
            args.clients * (k + 1) / processes,
        );
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(["bench", "connections", "--worker", "--json", "--url"])
            .arg(urls.join(","))
            .args(["--clients", &(to - from).to_string()])
            .args(["--first-index", &from.to_string()])
            .args([
                "--concurrency",
                &args.concurrency.div_ceil(processes).to_string(),
            ])
            .args([
                "--connect-rate",
                &args.connect_rate.div_ceil(processes as u32).to_string(),
            ])
            .args(["--sources", &sources.len().to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        if args.common.allow_remote {
            cmd.arg("--allow-remote");
        }
        match &args.common.token_secret {
            Some(s) => cmd.env("ARENA_TOKEN_SECRET", s),
            None => cmd.env_remove("ARENA_TOKEN_SECRET"),
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| BenchError::Invalid(format!("cannot start a client process: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Invalid("a client process has no stdout".into()))?;
        lines.push(async move { BufReader::new(stdout).lines().next_line().await });
        children.push(child);
    }
    let mut latencies = Vec::with_capacity(args.clients);
    let mut sample = tokio::time::interval(STEP_SETTLE);
    while !lines.is_empty() {
        tokio::select! {
            line = lines.next() => {
                let line = line.and_then(|l| l.ok().flatten()).ok_or_else(|| {
                    BenchError::Protocol("a client process ended before its clients connected (its error is above)".into())
                })?;
                let report: serde_json::Value = serde_json::from_str(&line)
                    .map_err(|e| BenchError::Protocol(format!("client process said {line:?}: {e}")))?;
                let times = report["latencies_us"].as_array().ok_or_else(|| {
                    BenchError::Protocol(format!("client process said {line:?}"))
                })?;
                latencies.extend(times.iter().filter_map(serde_json::Value::as_u64));
            }
            _ = sample.tick() => {
                let now = statuses(addrs).await?;
                let connected: i64 = now.iter().map(|s| s.connected_clients).sum::<i64>() - counted_before;
                pb.set_position(connected.max(0) as u64);
                rss_points.push((connected.max(0) as usize, now.iter().map(|s| s.rss_bytes).sum()));
            }
        }
    }
    Ok((children, latencies))
}

pub async fn run(args: ConnectionsArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    let hs = super::common::Handshake::of(&args.common)?;
    if args.clients == 0 || args.clients > MAX_CLIENTS || args.concurrency == 0 {
        return Err(BenchError::Invalid(format!(
            "--clients must be 1..={MAX_CLIENTS} and --concurrency > 0"
        )));
    }
    let n = addrs.len();
    let sources = sources(&args, &addrs)?;
    let fd_limit = crate::base::process::raise_fd_limit();
    if args.worker {
        return work(&args, &addrs, &sources, &hs).await;
    }
    // One process holds one file per client; past its limit, several do.
    let by_limit = fd_limit.saturating_sub(FDS_SPARE) as usize;
    if by_limit < MIN_PER_PROCESS.min(args.clients) {
        return Err(BenchError::Invalid(format!(
            "this process may open {fd_limit} files: raise the limit (`ulimit -n`)"
        )));
    }
    let per_process = match args.per_process {
        0 => by_limit,
        k => k.min(by_limit),
    };
    let processes = args.clients.div_ceil(per_process);
    if processes > MAX_PROCESSES {
        return Err(BenchError::Invalid(format!(
            "--clients {} needs {processes} client processes of {per_process} files each \
             (the open-files limit is {fd_limit}); raise the limit (`ulimit -Hn` as root)",
            args.clients
        )));
    }
    let before = statuses(&addrs).await?;
    let pb = progress(args.clients as u64, "connecting");
    let started = Instant::now();
    let mut rss_points = vec![(0usize, before.iter().map(|b| b.rss_bytes).sum::<u64>())];
    let mut hist = histogram();
    let mut held = Vec::new();
    let mut workers = Vec::new();
    if processes == 1 {
        let steps = if args.rss_plot.is_some() {
            RSS_STEPS
        } else {
            1
        };
        let mut opened = 0;
        for step in 1..=steps {
            let upto = args.clients * step / steps;
            for (w, us) in open(&args, &addrs, &sources, &hs, opened..upto, started, &pb).await? {
                hist.saturating_record(us.max(1));
                held.push(w);
            }
            opened = upto;
            if step < steps {
                tokio::time::sleep(STEP_SETTLE.min(Duration::from_millis(args.settle_ms))).await;
                let now = statuses(&addrs).await?;
                rss_points.push((opened, now.iter().map(|s| s.rss_bytes).sum()));
            }
        }
    } else {
        let (spawned, latencies) = spawn_workers(
            &args,
            &addrs,
            &sources,
            processes,
            &before,
            &mut rss_points,
            &pb,
        )
        .await?;
        workers = spawned;
        for us in latencies {
            hist.saturating_record(us.max(1));
        }
    }
    let connect_all_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let after = statuses(&addrs).await?;
    rss_points.push((args.clients, after.iter().map(|a| a.rss_bytes).sum()));
    if let Some(p) = &args.rss_plot {
        std::fs::write(p, rss_plot_svg(&rss_points))
            .map_err(|e| BenchError::Write(p.display().to_string(), e))?;
    }
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
    // A worker closes its clients and exits when its stdin closes.
    for mut child in workers {
        drop(child.stdin.take());
        let _ = child.wait().await;
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
        "sources": sources.len().max(1), "processes": processes,
        "rss_points": rss_points.iter().map(|(c, r)| json!({"clients": c, "rss_bytes": r})).collect::<Vec<_>>(),
    });
    Ok(emit(&args.common, "arena bench connections", rows, j, ok))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::bench::Common;

    fn args(clients: usize, sources: u8) -> ConnectionsArgs {
        ConnectionsArgs {
            common: Common {
                url: Vec::new(),
                allow_remote: false,
                json: true,
                plot: None,
                token_secret: None,
            },
            clients,
            concurrency: 100,
            connect_rate: 0,
            sources,
            rss_plot: None,
            per_process: 0,
            worker: false,
            first_index: 0,
            settle_ms: 0,
        }
    }

    #[test]
    fn enough_sources_for_the_clients_per_server() {
        let two = ["127.0.0.1:3000".to_string(), "127.0.0.1:3001".to_string()];
        assert!(sources(&args(10_000, 0), &two).unwrap().is_empty());
        let many = sources(&args(100_000, 0), &two).unwrap();
        assert_eq!(many.len(), 3, "{many:?}");
        assert_eq!(many[2], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
        assert_eq!(sources(&args(10, 4), &two).unwrap().len(), 4);
        let remote = ["192.0.2.1:3000".to_string()];
        assert!(sources(&args(50_000, 0), &remote).is_err());
        assert!(sources(&args(10_000, 0), &remote).unwrap().is_empty());
    }

    #[test]
    fn the_rss_plot_is_an_svg_line() {
        let svg = rss_plot_svg(&[(0, 10 << 20), (500, 20 << 20), (1000, 30 << 20)]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("polyline"));
    }
}
