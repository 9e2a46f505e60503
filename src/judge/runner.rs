//! A judge: the sandbox and the languages of this host; one submission at a time per
//! call (callers run several calls at once): compile once, then run every test, tests
//! side by side up to the judge's parallel runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::Semaphore;

use crate::services::judge::{CompileResult, Progress, Report, Submission, TestResult, Verdict};

use super::language::{BOX, Detected, Language};
use super::sandbox::{Bind, FSIZE_BYTES, Outcome, Sandbox, Spec};
use super::verdict::{shown, stats, test_result};

/// Limits of a compile step (the compiler is as untrusted as its input: a header can
/// be `/dev/zero`).
pub const COMPILE_CPU_MS: u64 = 15_000;
pub const COMPILE_WALL_MS: u64 = 30_000;
pub const COMPILE_MEMORY: u64 = 1024 * 1024 * 1024;
pub const COMPILE_OUTPUT: u64 = 64 * 1024;
/// Processes and threads of one run (a pids cgroup: a fork bomb stops here).
pub const PIDS: u32 = 64;

/// A submission the judge cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    #[error("unknown language {0:?}")]
    UnknownLanguage(String),
}

/// The host's sandbox and languages, and a folder for jobs.
#[derive(Debug)]
pub struct Judge {
    pub sandbox: Sandbox,
    pub detected: Detected,
    /// `<work>/j<pid>`: one folder per job inside.
    jobs: PathBuf,
    next: AtomicU64,
    /// Sandboxed runs in flight on this judge, all jobs together (one permit a run).
    runs: Semaphore,
    /// Tests of one submission run at once (at most the permits of `runs`).
    parallel: usize,
}

impl Judge {
    /// A judge running up to one test run per core at once (see
    /// [`Judge::with_parallel_runs`]).
    pub fn new(sandbox: Sandbox, detected: Detected, jobs: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            sandbox,
            detected,
            jobs,
            next: AtomicU64::new(0),
            runs: Semaphore::new(cores),
            parallel: cores,
        }
    }

    /// At most `n` (at least 1) sandboxed test runs at once on this judge, and as many
    /// tests of one submission side by side.
    pub fn with_parallel_runs(mut self, n: usize) -> Self {
        let n = n.max(1);
        self.runs = Semaphore::new(n);
        self.parallel = n;
        self
    }

    /// Sandboxed test runs this judge has at once at most.
    pub fn parallel_runs(&self) -> usize {
        self.parallel
    }

    /// The language a submission names, if this judge has it.
    pub fn language(&self, name: &str) -> Option<&Language> {
        self.detected.find(name)
    }

    /// Judge one submission. Errors are about the request; everything that happens to
    /// the program is in the report.
    pub async fn judge(&self, sub: &Submission) -> Result<Report, RunError> {
        self.judge_with(sub, &mut |_| {}).await
    }

    /// Judge one submission, calling `on_test` as each test finishes (in test order),
    /// and once with test 0 when the compile step fails with CE.
    pub async fn judge_with(
        &self,
        sub: &Submission,
        on_test: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Report, RunError> {
        let lang = self
            .language(&sub.language)
            .ok_or_else(|| RunError::UnknownLanguage(sub.language.clone()))?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.jobs.join(n.to_string());
        let report = match self.prepare(&dir, lang, &sub.source) {
            Ok(()) => self.compile_and_run(&dir, lang, sub, on_test).await,
            Err(e) => ie(lang, format!("job folder: {e}")),
        };
        // remove_dir_all never follows symlinks (whatever a compiler left there).
        let d = dir.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(d)).await;
        Ok(report)
    }

    /// A fresh job folder with the source in it, owned by the sandbox's uid so that the
    /// compiler inside can write its output there.
    fn prepare(&self, dir: &Path, lang: &Language, source: &str) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new().mode(0o700).create(dir)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dir.join(lang.file))?;
        f.write_all(source.as_bytes())?;
        if let Some((uid, gid)) = self.sandbox.host_ids() {
            nix::unistd::chown(
                dir,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )?;
        }
        Ok(())
    }

    async fn compile_and_run(
        &self,
        dir: &Path,
        lang: &Language,
        sub: &Submission,
        on_test: &mut (dyn FnMut(&Progress) + Send),
    ) -> Report {
        let of = u32::try_from(sub.tests.len()).unwrap_or(u32::MAX);
        let box_bind = |writable| Bind {
            host: dir.to_path_buf(),
            inside: BOX.into(),
            writable,
        };
        let mut compile = None;
        if let Some(argv) = &lang.compile {
            let mut binds = vec![box_bind(true)];
            binds.extend(lang.binds.iter().cloned());
            let slot = self.runs.acquire().await.ok();
            let o = self
                .sandbox
                .run(&Spec {
                    argv: argv.clone(),
                    binds,
                    env: vec![],
                    cwd: BOX.into(),
                    stdin: vec![],
                    cpu_ms: COMPILE_CPU_MS,
                    wall_ms: COMPILE_WALL_MS,
                    memory_bytes: COMPILE_MEMORY,
                    output_bytes: COMPILE_OUTPUT,
                    pids: PIDS,
                    file_bytes: FSIZE_BYTES,
                })
                .await;
            drop(slot);
            let (result, failure) = compile_result(&o);
            if let Some((verdict, message)) = failure {
                if verdict == Verdict::CE {
                    on_test(&Progress {
                        test: 0,
                        of,
                        verdict,
                        time_ms: result.stats.cpu_ms,
                    });
                }
                return Report {
                    verdict,
                    language: lang.name.into(),
                    version: lang.version.clone(),
                    compile: Some(result),
                    tests: vec![],
                    message: Some(message),
                };
            }
            compile = Some(result);
        }

        let mut binds = vec![box_bind(false)];
        binds.extend(lang.binds.iter().cloned());
        // Tests run side by side, each in its own fresh sandbox (own /tmp, cgroup,
        // namespaces), up to `parallel` of this submission at once and never more runs
        // on the judge than `runs` has permits: with one job in flight its tests use the
        // free cores; with a job per core each gets about one. `buffered` hands the
        // results back in test order, so progress is still reported test by test.
        let mut specs = Vec::with_capacity(sub.tests.len());
        for (t, n) in sub.tests.iter().zip(1u32..) {
            let spec = Spec {
                argv: lang.run.iter().chain(&sub.args).cloned().collect(),
                binds: binds.clone(),
                env: vec![],
                cwd: "/tmp".into(),
                stdin: t.stdin.clone().into_bytes(),
                cpu_ms: sub.limits.cpu_ms,
                wall_ms: sub.limits.wall_ms(),
                memory_bytes: sub.limits.memory_bytes,
                output_bytes: sub.limits.output_bytes,
                pids: PIDS,
                file_bytes: FSIZE_BYTES,
            };
            specs.push((n, spec, t.expected.clone()));
        }
        // A window of `parallel` tests in flight, handed back in test order (a plain
        // loop rather than `StreamExt::buffered`: the closure it needs trips rustc's
        // Send check of the worker's spawned future).
        let mut specs = specs.into_iter();
        let mut in_flight = FuturesOrdered::new();
        for (n, spec, expected) in specs.by_ref().take(self.parallel) {
            in_flight.push_back(self.run_test(n, spec, expected, sub));
        }
        let mut tests: Vec<TestResult> = Vec::with_capacity(sub.tests.len());
        while let Some((n, result)) = in_flight.next().await {
            on_test(&Progress {
                test: n,
                of,
                verdict: result.verdict,
                time_ms: result.stats.cpu_ms,
            });
            tests.push(result);
            if let Some((n, spec, expected)) = specs.next() {
                in_flight.push_back(self.run_test(n, spec, expected, sub));
            }
        }
        Report {
            verdict: Report::overall(&tests),
            language: lang.name.into(),
            version: lang.version.clone(),
            compile,
            tests,
            message: None,
        }
    }
}

