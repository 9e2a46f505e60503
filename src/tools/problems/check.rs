//! `arena problems check`: validates the bank, then runs every reference solution and
//! every wrong solution of every problem against all its tests (examples, then hidden)
//! and reports one row per (problem, solution). It fails when a reference is not
//! accepted on every test, or when a wrong solution is.

use std::fmt::Write as _;
use std::path::PathBuf;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use super::host_runner::HostRunner;
use super::judge_runner::JudgeRunner;
use super::list::load;
use super::runner::{RunError, Runner, Submission, TestOutcome, Verdict};
use crate::services::problems::{BankError, Language, Limits, Problem, TestCase};

/// What to check.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Check only this problem.
    #[arg(long)]
    pub id: Option<String>,
    /// Check the `*.toml` files of this directory instead of the bank built into the
    /// binary (to try a new problem without rebuilding).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Solutions run at once [default: the number of CPUs].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Multiply every time limit by this (1 to 10): the host runner measures wall time,
    /// which a loaded machine stretches; the judge measures CPU time.
    #[arg(long, default_value_t = 1.0, value_parser = time_scale)]
    pub time_scale: f64,
    /// Run the solutions with this host's toolchains, outside any sandbox, instead of
    /// through the judge (for a machine without bubblewrap; trusted code only).
    #[arg(long)]
    pub host: bool,
}

fn time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (1.0..=10.0).contains(&x) => Ok(x),
        _ => Err(format!("must be a number from 1 to 10 (got {s})")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("no problem '{0}' in the bank")]
    UnknownProblem(String),
    #[error("{0} (or check with --host, unsandboxed, on a machine without the judge)")]
    Judge(RunError),
}

/// Whether a solution must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Pass,
    Fail,
}

/// One (problem, solution) run.
#[derive(Debug, Clone)]
pub struct Row {
    pub problem: String,
    /// `reference python`, `wrong c`.
    pub solution: String,
    pub expect: Expect,
    /// `AC 12/12`, `WA on test 5/12`, or the error that kept it from running.
    pub result: String,
    /// Why it failed (the runner's detail, or the wrong solution's reason).
    pub detail: String,
    /// Did it do what it must?
    pub ok: bool,
    /// The slowest test, in ms.
    pub max_ms: u64,
}

/// Every row, in bank order.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }

    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| !r.ok).count()
    }

    /// The table, then one summary line.
    pub fn render(&self) -> String {
        let w = |f: fn(&Row) -> usize, min: usize| {
            self.rows.iter().map(f).max().unwrap_or(min).max(min)
        };
        let pw = w(|r| r.problem.len(), 7);
        let sw = w(|r| r.solution.len(), 8);
        let rw = w(|r| r.result.len(), 6);
        let mut out = format!(
            "{:<pw$}  {:<sw$}  {:<6}  {:<rw$}  {:>7}\n",
            "problem", "solution", "must", "result", "max ms"
        );
        for r in &self.rows {
            let must = match r.expect {
                Expect::Pass => "pass",
                Expect::Fail => "fail",
            };
            let mark = if r.ok { "ok" } else { "FAILED" };
            let _ = write!(
                out,
                "{:<pw$}  {:<sw$}  {must:<6}  {:<rw$}  {:>7}  {mark}",
                r.problem, r.solution, r.result, r.max_ms
            );
            if !r.detail.is_empty() {
                let _ = write!(out, "  ({})", r.detail);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} runs: {} as expected, {} not",
            self.rows.len(),
            self.rows.len() - self.failures(),
            self.failures()
        );
        out
    }
}

