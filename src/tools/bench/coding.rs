//! `arena bench coding`: coding battles end to end. `2 x --battles` players over the
//! first `--instances` URLs are paired (`start_battle` of the `a-plus-b` problem, or
//! `queue_battle` with `--pairing queue`), and every player submits a Python solution every
//! `--submit-every` (`--correct-percent` of them the problem's reference, the rest wrong)
//! for `--duration`. A 1v1 battle ends at its first all-AC submission; its pair then starts
//! (or queues for) the next one, so the load stays up for the whole run.
//!
//! It measures, per submission, submit -> its first `submission_update` (the judge took the
//! job and finished a test) and submit -> its `submission_result`, as HdrHistograms; the
//! servers' CPU (`/status`), the host's CPU (`/proc/stat`; the bench is loopback-only, so
//! the judge, its sandboxes and Redis run here too) and the bench's own; with `--judge-url`
//! also the judge's queue depth (sampled every 500 ms) and its time per job, from which the
//! mean queue wait is estimated. The report names what saturated first: the judge (its
//! breaker opened, so the servers refused submits `judge_unavailable`; or jobs waited
//! for a free worker), the host's CPU, or nothing at this load.
//!
//! An event that arrives while its player's client waits for an ack is timed when the ack
//! is in (a client reads its events one at a time): the error is at most one ack's
//! latency, a few ms against judge times of tens of ms and more.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::common::{BenchError, Common, Handshake, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{cpu_between, statuses};
use crate::services::problems::{Bank, Language};
use crate::tools::client::Client;
use crate::tools::http_client::http_get;

/// The problem of `--pairing start` battles.
const PROBLEM: &str = "a-plus-b";
/// A wrong answer for any problem whose bank has no wrong Python solution: it reads the
/// input and prints the wrong thing (WA at the first test whose answer is not 0).
const WRONG_PYTHON: &str = "import sys\nsys.stdin.read()\nprint(0)\n";
/// How long an ack may take before the call counts as an error.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// After `--duration`, how long the run waits for the results still being judged.
const DRAIN: Duration = Duration::from_secs(30);

/// How pairs are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pairing {
    /// `start_battle {players, problemId: a-plus-b}` by one player of each fixed pair.
    Start,
    /// `queue_battle {difficulty: easy}` by every player (the problem is any easy one).
    Queue,
}

#[derive(Debug, Clone, Args)]
pub struct CodingArgs {
    #[command(flatten)]
    pub common: Common,
    /// 1v1 battles running at once (2 players each; at most 2500).
    #[arg(long, default_value_t = 50)]
    pub battles: usize,
    /// Spread the players over the first N of --url (default: all of them).
    #[arg(long)]
    pub instances: Option<usize>,
    /// Each player submits this often (`3s`, `500ms`).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub submit_every: Duration,
    /// How long players submit (`60s`, or seconds); then the run waits up to 30 s for the
    /// results still being judged.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Percent of submissions that are the problem's reference solution (the rest are
    /// wrong); each correct one ends its battle and the pair starts another.
    #[arg(long, default_value_t = 20)]
    pub correct_percent: u8,
    /// How pairs are made.
    #[arg(long, value_enum, default_value_t = Pairing::Start)]
    pub pairing: Pairing,
    /// A judge's HTTP base URL (`arena judge --port P`): its queue depth and time per job.
    #[arg(long)]
    pub judge_url: Option<String>,
}

impl CodingArgs {
    /// The run's bound: the submitting time, the drain, and room for connecting.
    pub fn limit(&self) -> Duration {
        self.duration + DRAIN + Duration::from_secs(120)
    }
}

/// `3s`, `500ms`, `1m` (humantime), or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// Figures every player adds to.
struct Tally {
    first_update: Histogram<u64>,
    result: Histogram<u64>,
    submitted: u64,
    results: u64,
    verdicts: HashMap<String, u64>,
    refused: HashMap<String, u64>,
    battles: HashSet<String>,
    ack_errors: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            first_update: histogram(),
            result: histogram(),
            submitted: 0,
            results: 0,
            verdicts: HashMap::new(),
            refused: HashMap::new(),
            battles: HashSet::new(),
            ack_errors: 0,
        }
    }
}

/// Solutions of the problems a battle may have: (correct, wrong) Python sources.
struct Solutions(HashMap<String, (String, String)>);

impl Solutions {
    fn of(bank: &Bank) -> Self {
        let mut m = HashMap::new();
        for p in bank.list() {
            let Some(correct) = p.reference.get(&Language::Python) else {
                continue;
            };
            let wrong = p
                .wrong
                .iter()
                .find(|w| w.language == Language::Python)
                .map(|w| w.source.clone())
                .unwrap_or_else(|| WRONG_PYTHON.to_string());
            m.insert(p.id.clone(), (correct.clone(), wrong));
        }
        Self(m)
    }
}

