//! The judge against the real thing: bubblewrap, the seccomp filter, cgroups, the
//! compilers of this host, and programs from `tests/judge/`. One judge is shared by
//! these tests and they take turns (`turn()`), so that host-wide checks (no process
//! left behind) see only their own runs.

mod bench;
mod breaker;
mod hostile;
mod http;
mod measure;
mod progress;
mod queue;
mod verdicts;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arena::judge::Judge;
use arena::services::judge::{Comparator, Limits, Report, Submission, TestCase};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

static JUDGE: OnceCell<Arc<Judge>> = OnceCell::const_new();
static TURN: Mutex<()> = Mutex::const_new(());

/// Setup for judges started by tests: the `arena` binary as the helper, a work folder
/// that keeps the precompiled header between runs of the suite.
pub fn setup() -> arena::judge::HostSetup {
    arena::judge::HostSetup {
        work_dir: std::env::temp_dir().join("arena-judge-tests"),
        bwrap: PathBuf::from(arena::judge::settings::BWRAP),
        helper: PathBuf::from(env!("CARGO_BIN_EXE_arena")),
        cgroup_root: PathBuf::from(arena::judge::settings::CGROUP_ROOT),
    }
}

/// The shared judge (started once; panics with the missing layer if the host lacks one).
pub async fn judge() -> Arc<Judge> {
    super::harness::init_logs();
    JUDGE
        .get_or_init(|| async {
            let (judge, _) = arena::judge::start(&setup())
                .await
                .unwrap_or_else(|e| panic!("the judge cannot start on this host: {e}"));
            Arc::new(judge)
        })
        .await
        .clone()
}

/// Exclusive use of the judge for one test (every test that runs sandboxes takes it:
/// the judge tests, coding battles, `arena problems check`).
pub async fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().await
}

/// [`turn`] for a test outside the runtime.
pub fn turn_blocking() -> MutexGuard<'static, ()> {
    TURN.blocking_lock()
}

/// A program from `tests/judge/<path>`.
pub fn program(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/judge")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Two a+b tests.
pub fn sum_tests() -> Vec<TestCase> {
    vec![
        TestCase {
            stdin: "1 2\n".into(),
            expected: Some("3\n".into()),
        },
        TestCase {
            stdin: "40 2\n".into(),
            expected: Some("42".into()),
        },
    ]
}

/// Small limits so that limit verdicts come quickly.
pub fn small_limits() -> Limits {
    Limits {
        cpu_ms: 500,
        wall_ms: 3_000,
        memory_bytes: 128 << 20,
        output_bytes: 1 << 20,
    }
}

pub fn submission(language: &str, source: String, tests: Vec<TestCase>) -> Submission {
    Submission {
        language: language.into(),
        source,
        tests,
        limits: small_limits(),
        comparator: Comparator::Whitespace,
        args: vec![],
    }
}

/// Judge and return the report (an unknown language is a test bug).
pub async fn run(judge: &Judge, sub: &Submission) -> Report {
    judge.judge(sub).await.unwrap()
}

/// Host processes running as the sandbox's uid (65534): none may outlive a run.
pub fn sandbox_processes() -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string));
        if uid.as_deref() == Some("65534") {
            out.push(pid);
        }
    }
    out
}

/// The judge still judges, and nothing of earlier runs is left on the host.
pub async fn assert_unharmed(judge: &Judge) {
    let r = run(judge, &submission("c", program("c/ac.c"), sum_tests())).await;
    assert_eq!(r.verdict, arena::services::judge::Verdict::AC, "{r:#?}");
    super::harness::eventually(
        std::time::Duration::from_secs(5),
        "no sandboxed process left on the host",
        || async { sandbox_processes().is_empty().then_some(()) },
    )
    .await;
}