/// `arena problems check`: load and validate the bank, run it.
pub async fn run(args: &CheckArgs) -> Result<Report, CheckError> {
    let bank = load(args.dir.as_deref())?;
    let problems: Vec<&Problem> = match &args.id {
        Some(id) => vec![
            bank.get(id)
                .ok_or_else(|| CheckError::UnknownProblem(id.clone()))?,
        ],
        None => bank.list().iter().collect(),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    if args.host {
        // Trusted reference code only: HostRunner runs it unsandboxed.
        return Ok(check(&problems, &HostRunner::new(), jobs, args.time_scale).await);
    }
    let runner = JudgeRunner::start().await.map_err(CheckError::Judge)?;
    Ok(check(&problems, &runner, jobs, args.time_scale).await)
}

/// Runs every solution of `problems` through `runner`, `jobs` at a time, with every time
/// limit multiplied by `time_scale`.
pub async fn check<R: Runner>(
    problems: &[&Problem],
    runner: &R,
    jobs: usize,
    time_scale: f64,
) -> Report {
    let tests: Vec<Vec<TestCase>> = problems.iter().map(|p| p.all_tests()).collect();
    let mut work = Vec::new();
    for (p, tests) in problems.iter().zip(&tests) {
        for (&language, source) in &p.reference {
            work.push(Job {
                problem: p,
                tests,
                language,
                source,
                expect: Expect::Pass,
                why: "",
            });
        }
        for w in &p.wrong {
            work.push(Job {
                problem: p,
                tests,
                language: w.language,
                source: &w.source,
                expect: Expect::Fail,
                why: &w.why,
            });
        }
    }
    let bar = ProgressBar::new(work.len() as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} checking solutions [{bar:40}] {pos}/{len} ({elapsed})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    // indicatif draws on stderr only when it is a terminal.
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut rows: Vec<(usize, Row)> = futures_util::stream::iter(work.into_iter().enumerate())
        .map(|(i, job)| {
            let bar = &bar;
            async move {
                let submission = Submission {
                    language: job.language,
                    source: job.source,
                    tests: job.tests,
                    limits: Limits {
                        time_ms: scaled(job.problem.limits.time_ms, time_scale),
                        ..job.problem.limits
                    },
                    comparator: job.problem.comparator,
                };
                let outcomes = runner.run(&submission).await;
                bar.inc(1);
                let row = row(&job, outcomes);
                (i, row)
            }
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    bar.finish_and_clear();
    rows.sort_by_key(|(i, _)| *i);
    Report {
        rows: rows.into_iter().map(|(_, r)| r).collect(),
    }
}

/// One solution to run on one problem's tests.
struct Job<'a> {
    problem: &'a Problem,
    tests: &'a [TestCase],
    language: Language,
    source: &'a str,
    expect: Expect,
    /// Why a wrong solution is wrong (empty for a reference).
    why: &'a str,
}

/// The report's row for a job and what the runner made of it.
fn row(job: &Job<'_>, outcomes: Result<Vec<TestOutcome>, RunError>) -> Row {
    let kind = match job.expect {
        Expect::Pass => "reference",
        Expect::Fail => "wrong",
    };
    let mut row = Row {
        problem: job.problem.id.clone(),
        solution: format!("{kind} {}", job.language),
        expect: job.expect,
        result: String::new(),
        detail: String::new(),
        ok: false,
        max_ms: 0,
    };
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // Not run at all (a missing toolchain): never as expected.
            row.result = "not run".into();
            row.detail = e.to_string();
            return row;
        }
    };
    let n = job.tests.len();
    row.max_ms = outcomes.iter().map(|o| o.time_ms).max().unwrap_or(0);
    let passed = outcomes.len() == n && outcomes.iter().all(|o| o.verdict == Verdict::Accepted);
    let failed_at = outcomes.iter().position(|o| o.verdict != Verdict::Accepted);
    match (passed, failed_at) {
        (true, _) => row.result = format!("AC {n}/{n}"),
        (false, Some(i)) => {
            row.result = format!("{} on test {}/{n}", outcomes[i].verdict, i + 1);
            row.detail = outcomes[i].detail.clone();
        }
        // Every outcome accepted but not one per test: the runner broke its contract,
        // which must not count as a pass or as a proper failure.
        (false, None) => {
            row.result = format!("{} outcomes for {n} tests", outcomes.len());
            return row;
        }
    }
    row.ok = passed == (job.expect == Expect::Pass);
    if job.expect == Expect::Fail {
        // Why it must fail, and, if it did not, that it passed.
        row.detail = if row.ok {
            job.why.to_string()
        } else {
            format!("passed, but: {}", job.why)
        };
    }
    row
}

/// `ms * scale`, rounded up (scale is 1..=10, so this stays far below `u32::MAX` for the
/// bank's limits of at most 10 s).
fn scaled(ms: u32, scale: f64) -> u32 {
    let x = (f64::from(ms) * scale).ceil();
    if x >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        x as u32
    }
}
