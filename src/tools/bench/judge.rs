//! `arena bench judge`: the judge fleet's figures (BENCHMARKS.md, "Judge"), against a
//! running fleet through one judge's HTTP API (`arena judge --port P`, given as `--url`).
//!
//! - **Latency**, submit -> final verdict, of a 10-test a+b problem (every answer right)
//!   in each language the judge has (`--languages`), with 1 and then 2 jobs in flight:
//!   `--jobs` submissions per setting after one warm-up, each submitted with
//!   `POST /api/judge/submissions` and polled every 10 ms (`GET .../{token}`), as the
//!   battle side polls the queue. Jobs per second over the setting, and per core of this
//!   host (the bench is loopback-only: the judge runs here).
//! - **Sandbox overhead**: an empty C program run bare on this host (30 times, compiled
//!   with the host's gcc) against the same program in the judge's sandbox: the p50 of
//!   each test's `wallMs` (spawn to exit: `arena judge-exec`, bubblewrap, the program)
//!   and the cost of one more sandboxed run end to end, cgroup set-up and removal
//!   included: (p50 of a 10-test job - p50 of a 1-test job) / 9.
//! - **Breaker open** (with `--breaker-redis-url`, a Redis no judge heartbeats into, so
//!   the fleet breaker there is open): how long the battle side's guarded executor takes
//!   to answer `judge_unavailable`, 200 calls.
//!
//! A job that does not come back AC makes the run fail (`ok: false`): the figures
//! would not be those of a working judge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::common::{BenchError, Common, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use crate::services::judge::breaker::{Breaker, BreakerConfig};
use crate::services::judge::client::QueueBackend;
use crate::services::judge::guarded::{GuardError, Guarded};
use crate::services::judge::{Comparator, Limits, Submission, TestCase};
use crate::services::problems::{Bank, Language};
use crate::tools::http_client::{http_get, http_post};

/// The languages measured by default (those the judge lacks are skipped and named).
const LANGUAGES: &str = "python,javascript,c,cpp,rust";
/// How often a submission's status is read (the battle side polls its queue as often).
const POLL: Duration = Duration::from_millis(10);
/// The longest one job may take before the run gives up on it.
const JOB_WAIT: Duration = Duration::from_secs(120);
/// Runs of the empty program for the overhead, bare and in the sandbox.
const OVERHEAD_RUNS: usize = 30;
/// Calls timed while the breaker is open.
const BREAKER_CALLS: usize = 200;
/// The empty program of the overhead figure.
const EMPTY_C: &str = "int main(void) { return 0; }\n";
/// a+b in Rust (the bank has no Rust solutions; the other languages use the bank's
/// `a-plus-b` references).
const RUST_AC: &str = "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    \
    std::io::stdin().read_to_string(&mut s).unwrap();\n    \
    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n    \
    println!(\"{}\", v[0] + v[1]);\n}\n";

#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// `--url`: one judge's HTTP API (`arena judge --port P`); the jobs go through its
    /// queue, so every judge of the fleet takes them.
    #[command(flatten)]
    pub common: Common,
    /// Languages to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = LANGUAGES)]
    pub languages: Vec<String>,
    /// Submissions per (language, jobs in flight) setting.
    #[arg(long, default_value_t = 20)]
    pub jobs: usize,
    /// A Redis where no judge heartbeats (NOT the fleet's: the breaker there opens):
    /// times the breaker-open answer.
    #[arg(long)]
    pub breaker_redis_url: Option<String>,
    /// TLS files for a `rediss://` --breaker-redis-url.
    #[command(flatten)]
    pub tls: crate::services::settings::RedisTls,
}

impl JudgeArgs {
    /// The run's bound: every job at its longest wait would be far more; this is what a
    /// slow but working judge needs (10 s a job), plus the overhead and breaker phases.
    pub fn limit(&self) -> Duration {
        let jobs = (self.languages.len() * (2 * self.jobs + 1) + 3 * OVERHEAD_RUNS) as u64;
        Duration::from_secs(jobs * 10 + 120)
    }
}

/// The ten tests: `a b` -> `a + b`, numbers of every size the references handle.
fn ten_tests() -> Vec<TestCase> {
    (0..10i64)
        .map(|i| {
            let (a, b) = (i * 1_000_003 - 7, i * i * 97 + 1);
            TestCase {
                stdin: format!("{a} {b}\n"),
                expected: Some(format!("{}\n", a + b)),
            }
        })
        .collect()
}