impl Judge {
    /// One test in a fresh sandbox, once a run slot is free.
    async fn run_test(
        &self,
        n: u32,
        spec: Spec,
        expected: Option<String>,
        sub: &Submission,
    ) -> (u32, TestResult) {
        // The semaphore is never closed, so acquire cannot fail; if it did, the run
        // would go ahead unthrottled rather than be lost.
        let _slot = self.runs.acquire().await.ok();
        let o = self.sandbox.run(&spec).await;
        let result = test_result(&o, &sub.limits, expected.as_deref(), sub.comparator);
        (n, result)
    }
}

fn ie(lang: &Language, message: String) -> Report {
    Report {
        verdict: Verdict::IE,
        language: lang.name.into(),
        version: lang.version.clone(),
        compile: None,
        tests: vec![],
        message: Some(message),
    }
}

/// The compile step's result, and the verdict and reason when it failed: CE for
/// anything the source caused (errors, a compile bomb's time, memory or output), IE when
/// the sandbox itself failed.
fn compile_result(o: &Outcome) -> (CompileResult, Option<(Verdict, String)>) {
    use super::sandbox::End;
    let mut output = o.stdout.clone();
    output.extend_from_slice(&o.stderr);
    let failure = if let End::SandboxFailed(why) = &o.end {
        Some((Verdict::IE, why.clone()))
    } else if o.output_exceeded {
        Some((
            Verdict::CE,
            format!("compiler output over {COMPILE_OUTPUT} bytes"),
        ))
    } else if o.memory_limited {
        Some((
            Verdict::CE,
            format!("compiler memory over {COMPILE_MEMORY} bytes"),
        ))
    } else if o.wall_exceeded || o.cpu_ms > COMPILE_CPU_MS {
        Some((Verdict::CE, "compilation time limit reached".to_string()))
    } else {
        match o.end {
            End::Exited(0) => None,
            End::Exited(c) => Some((Verdict::CE, format!("compiler exited with {c}"))),
            End::Signaled(s) => Some((Verdict::CE, format!("compiler killed by signal {s}"))),
            End::SandboxFailed(_) => None,
        }
    };
    let result = CompileResult {
        ok: failure.is_none(),
        stats: stats(o),
        output: shown(&output),
    };
    (result, failure)
}