/// One player's battle as they know it.
struct Current {
    battle_id: String,
    problem_id: String,
    starts_at_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// A player's part: answer `battle_started`/`battle_ended`, submit on its schedule, time
/// its own submissions' events.
struct Player {
    me: String,
    partner: String,
    /// Starts the pair's battles (`--pairing start`); the other waits for `battle_started`.
    leader: bool,
    client: Client,
    args: CodingArgs,
    solutions: Arc<Solutions>,
    tally: Arc<Mutex<Tally>>,
    submitting: Arc<AtomicBool>,
}

impl Player {
    /// Ask for a battle: the leader starts the pair's, everyone queues with `--pairing queue`.
    async fn ask_for_battle(&self) -> Result<(), String> {
        let (event, payload) = match self.args.pairing {
            Pairing::Start if !self.leader => return Ok(()),
            Pairing::Start => (
                "start_battle",
                json!({"players": [self.me, self.partner], "problemId": PROBLEM,
                       "durationS": (self.args.duration.as_secs() + 60).clamp(30, 7200)}),
            ),
            Pairing::Queue => ("queue_battle", json!({"difficulty": "easy"})),
        };
        match self.client.emit_with_ack(event, &payload, ACK_WAIT).await {
            Ok(a) if a["ok"] == json!(true) => Ok(()),
            Ok(a) => Err(format!("{event}: {a}")),
            Err(e) => Err(format!("{event}: {e}")),
        }
    }

    async fn run(mut self) -> Result<(), String> {
        let every = self.args.submit_every;
        // Players' first submissions are spread over one interval, not all at once.
        let offset = every.mul_f64(rand::random::<f64>());
        let mut next_submit = Instant::now() + offset;
        let mut current: Option<Current> = None;
        let mut pending: HashMap<String, (Instant, bool)> = HashMap::new();
        let mut n = 0u64;
        self.ask_for_battle().await?;
        loop {
            let submitting = self.submitting.load(Ordering::Relaxed);
            if !submitting && pending.is_empty() {
                return Ok(());
            }
            let wait = if submitting {
                next_submit.saturating_duration_since(Instant::now())
            } else {
                Duration::from_millis(200)
            };
            match self.client.next_any(wait).await {
                Ok((name, ev)) => {
                    self.on_event(&name, &ev, &mut current, &mut pending)
                        .await?
                }
                Err(crate::tools::client::ClientError::Timeout(_)) => {}
                Err(e) => return Err(format!("{}: {e}", self.me)),
            }
            if submitting && Instant::now() >= next_submit {
                next_submit += every;
                let Some(c) = &current else { continue };
                if now_ms() < c.starts_at_ms {
                    continue; // still counting down
                }
                n += 1;
                self.submit(c, n, &mut pending).await;
            }
        }
    }

    async fn submit(&self, c: &Current, n: u64, pending: &mut HashMap<String, (Instant, bool)>) {
        let correct = rand::random::<u8>() % 100 < self.args.correct_percent;
        let source = match self.solutions.0.get(&c.problem_id) {
            Some((good, bad)) => {
                if correct {
                    good.as_str()
                } else {
                    bad.as_str()
                }
            }
            None => WRONG_PYTHON,
        };
        let payload = json!({"battleId": c.battle_id, "language": "python", "source": source,
                             "key": format!("{}-{n}", self.me)});
        let t0 = Instant::now();
        let ack = self
            .client
            .emit_with_ack("submit", &payload, ACK_WAIT)
            .await;
        let mut t = self.tally.lock().await;
        match ack {
            Ok(a) if a["ok"] == json!(true) => {
                if let Some(id) = a["submissionId"].as_str() {
                    t.submitted += 1;
                    pending.insert(id.to_string(), (t0, false));
                } else {
                    t.ack_errors += 1;
                }
            }
            Ok(a) => {
                let code = a["error"]["code"]
                    .as_str()
                    .unwrap_or("malformed")
                    .to_string();
                *t.refused.entry(code).or_default() += 1;
            }
            Err(_) => t.ack_errors += 1,
        }
    }