/// The a+b solution the bench submits in `language`.
fn solution(bank: &Bank, language: &str) -> Option<String> {
    if language == "rust" {
        return Some(RUST_AC.into());
    }
    let problem = bank.get("a-plus-b")?;
    problem.reference.get(&Language::parse(language)?).cloned()
}

fn submission(language: &str, source: String, tests: Vec<TestCase>) -> Submission {
    Submission {
        language: language.into(),
        source,
        tests,
        limits: Limits::default(),
        comparator: Comparator::Whitespace,
        args: vec![],
    }
}

/// Submit over HTTP and poll until done: the latency and the final status body.
async fn judge_once(addr: &str, sub: &Submission) -> Result<(Duration, Value), BenchError> {
    let body = serde_json::to_string(sub).map_err(|e| BenchError::Protocol(e.to_string()))?;
    let t0 = Instant::now();
    let (status, resp) = http_post(addr, "/api/judge/submissions", &body)
        .await
        .map_err(|e| BenchError::Connect(addr.into(), e.to_string()))?;
    if status != 201 {
        return Err(BenchError::Protocol(format!(
            "POST /api/judge/submissions: {status} {resp}"
        )));
    }
    let token = serde_json::from_str::<Value>(&resp)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string))
        .ok_or_else(|| BenchError::Protocol(format!("no token in {resp}")))?;
    let path = format!("/api/judge/submissions/{token}");
    loop {
        let (status, resp) = http_get(addr, &path)
            .await
            .map_err(|e| BenchError::Connect(addr.into(), e.to_string()))?;
        let v: Value = serde_json::from_str(&resp)
            .map_err(|e| BenchError::Protocol(format!("GET {path}: {status} {e}")))?;
        match v["status"].as_str() {
            Some("done") => return Ok((t0.elapsed(), v)),
            Some("queued") => {}
            _ => return Err(BenchError::Protocol(format!("GET {path}: {status} {v}"))),
        }
        if t0.elapsed() > JOB_WAIT {
            return Err(BenchError::Protocol(format!(
                "{token}: no verdict within {JOB_WAIT:?}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One (language, jobs in flight) setting.
struct Row {
    language: String,
    concurrent: usize,
    latency: Histogram<u64>,
    jobs_per_s: f64,
    wrong: Vec<String>,
}

async fn measure(
    addr: &str,
    sub: &Submission,
    concurrent: usize,
    jobs: usize,
) -> Result<Row, BenchError> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrent {
        let (addr, sub) = (addr.to_string(), sub.clone());
        // Every job is counted: the first `jobs % concurrent` clients take one more.
        let mine = jobs / concurrent + usize::from(w < jobs % concurrent);
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(mine);
            for _ in 0..mine {
                out.push(judge_once(&addr, &sub).await?);
            }
            Ok::<_, BenchError>(out)
        });
    }
    let mut latency = histogram();
    let mut wrong = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let done = r.map_err(|e| BenchError::Protocol(format!("a client task failed: {e}")))??;
        for (took, v) in done {
            let _ = latency.record(took.as_micros().max(1) as u64);
            if v["verdict"] != "AC" {
                wrong.push(format!("{}: {}", sub.language, v["report"]));
            }
        }
    }
    Ok(Row {
        language: sub.language.clone(),
        concurrent,
        latency,
        jobs_per_s: jobs as f64 / started.elapsed().as_secs_f64(),
        wrong,
    })
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

/// An empty C program compiled with the host's gcc and run bare: p50 ms, or `None`
/// without gcc.
async fn bare_exec() -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let (src, bin) = (dir.path().join("e.c"), dir.path().join("e"));
    std::fs::write(&src, EMPTY_C).ok()?;
    let built = tokio::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .await
        .ok()?;
    if !built.success() {
        return None;
    }
    let mut runs = Vec::with_capacity(OVERHEAD_RUNS);
    for _ in 0..OVERHEAD_RUNS {
        let t0 = Instant::now();
        let s = tokio::process::Command::new(&bin).status().await.ok()?;
        if !s.success() {
            return None;
        }
        runs.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    median(&mut runs)
}

/// The sandbox's share: per-test `wallMs` of the empty program, and one more run end to
/// end from the latency of 10-test and 1-test jobs.
async fn overhead(addr: &str) -> Result<Value, BenchError> {
    let empty = |n: usize| {
        submission(
            "c",
            EMPTY_C.into(),
            vec![
                TestCase {
                    stdin: String::new(),
                    expected: Some(String::new()),
                };
                n
            ],
        )
    };
    let mut walls = Vec::new();
    let mut lat = [Vec::new(), Vec::new()];
    judge_once(addr, &empty(1)).await?;
    for _ in 0..OVERHEAD_RUNS / 3 {
        for (i, n) in [1usize, 10].into_iter().enumerate() {
            let (took, v) = judge_once(addr, &empty(n)).await?;
            if v["verdict"] != "AC" {
                return Err(BenchError::Protocol(format!("the empty program: {v}")));
            }
            lat[i].push(took.as_secs_f64() * 1000.0);
            if let Some(tests) = v["report"]["tests"].as_array() {
                walls.extend(tests.iter().filter_map(|t| t["wallMs"].as_f64()));
            }
        }
    }
    let [mut one, mut ten] = lat;
    let per_run = match (median(&mut one), median(&mut ten)) {
        (Some(a), Some(b)) => Some((b - a) / 9.0),
        _ => None,
    };
    Ok(json!({
        "bare_exec_p50_ms": bare_exec().await,
        "sandboxed_wall_p50_ms": median(&mut walls),
        "sandboxed_run_end_to_end_ms": per_run,
    }))
}

/// The battle side's guarded executor on `url`, a Redis no judge heartbeats into (so
/// its fleet breaker is open); refused when a judge uses it.
async fn spare(args: &JudgeArgs, url: &str) -> Result<Guarded, BenchError> {
    let shown = crate::base::config::redact_url(url);
    let endpoint = args
        .tls
        .endpoint(url)
        .map_err(|e| BenchError::Invalid(e.to_string()))?;
    let mut conn = crate::redis::command_connection(&endpoint, Duration::from_secs(5))
        .map_err(|e| BenchError::Connect(shown.clone(), e.to_string()))?;
    let judges: u64 = redis::cmd("ZCARD")
        .arg(crate::services::judge::keys::judges())
        .query_async(&mut conn)
        .await
        .map_err(|e| BenchError::Connect(shown.clone(), e.to_string()))?;
    if judges > 0 {
        return Err(BenchError::Invalid(format!(
            "--breaker-redis-url {shown} has judges: it would open that fleet's breaker; \
             give a Redis no judge uses"
        )));
    }
    Ok(Guarded {
        executor: Arc::new(QueueBackend::new(conn.clone())),
        breaker: Breaker::new(conn, BreakerConfig::default()),
        on_transition: Arc::new(|_| {}),
        metrics: None,
    })
}

/// Time `judge_unavailable` from `guarded` (see [`spare`]).
async fn breaker_open(guarded: &Guarded) -> Result<Value, BenchError> {
    let sub = submission("c", EMPTY_C.into(), ten_tests());
    let mut h = histogram();
    for _ in 0..BREAKER_CALLS {
        let t0 = Instant::now();
        let r = guarded.judge(&sub, Duration::from_secs(5)).await;
        let took = t0.elapsed();
        match r {
            Err(GuardError::Unavailable(_)) => {}
            Ok(_) => {
                return Err(BenchError::Protocol(
                    "--breaker-redis-url: a job was judged, so a judge uses that Redis".into(),
                ));
            }
            Err(e) => {
                return Err(BenchError::Protocol(format!(
                    "--breaker-redis-url: not judge_unavailable but {e}"
                )));
            }
        }
        let _ = h.record(took.as_micros().max(1) as u64);
    }
    let l = Latency::of(&h);
    Ok(json!({"calls": l.count, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "max_ms": l.max_ms}))
}

pub async fn run(args: JudgeArgs) -> Result<Outcome, BenchError> {
    if args.jobs == 0 || args.jobs > 10_000 {
        return Err(BenchError::Invalid("--jobs must be 1..=10000".into()));
    }
    let addr = targets(&args.common)?
        .into_iter()
        .next()
        .ok_or_else(|| BenchError::Invalid("--url names the judge".into()))?;
    let (status, body) = http_get(&addr, "/api/v2/runtimes")
        .await
        .map_err(|e| BenchError::Connect(addr.clone(), e.to_string()))?;
    let runtimes: Vec<Value> = match serde_json::from_str(&body) {
        Ok(v) if status == 200 => v,
        _ => {
            return Err(BenchError::Protocol(format!(
                "{addr}/api/v2/runtimes answered {status}: is it a judge's HTTP API \
                 (arena judge --port P)?"
            )));
        }
    };
    // Checked before the long part, so a wrong Redis fails at once.
    let guarded = match &args.breaker_redis_url {
        Some(url) => Some(spare(&args, url).await?),
        None => None,
    };
    let has = |l: &str| runtimes.iter().any(|r| r["language"] == l);
    let bank = Bank::embedded().map_err(|e| BenchError::Invalid(e.to_string()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut skipped = Vec::new();
    let mut subs = Vec::new();
    for l in &args.languages {
        match solution(&bank, l) {
            Some(src) if has(l) => subs.push(submission(l, src, ten_tests())),
            Some(_) => skipped.push(format!("{l} (not on this judge)")),
            None => return Err(BenchError::Invalid(format!("no a+b solution in {l:?}"))),
        }
    }
    let pb = progress((subs.len() * (2 * args.jobs + 1)) as u64, "judge jobs");
    let mut rows = Vec::new();
    for sub in &subs {
        // Warm-up: the page cache, the compiler's first start, the judge's first job.
        judge_once(&addr, sub).await?;
        pb.inc(1);
        for concurrent in [1, 2] {
            rows.push(measure(&addr, sub, concurrent, args.jobs).await?);
            pb.inc(args.jobs as u64);
        }
    }
    pb.set_message("sandbox overhead");
    let overhead = overhead(&addr).await?;
    let breaker = match &guarded {
        Some(g) => {
            pb.set_message("breaker open");
            Some(breaker_open(g).await?)
        }
        None => None,
    };
    pb.finish_and_clear();

    let wrong: Vec<&String> = rows.iter().flat_map(|r| &r.wrong).collect();
    let ms = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2} ms"));
    let mut table = Vec::new();
    let mut jrows = Vec::new();
    for r in &rows {
        let l = Latency::of(&r.latency);
        table.push((
            format!("{} x{}", r.language, r.concurrent),
            format!(
                "p50 {:.0} ms  p99 {:.0} ms  {:.2} jobs/s ({:.2} per core)",
                l.p50_ms,
                l.p99_ms,
                r.jobs_per_s,
                r.jobs_per_s / cores as f64
            ),
        ));
        jrows.push(json!({
            "language": r.language, "concurrent": r.concurrent, "jobs": l.count,
            "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "max_ms": l.max_ms,
            "jobs_per_s": r.jobs_per_s, "jobs_per_s_per_core": r.jobs_per_s / cores as f64,
        }));
    }
    table.push((
        "sandbox overhead".into(),
        format!(
            "bare exec {}, sandboxed wall {}, one more run end to end {}",
            ms(&overhead["bare_exec_p50_ms"]),
            ms(&overhead["sandboxed_wall_p50_ms"]),
            ms(&overhead["sandboxed_run_end_to_end_ms"])
        ),
    ));
    if let Some(b) = &breaker {
        table.push((
            "breaker open".into(),
            format!(
                "judge_unavailable in p50 {} p99 {}",
                ms(&b["p50_ms"]),
                ms(&b["p99_ms"])
            ),
        ));
    }
    if !skipped.is_empty() {
        table.push(("skipped".into(), skipped.join(", ")));
    }
    for w in &wrong {
        table.push(("NOT AC".into(), (*w).clone()));
    }
    write_plot(&args.common, || {
        let series: Vec<(String, &Histogram<u64>)> = rows
            .iter()
            .map(|r| (format!("{} x{}", r.language, r.concurrent), &r.latency))
            .collect();
        let named: Vec<(&str, &Histogram<u64>)> =
            series.iter().map(|(n, h)| (n.as_str(), *h)).collect();
        plot_svg("judge: submit -> verdict, 10 tests", &named)
    })?;
    let report = json!({
        "scenario": "judge", "cores": cores, "tests_per_job": 10, "jobs_per_setting": args.jobs,
        "rows": jrows, "overhead": overhead, "breaker_open": breaker, "skipped": skipped,
        "not_ac": wrong.len(),
    });
    Ok(emit(
        &args.common,
        "judge (submit -> final verdict, 10-test a+b)",
        table,
        report,
        wrong.is_empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_language_has_a_solution_and_the_tests_add_up() {
        let bank = Bank::embedded().unwrap();
        for l in LANGUAGES.split(',') {
            assert!(solution(&bank, l).is_some(), "{l}");
        }
        assert!(solution(&bank, "cobol").is_none());
        let t = ten_tests();
        assert_eq!(t.len(), 10);
        assert_eq!(t[3].stdin, "3000002 874\n");
        assert_eq!(t[3].expected.as_deref(), Some("3000876\n"));
        assert!(submission("c", EMPTY_C.into(), t).check().is_ok());
    }
}
