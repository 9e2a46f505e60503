//! `arena bench fanout`: R rooms × C clients spread over the instances; one sender per
//! room emits timestamped attacks at an offered delivery rate; every member records the
//! delivery, and members on other instances than the sender record cross-instance latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

use super::common::{BenchError, Common, Outcome, Pacer, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{ServerStatus, cpu_between, statuses, with_proc_cpu};
use super::wire::{Reader, Wire, Writer, scan_u64};

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub common: Common,
    /// Rooms.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Clients per room, spread over the instances.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Offered deliveries per second (attacks/s × clients per room).
    #[arg(long, default_value_t = 5000)]
    pub rate: u64,
    /// Seconds of sending per run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Search for the highest rate with p99 under --max-p99-ms and no loss.
    #[arg(long)]
    pub find_max: bool,
    /// The p99 bound for --find-max, in ms.
    #[arg(long, default_value_t = 50.0)]
    pub max_p99_ms: f64,
    /// Upper limit of the rates --find-max tries.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_rate: u64,
    /// Instances a room's members sit on (consecutive ones from the sender's); default:
    /// all of them.
    #[arg(long)]
    pub spread: Option<usize>,
    /// Also read this Redis's `INFO` before and after each run: its CPU, publishes
    /// (PUBLISH + SPUBLISH calls, also from scripts) and bytes sent, per delivery.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Read each server's CPU from `/proc/<pid>/stat` (the pid its `/status` names) instead
    /// of the figure its `/status` reports: one method for arena and other servers alike
    /// (`scripts/bench.sh side-by-side`). The servers must run on this host.
    #[arg(long)]
    pub proc_cpu: bool,
}

/// Counters of the Redis the instances share, from `INFO` (`--redis-url`).
#[derive(Debug, Clone, Copy, Default)]
struct RedisCounters {
    cpu_s: f64,
    publishes: u64,
    output_bytes: u64,
}

impl RedisCounters {
    fn parse(info: &str) -> Self {
        let mut c = Self::default();
        for line in info.lines() {
            let Some((k, v)) = line.trim().split_once(':') else {
                continue;
            };
            match k {
                "used_cpu_sys" | "used_cpu_user" => c.cpu_s += v.parse::<f64>().unwrap_or(0.0),
                "total_net_output_bytes" => c.output_bytes = v.parse().unwrap_or(0),
                "cmdstat_publish" | "cmdstat_spublish" => {
                    c.publishes += v
                        .split(',')
                        .find_map(|f| f.strip_prefix("calls="))
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                }
                _ => {}
            }
        }
        c
    }

    async fn read(conn: &mut Option<crate::redis::Conn>) -> Result<Option<Self>, BenchError> {
        let Some(conn) = conn else { return Ok(None) };
        let info: String = redis::cmd("INFO")
            .arg("everything")
            .query_async(conn)
            .await
            .map_err(|e| BenchError::Protocol(format!("redis INFO: {e}")))?;
        Ok(Some(Self::parse(&info)))
    }
}

/// What Redis did during one run, per delivery.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RedisCost {
    pub cpu_us_per_delivery: f64,
    pub publishes_per_delivery: f64,
    pub output_bytes_per_delivery: f64,
}

impl RedisCost {
    fn between(a: RedisCounters, b: RedisCounters, delivered: u64) -> Self {
        let per = |x: f64| {
            if delivered == 0 {
                0.0
            } else {
                x / delivered as f64
            }
        };
        Self {
            cpu_us_per_delivery: per((b.cpu_s - a.cpu_s) * 1e6),
            publishes_per_delivery: per(b.publishes.saturating_sub(a.publishes) as f64),
            output_bytes_per_delivery: per(b.output_bytes.saturating_sub(a.output_bytes) as f64),
        }
    }
}

/// What one receiving connection has seen in the current step.
#[derive(Default)]
struct RecvStats {
    delivered: u64,
    all: Option<Histogram<u64>>,
    cross: Option<Histogram<u64>>,
}

struct Shared {
    base: Instant,
    generation: AtomicU64,
    delivered: AtomicU64,
    /// Connections that ended during the run (the server closed them or died).
    closed: AtomicU64,
    /// The instances' Redis (`--redis-url`), read before and after each run.
    redis: Option<crate::redis::Conn>,
}

/// The result of one run at one rate.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub rate: u64,
    pub seconds: f64,
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    pub cross: Latency,
    pub all: Latency,
    pub server_cpu_s: f64,
    pub redis: Option<RedisCost>,
    cross_hist: Histogram<u64>,
    all_hist: Histogram<u64>,
}