    async fn on_event(
        &mut self,
        name: &str,
        ev: &Value,
        current: &mut Option<Current>,
        pending: &mut HashMap<String, (Instant, bool)>,
    ) -> Result<(), String> {
        match name {
            "battle_started" => {
                let mine = ev["players"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p.as_str() == Some(self.me.as_str())));
                if !mine {
                    return Ok(());
                }
                let battle_id = ev["battleId"].as_str().unwrap_or_default().to_string();
                self.tally.lock().await.battles.insert(battle_id.clone());
                *current = Some(Current {
                    battle_id,
                    problem_id: ev["problem"]["id"].as_str().unwrap_or(PROBLEM).to_string(),
                    starts_at_ms: ev["startsAt"].as_u64().unwrap_or(0),
                });
            }
            "battle_ended" => {
                let ended = ev["battleId"].as_str();
                if current
                    .as_ref()
                    .is_some_and(|c| Some(c.battle_id.as_str()) == ended)
                {
                    *current = None;
                    if self.submitting.load(Ordering::Relaxed) {
                        self.ask_for_battle().await?;
                    }
                }
            }
            "submission_update" => {
                if let Some((t0, seen)) = ev["submissionId"]
                    .as_str()
                    .and_then(|id| pending.get_mut(id))
                    && !*seen
                {
                    *seen = true;
                    let took = micros(t0.elapsed());
                    self.tally.lock().await.first_update.saturating_record(took);
                }
            }
            "submission_result" => {
                if let Some((t0, _)) = ev["submissionId"]
                    .as_str()
                    .and_then(|id| pending.remove(id))
                {
                    let took = micros(t0.elapsed());
                    let verdict = ev["verdict"].as_str().unwrap_or("?").to_string();
                    let mut t = self.tally.lock().await;
                    t.result.saturating_record(took);
                    t.results += 1;
                    *t.verdicts.entry(verdict).or_default() += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What the judge's `/metrics` says: queue depth, jobs finished, seconds spent on them,
/// its own process CPU.
#[derive(Debug, Clone, Copy, Default)]
struct JudgeScrape {
    depth: f64,
    jobs: f64,
    busy_s: f64,
    cpu_s: f64,
}

async fn scrape_judge(addr: &str) -> Result<JudgeScrape, BenchError> {
    let (_, body) = http_get(addr, "/metrics")
        .await
        .map_err(|e| BenchError::Status(addr.to_string(), e.to_string()))?;
    let mut s = JudgeScrape::default();
    for line in body.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        if series.starts_with("arena_queue_depth{") && series.contains("queue=\"judge\"") {
            s.depth = v;
        } else if series.starts_with("arena_judge_jobs_total{") {
            s.jobs += v;
        } else if series.starts_with("arena_judge_duration_seconds_sum{")
            && series.contains("phase=\"total\"")
        {
            s.busy_s += v;
        } else if series == "process_cpu_seconds_total" {
            s.cpu_s = v;
        }
    }
    Ok(s)
}

/// Busy and total jiffies of the host (first line of `/proc/stat`); `None` off Linux.
fn host_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?; // idle + iowait
    Some((total - idle, total))
}

/// CPU seconds this process used so far.
fn own_cpu_s() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0)
}

pub async fn run(args: CodingArgs) -> Result<Outcome, BenchError> {
    let mut addrs = targets(&args.common)?;
    let n = args.instances.unwrap_or(addrs.len());
    if n == 0 || n > addrs.len() {
        return Err(BenchError::Invalid(format!(
            "--instances {n}: give 1..={} (the number of --url)",
            addrs.len()
        )));
    }
    addrs.truncate(n);
    if args.battles == 0 || args.battles > 2500 {
        return Err(BenchError::Invalid("--battles must be 1..=2500".into()));
    }
    if args.correct_percent > 100 {
        return Err(BenchError::Invalid(
            "--correct-percent must be 0..=100".into(),
        ));
    }
    if args.submit_every < Duration::from_millis(100) || args.duration.is_zero() {
        return Err(BenchError::Invalid(
            "--submit-every must be at least 100ms and --duration above 0".into(),
        ));
    }
    let judge = match &args.judge_url {
        Some(u) => {
            let mut c = args.common.clone();
            c.url = vec![u.clone()];
            targets(&c)?.pop()
        }
        None => None,
    };
    let bank = Bank::embedded().map_err(|e| BenchError::Invalid(e.to_string()))?;
    let solutions = Arc::new(Solutions::of(&bank));
    let handshake = Handshake::of(&args.common)?;
    let run_id: u32 = rand::random();

    let players = args.battles * 2;
    let mut clients = Vec::with_capacity(players);
    let connecting = progress(players as u64, "connecting");
    for i in 0..players {
        let url = format!("http://{}", addrs[i % addrs.len()]);
        let auth: Value = serde_json::from_str(&handshake.auth(&format!("cb{run_id:x}-{i}"))?)
            .map_err(|e| BenchError::Protocol(e.to_string()))?;
        let c = Client::connect(&url, auth)
            .await
            .map_err(|e| BenchError::Connect(url, e.to_string()))?;
        clients.push(c);
        connecting.inc(1);
    }
    connecting.finish_and_clear();

    let before = statuses(&addrs).await?;
    let judge_before = match &judge {
        Some(j) => Some(scrape_judge(j).await?),
        None => None,
    };
    let host_before = host_cpu();
    let own_before = own_cpu_s();
    let tally = Arc::new(Mutex::new(Tally::new()));
    let submitting = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        // Players 2k and 2k+1 are a pair; the pair's two sockets sit on different
        // instances whenever there are two or more.
        let pair = i / 2;
        let player = Player {
            me: format!("cb{run_id:x}-{i}"),
            partner: format!("cb{run_id:x}-{}", pair * 2 + (1 - i % 2)),
            leader: i % 2 == 0,
            client,
            args: args.clone(),
            solutions: solutions.clone(),
            tally: tally.clone(),
            submitting: submitting.clone(),
        };
        tasks.push(tokio::spawn(player.run()));
    }