impl StepResult {
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }
    fn json(&self) -> serde_json::Value {
        json!({
            "rate": self.rate, "seconds": self.seconds, "sent": self.sent,
            "expected": self.expected, "delivered": self.delivered, "lost": self.lost(),
            "achieved_per_s": self.delivered as f64 / self.seconds,
            "cross": self.cross, "all": self.all,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_us_per_delivery": cpu_us_per(self.server_cpu_s, self.delivered),
            "redis": self.redis,
        })
    }
}

fn cpu_us_per(cpu_s: f64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { cpu_s * 1e6 / n as f64 }
}

struct Room {
    name: String,
    sender: Writer,
    members: usize,
}

pub async fn run(args: FanoutArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    if args.rooms == 0 || args.clients == 0 || args.duration == 0 || args.rate == 0 {
        return Err(BenchError::Invalid(
            "--rooms, --clients, --duration and --rate must be > 0".into(),
        ));
    }
    if args.rooms * args.clients > 50_000 || args.duration > 600 {
        return Err(BenchError::Invalid(
            "at most 50000 clients and 600 s per run".into(),
        ));
    }
    if args.spread.is_some_and(|k| k == 0 || k > addrs.len()) {
        return Err(BenchError::Invalid(format!(
            "--spread must be 1..={} (the instances)",
            addrs.len()
        )));
    }
    let redis = match &args.redis_url {
        Some(url) => {
            let tls = crate::redis::Tls::load(None, None)
                .map_err(|e| BenchError::Invalid(format!("--redis-url: {e}")))?;
            let endpoint = crate::redis::Endpoint::new(url.clone(), &tls);
            Some(
                crate::redis::command_connection(&endpoint, Duration::from_secs(5))
                    .map_err(|e| BenchError::Invalid(format!("--redis-url: {e}")))?,
            )
        }
        None => None,
    };
    statuses(&addrs).await?;
    let shared = Arc::new(Shared {
        base: Instant::now(),
        generation: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        redis,
    });
    let (rooms, stats) = connect_all(&args, &addrs, &shared).await?;

    let results = if args.find_max {
        find_max(&args, &addrs, &rooms, &stats, &shared).await?
    } else {
        vec![step(&args, &addrs, &rooms, &stats, &shared, args.rate, true).await?]
    };
    for r in &rooms {
        r.sender.close();
    }

    let best = if args.find_max {
        results
            .iter()
            .filter(|r| r.lost() == 0 && r.cross.p99_ms <= args.max_p99_ms)
            .max_by_key(|r| r.rate)
            .cloned()
    } else {
        results.first().cloned()
    };
    let shown = best.clone().or_else(|| results.first().cloned());
    let ok = args.find_max || results.iter().all(|r| r.lost() == 0);
    let Some(r) = &shown else {
        return Err(BenchError::Protocol("no run completed".into()));
    };
    {
        write_plot(&args.common, || {
            plot_svg(
                &format!(
                    "fanout at {} deliveries/s ({} rooms x {} clients)",
                    r.rate, args.rooms, args.clients
                ),
                &[
                    ("cross-instance", &r.cross_hist),
                    ("all deliveries", &r.all_hist),
                ],
            )
        })?;
        let mut rows = vec![
            ("instances".to_string(), addrs.len().to_string()),
            (
                "rooms x clients".into(),
                format!("{} x {}", args.rooms, args.clients),
            ),
            ("offered deliveries/s".into(), r.rate.to_string()),
            (
                "achieved deliveries/s".into(),
                format!("{:.0}", r.delivered as f64 / r.seconds),
            ),
            ("sent attacks".into(), r.sent.to_string()),
            (
                "delivered / expected".into(),
                format!("{} / {} (lost {})", r.delivered, r.expected, r.lost()),
            ),
            ("cross-instance p50/p90/p99/max".into(), lat(&r.cross)),
            ("all deliveries p50/p90/p99/max".into(), lat(&r.all)),
            ("server CPU".into(), format!("{:.2} s", r.server_cpu_s)),
            (
                "members on instances".into(),
                args.spread.unwrap_or(addrs.len()).to_string(),
            ),
            (
                "server CPU per 1000 deliveries".into(),
                format!(
                    "{:.1} ms ({:.2} µs each)",
                    cpu_us_per(r.server_cpu_s, r.delivered),
                    cpu_us_per(r.server_cpu_s, r.delivered)
                ),
            ),
        ];
        if let Some(c) = &r.redis {
            rows.push((
                "redis per delivery".into(),
                format!(
                    "{:.2} µs CPU, {:.3} publishes, {:.0} bytes sent",
                    c.cpu_us_per_delivery, c.publishes_per_delivery, c.output_bytes_per_delivery
                ),
            ));
        }
        if args.find_max {
            rows.insert(
                0,
                (
                    "max rate (p99 <= bound, no loss)".into(),
                    best.as_ref()
                        .map(|b| b.rate.to_string())
                        .unwrap_or_else(|| "none".into()),
                ),
            );
            for s in &results {
                rows.push((
                    format!("  step {}/s", s.rate),
                    format!("p99 {:.2} ms, lost {}", s.cross.p99_ms, s.lost()),
                ));
            }
        }
        let j = json!({
            "scenario": "fanout", "instances": addrs.len(), "rooms": args.rooms, "clients": args.clients,
            "spread": args.spread.unwrap_or(addrs.len()),
            "max_rate": if args.find_max { best.as_ref().map(|b| json!(b.rate)).unwrap_or(json!(null)) } else { json!(null) },
            "max_p99_ms": args.max_p99_ms,
            "cpu_from": if args.proc_cpu { "proc" } else { "status" },
            "result": r.json(),
            "steps": results.iter().map(StepResult::json).collect::<Vec<_>>(),
        });
        Ok(emit(&args.common, "arena bench fanout", rows, j, ok))
    }
}

fn lat(l: &Latency) -> String {
    format!(
        "{:.3} / {:.3} / {:.3} / {:.3} ms",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
    )
}

/// Connect every client (bounded concurrency), join the rooms, start the readers.
async fn connect_all(
    args: &FanoutArgs,
    addrs: &[String],
    shared: &Arc<Shared>,
) -> Result<(Vec<Room>, Vec<Arc<Mutex<RecvStats>>>), BenchError> {
    let hs = super::common::Handshake::of(&args.common)?;
    let run_id: u32 = rand::random();
    let total = args.rooms * args.clients;
    let pb = progress(total as u64, "connecting");
    let specs: Vec<(usize, usize)> = (0..args.rooms)
        .flat_map(|r| (0..args.clients).map(move |c| (r, c)))
        .collect();
    let n = addrs.len();
    let k = args.spread.unwrap_or(n);
    let conns: Vec<Result<(usize, usize, Wire), BenchError>> = futures_util::stream::iter(specs)
        .map(|(r, c)| {
            let addr = format!("http://{}", addrs[(r + c % k) % n]);
            let room = format!("b{run_id:08x}-{r}");
            let pb = pb.clone();
            let hs = hs.clone();
            async move {
                let mut w = Wire::connect(&addr, &hs.auth(&format!("bench-{r}-{c}"))?).await?;
                w.join(&room).await?;
                pb.inc(1);
                Ok((r, c, w))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    pb.finish_and_clear();
    let mut senders: Vec<Option<Writer>> = (0..args.rooms).map(|_| None).collect();
    let mut stats = Vec::new();
    for conn in conns {
        let (r, c, w) = conn?;
        let (writer, reader) = w.split();
        if c == 0 {
            senders[r] = Some(writer);
        }
        // Member c of room r is on instance (r + c % k) % n (k = --spread, n by default);
        // the sender (c = 0) on r % n.
        let cross = c % k != 0;
        let s = Arc::new(Mutex::new(RecvStats::default()));
        stats.push(s.clone());
        tokio::spawn(receive(reader, s, shared.clone(), cross));
    }
    let rooms = senders
        .into_iter()
        .enumerate()
        .map(|(r, s)| {
            s.map(|sender| Room {
                name: format!("b{run_id:08x}-{r}"),
                sender,
                members: args.clients,
            })
            .ok_or_else(|| BenchError::Protocol(format!("room {r} has no sender")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rooms, stats))
}

async fn receive(
    mut reader: Reader,
    stats: Arc<Mutex<RecvStats>>,
    shared: Arc<Shared>,
    cross: bool,
) {
    while let Some(ev) = reader.next_event().await {
        if !ev.starts_with(r#"["attack""#) {
            continue;
        }
        let (Some(t), Some(g)) = (scan_u64(&ev, "t"), scan_u64(&ev, "g")) else {
            continue;
        };
        if g != shared.generation.load(Ordering::Relaxed) {
            continue; // a straggler from an earlier step
        }
        let now = shared.base.elapsed().as_micros() as u64;
        let us = now.saturating_sub(t).max(1);
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        s.delivered += 1;
        s.all.get_or_insert_with(histogram).saturating_record(us);
        if cross {
            s.cross.get_or_insert_with(histogram).saturating_record(us);
        }
        drop(s);
        shared.delivered.fetch_add(1, Ordering::Relaxed);
    }
    shared.closed.fetch_add(1, Ordering::Relaxed);
}

/// The servers' figures at one moment (CPU from `/proc` with `--proc-cpu`).
async fn snapshot(args: &FanoutArgs, addrs: &[String]) -> Result<Vec<ServerStatus>, BenchError> {
    let now = statuses(addrs).await?;
    if args.proc_cpu {
        with_proc_cpu(now)
    } else {
        Ok(now)
    }
}

/// One run at `rate` deliveries/s for `--duration` seconds, then drain.
async fn step(
    args: &FanoutArgs,
    addrs: &[String],
    rooms: &[Room],
    stats: &[Arc<Mutex<RecvStats>>],
    shared: &Shared,
    rate: u64,
    show_progress: bool,
) -> Result<StepResult, BenchError> {
    let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
    shared.delivered.store(0, Ordering::SeqCst);
    for s in stats {
        *s.lock().unwrap_or_else(|e| e.into_inner()) = RecvStats::default();
    }
    let before = snapshot(args, addrs).await?;
    let mut redis = shared.redis.clone();
    let redis_before = RedisCounters::read(&mut redis).await?;
    let members = rooms.first().map(|r| r.members).unwrap_or(1) as f64;
    let attacks_per_s = rate as f64 / members;
    let duration = Duration::from_secs(args.duration);
    let pb = if show_progress {
        progress(args.duration, &format!("{rate} deliveries/s"))
    } else {
        progress(args.duration, &format!("step {rate}/s"))
    };
    let mut pacer = Pacer::new(attacks_per_s, duration);
    let mut sent: u64 = 0;
    while let Some((due, elapsed)) = pacer.due().await {
        let closed = shared.closed.load(Ordering::Relaxed);
        if closed > 0 {
            pb.finish_and_clear();
            return Err(BenchError::ConnectionsLost(closed));
        }
        while sent < due {
            let room = &rooms[(sent % rooms.len() as u64) as usize];
            let t = shared.base.elapsed().as_micros() as u64;
            room.sender.event(&format!(
                r#"["attack",{{"room":"{}","damage":1,"g":{generation},"t":{t}}}]"#,
                room.name
            ));
            sent += 1;
        }
        pb.set_position(elapsed.as_secs());
    }
    let seconds = pacer.seconds();
    let expected = sent * members as u64;
    // Drain: wait for stragglers (bounded).
    let drain_until = Instant::now() + Duration::from_secs(3);
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pb.finish_and_clear();
    let after = snapshot(args, addrs).await?;
    let redis_after = RedisCounters::read(&mut redis).await?;
    // Stop counting this step before reading the histograms.
    shared.generation.fetch_add(1, Ordering::SeqCst);
    let (mut all, mut cross, mut delivered) = (histogram(), histogram(), 0);
    for s in stats {
        let s = s.lock().unwrap_or_else(|e| e.into_inner());
        delivered += s.delivered;
        if let Some(h) = &s.all {
            let _ = all.add(h);
        }
        if let Some(h) = &s.cross {
            let _ = cross.add(h);
        }
    }
    Ok(StepResult {
        rate,
        seconds,
        sent,
        expected,
        delivered,
        cross: Latency::of(&cross),
        all: Latency::of(&all),
        server_cpu_s: cpu_between(&before, &after),
        redis: redis_before
            .zip(redis_after)
            .map(|(a, b)| RedisCost::between(a, b, delivered)),
        cross_hist: cross,
        all_hist: all,
    })
}

/// Grow the rate ×1.5 until p99 passes the bound or messages are lost, then bisect 3 times.
async fn find_max(
    args: &FanoutArgs,
    addrs: &[String],
    rooms: &[Room],
    stats: &[Arc<Mutex<RecvStats>>],
    shared: &Shared,
) -> Result<Vec<StepResult>, BenchError> {
    let mut results = Vec::new();
    // One step at `rate`: Some(within bound), or None when the search must stop because
    // overload made clients miss pings and the servers dropped them.
    let probe =
        async |rate: u64, results: &mut Vec<StepResult>| -> Result<Option<bool>, BenchError> {
            let r = match step(args, addrs, rooms, stats, shared, rate, false).await {
                Ok(r) => r,
                Err(BenchError::ConnectionsLost(n)) => {
                    eprintln!("  {rate:>8}/s  {n} connection(s) lost: over capacity");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let ok = r.lost() == 0 && r.cross.p99_ms <= args.max_p99_ms;
            eprintln!(
                "  {rate:>8}/s  p99 {:>8.2} ms  lost {:>6}  {}",
                r.cross.p99_ms,
                r.lost(),
                if ok { "ok" } else { "over" }
            );
            results.push(r);
            Ok(Some(ok))
        };
    let mut rate = args.rate;
    let (mut lo, mut hi) = (0u64, None);
    while rate <= args.max_rate {
        match probe(rate, &mut results).await? {
            None => return Ok(results),
            Some(true) => lo = rate,
            Some(false) => {
                hi = Some(rate);
                break;
            }
        }
        rate = rate * 3 / 2;
    }
    if let Some(mut hi) = hi {
        for _ in 0..3 {
            let mid = (lo + hi) / 2;
            if mid <= lo || hi - lo < hi / 20 {
                break;
            }
            match probe(mid, &mut results).await? {
                None => break,
                Some(true) => lo = mid,
                Some(false) => hi = mid,
            }
        }
    }
    Ok(results)
}