    // Sample the judge's queue while players submit.
    let secs = args.duration.as_secs().max(1);
    let pb = progress(secs, "submitting (s)");
    let mut depths = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while started.elapsed() < args.duration {
        tick.tick().await;
        if let Some(j) = &judge
            && let Ok(s) = scrape_judge(j).await
        {
            depths.push(s.depth);
        }
        pb.set_position(started.elapsed().as_secs().min(secs));
    }
    pb.finish_and_clear();
    let submit_seconds = started.elapsed().as_secs_f64();
    submitting.store(false, Ordering::Relaxed);
    let drained = tokio::time::timeout(DRAIN, futures_util::future::join_all(tasks)).await;
    let mut player_errors = Vec::new();
    match drained {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => player_errors.push(e),
                    Err(e) => player_errors.push(e.to_string()),
                }
            }
        }
        Err(_) => player_errors.push(format!("results still missing after {DRAIN:?}")),
    }
    let wall = started.elapsed().as_secs_f64();
    let after = statuses(&addrs).await?;
    let server_cpu = cpu_between(&before, &after);
    let own_cpu = own_cpu_s() - own_before;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let host = match (host_before, host_cpu()) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            // Jiffies: USER_HZ = 100 on every Linux arena runs on.
            Some((
                (b1 - b0) as f64 / 100.0,
                (b1 - b0) as f64 / (t1 - t0) as f64,
            ))
        }
        _ => None,
    };
    let judge_delta = match (&judge, judge_before) {
        (Some(j), Some(b)) => scrape_judge(j).await.ok().map(|a| JudgeScrape {
            depth: a.depth,
            jobs: a.jobs - b.jobs,
            busy_s: a.busy_s - b.busy_s,
            cpu_s: a.cpu_s - b.cpu_s,
        }),
        _ => None,
    };

    let t = tally.lock().await;
    let first = Latency::of(&t.first_update);
    let result = Latency::of(&t.result);
    let mean_result_s = if t.result.is_empty() {
        0.0
    } else {
        t.result.mean() / 1e6
    };
    let job_s = judge_delta
        .filter(|j| j.jobs > 0.0)
        .map(|j| j.busy_s / j.jobs);
    // Submit -> result is the queue wait plus the judging plus the delivery; the judge
    // measures its part, so the rest estimates the wait (delivery is ms).
    let queue_wait_s = job_s.map(|j| (mean_result_s - j).max(0.0));
    depths.sort_by(f64::total_cmp);
    let depth_p50 = depths.get(depths.len() / 2).copied();
    let depth_max = depths.last().copied();
    let breaker = t.refused.get("judge_unavailable").copied().unwrap_or(0);
    let internal = t.verdicts.get("IE").copied().unwrap_or(0);
    let saturation = match (depth_p50, host) {
        // The servers refuse submits while the judge breaker is open (the queue wait went
        // over its bound, or jobs timed out): the judge is what gave way.
        _ if breaker > 0 => format!(
            "the judge: its breaker opened ({breaker} submits refused judge_unavailable, {internal} judged IE), battles paused"
        ),
        (Some(d), _) if d >= 1.0 => format!(
            "the judge: jobs waited for a free worker in most samples (queue depth median {d:.0}, max {:.0})",
            depth_max.unwrap_or(d)
        ),
        (_, Some((_, util))) if util >= 0.9 => format!(
            "the host's CPU ({:.0}% busy): servers {:.0}%, bench {:.0}%, the rest (judge, sandboxes, Redis, anything else on the host) {:.0}%",
            util * 100.0,
            100.0 * server_cpu / (wall * cores),
            100.0 * own_cpu / (wall * cores),
            100.0 * (util - (server_cpu + own_cpu) / (wall * cores)).max(0.0)
        ),
        (Some(_), Some((_, util))) => format!(
            "nothing at this load (host CPU {:.0}% busy, the judge's queue empty in most samples)",
            util * 100.0
        ),
        _ => "unknown: give --judge-url to see the judge's queue".to_string(),
    };
    let unanswered = t.submitted.saturating_sub(t.results);
    let ok = player_errors.is_empty() && t.ack_errors == 0 && unanswered == 0 && t.submitted > 0;
    write_plot(&args.common, || {
        plot_svg(
            "coding battles: submit to first update / to result",
            &[
                ("submit -> first submission_update", &t.first_update),
                ("submit -> submission_result", &t.result),
            ],
        )
    })?;
    let ms = |l: &Latency| {
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1} ms (n = {})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.count
        )
    };
    let mut verdicts: Vec<_> = t.verdicts.iter().collect();
    verdicts.sort();
    let mut refused: Vec<_> = t.refused.iter().collect();
    refused.sort();
    let rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        (
            "players / battles at once".into(),
            format!("{players} / {}", args.battles),
        ),
        (
            "battles started".into(),
            format!("{} ({:?} pairing)", t.battles.len(), args.pairing),
        ),
        (
            "submissions".into(),
            format!(
                "{} in {submit_seconds:.1} s = {:.1}/s; {} answered, {unanswered} unanswered",
                t.submitted,
                t.submitted as f64 / submit_seconds,
                t.results
            ),
        ),
        ("verdicts".into(), format!("{verdicts:?}")),
        (
            "refused submits / ack errors".into(),
            format!("{refused:?} / {}", t.ack_errors),
        ),
        ("submit -> first update p50/p90/p99/max".into(), ms(&first)),
        ("submit -> result p50/p90/p99/max".into(), ms(&result)),
        (
            "judge: time per job / est. queue wait".into(),
            match (job_s, queue_wait_s) {
                (Some(j), Some(w)) => format!("{:.0} ms / {:.0} ms (mean)", j * 1000.0, w * 1000.0),
                _ => "n/a (no --judge-url, or no job finished)".into(),
            },
        ),
        (
            "judge queue depth median / max".into(),
            match (depth_p50, depth_max) {
                (Some(a), Some(b)) => format!("{a:.0} / {b:.0}"),
                _ => "n/a".into(),
            },
        ),
        (
            "CPU: servers / bench / host busy".into(),
            format!(
                "{server_cpu:.1} s / {own_cpu:.1} s / {} over {wall:.1} s on {cores} cores",
                host.map_or("n/a".into(), |(s, u)| format!(
                    "{s:.1} s ({:.0}%)",
                    u * 100.0
                ))
            ),
        ),
        ("saturates first".into(), saturation.clone()),
    ];
    if !player_errors.is_empty() {
        tracing::warn!(errors = ?player_errors.iter().take(5).collect::<Vec<_>>(), "players stopped early");
    }
    let j = json!({
        "scenario": "coding", "instances": addrs.len(), "battles": args.battles, "players": players,
        "pairing": format!("{:?}", args.pairing).to_lowercase(),
        "submit_every_ms": args.submit_every.as_millis() as u64, "duration_s": args.duration.as_secs_f64(),
        "battles_started": t.battles.len(), "submitted": t.submitted, "results": t.results,
        "unanswered": unanswered, "verdicts": t.verdicts, "refused": t.refused, "ack_errors": t.ack_errors,
        "first_update": first, "result": result,
        "judge_job_ms": job_s.map(|s| s * 1000.0), "queue_wait_ms": queue_wait_s.map(|s| s * 1000.0),
        "queue_depth_p50": depth_p50, "queue_depth_max": depth_max,
        "server_cpu_s": server_cpu, "bench_cpu_s": own_cpu, "host_busy": host.map(|h| h.1),
        "judge_cpu_s": judge_delta.map(|j| j.cpu_s), "cores": cores, "wall_s": wall,
        "saturation": saturation, "player_errors": player_errors.len(), "ok": ok,
    });
    Ok(emit(&args.common, "arena bench coding", rows, j, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn every_problem_with_a_python_reference_has_a_right_and_a_wrong_answer() {
        let bank = Bank::embedded().unwrap();
        let s = Solutions::of(&bank);
        let (good, bad) = s.0.get(PROBLEM).unwrap();
        assert!(good.contains("print(a + b)"), "{good}");
        assert_ne!(good, bad);
    }
}
