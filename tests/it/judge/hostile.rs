//! Hostile programs: each is contained, gets the right verdict, and leaves the judge
//! judging and no process of the sandbox's uid behind on the host.

use std::path::Path;
use std::time::Duration;

use arena::services::judge::{Report, TestCase, Verdict};

use super::{assert_unharmed, judge, program, run, submission, turn};

fn one_test(stdin: &str, expected: Option<&str>) -> Vec<TestCase> {
    vec![TestCase {
        stdin: stdin.into(),
        expected: expected.map(String::from),
    }]
}

async fn hostile(lang: &str, file: &str, stdin: &str, expected: Option<&str>) -> Report {
    let judge = judge().await;
    let _turn = turn().await;
    let sub = submission(
        lang,
        program(&format!("hostile/{file}")),
        one_test(stdin, expected),
    );
    let r = run(&judge, &sub).await;
    assert_unharmed(&judge).await;
    r
}

fn project_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("Cargo.toml")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn judge_hostile_fork_bomb_is_stopped_by_the_pids_cgroup() {
    let r = hostile("c", "fork_bomb.c", "", None).await;
    assert_eq!(r.verdict, Verdict::TLE, "{r:#?}");
}

#[tokio::test]
async fn judge_hostile_memory_bomb_over_several_processes_is_mle() {
    let r = hostile("c", "memory_bomb.c", "", None).await;
    assert_eq!(r.verdict, Verdict::MLE, "{r:#?}");
    assert!(r.tests[0].stats.memory_bytes <= 128 << 20, "{r:#?}");
}

#[tokio::test]
async fn judge_hostile_sleeping_forever_is_tle_on_the_wall_clock() {
    let r = hostile("python", "sleep_forever.py", "", None).await;
    assert_eq!(r.verdict, Verdict::TLE, "{r:#?}");
    let t = &r.tests[0];
    assert!(t.stats.cpu_ms < 500, "it slept: {t:#?}");
    assert!(
        t.message.as_deref().unwrap_or("").contains("wall-clock"),
        "{t:#?}"
    );
}

#[tokio::test]
async fn judge_hostile_a_gigabyte_of_output_is_ole_and_capped() {
    let r = hostile("c", "gigabyte_output.c", "", None).await;
    assert_eq!(r.verdict, Verdict::OLE, "{r:#?}");
    assert!(r.tests[0].stdout.len() <= 1 << 20);
}

#[tokio::test]
async fn judge_hostile_cannot_reach_the_hosts_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = hostile("python", "connect.py", &format!("{port}\n"), None).await;
    assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
    assert!(r.tests[0].stdout.starts_with("blocked"), "{r:#?}");
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the listener got a connection from the sandbox"
    );

    let r = hostile("c", "connect_raw.c", "", Some("EPERM")).await;
    assert_eq!(
        r.verdict,
        Verdict::AC,
        "socket(2) is refused by seccomp: {r:#?}"
    );
}

#[tokio::test]
async fn judge_hostile_cannot_read_project_files_or_etc_shadow() {
    let paths = format!(
        "{}\n/etc/shadow\n/etc/passwd\n/root/.bashrc\n",
        project_file()
    );
    let r = hostile("python", "read_files.py", &paths, Some("nothing")).await;
    assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
}

#[tokio::test]
async fn judge_hostile_cannot_write_outside_tmp() {
    let r = hostile("python", "write_outside.py", "", Some("only tmp")).await;
    assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
}

#[tokio::test]
async fn judge_hostile_symlinks_to_host_paths_lead_nowhere() {
    let project = project_file();
    let before = std::fs::read(&project).unwrap();
    let shadow_before = std::fs::metadata("/etc/shadow")
        .and_then(|m| m.modified())
        .ok();
    let targets = format!("{project}\n/etc/shadow\n/etc/passwd\n");
    let r = hostile("python", "symlinks.py", &targets, Some("contained")).await;
    assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
    assert_eq!(
        std::fs::read(&project).unwrap(),
        before,
        "project file changed"
    );
    let shadow_after = std::fs::metadata("/etc/shadow")
        .and_then(|m| m.modified())
        .ok();
    assert_eq!(shadow_before, shadow_after, "/etc/shadow changed");
}

#[tokio::test]
async fn judge_hostile_compile_bomb_is_a_compilation_error() {
    let r = hostile("c", "compile_bomb.c", "", None).await;
    assert_eq!(r.verdict, Verdict::CE, "{r:#?}");
    assert!(r.tests.is_empty());
}

#[tokio::test]
async fn judge_hostile_killing_its_parent_harms_nothing() {
    let r = hostile("c", "kill_parent.c", "", None).await;
    // Its parent is the sandbox's init, which a signal from inside cannot kill; kill(-1)
    // reaches only the sandbox's own processes. The judge goes on (checked above).
    assert!(matches!(r.verdict, Verdict::AC | Verdict::RE), "{r:#?}");
}

#[tokio::test]
async fn judge_hostile_denied_syscalls_get_their_errno() {
    let want = "ptrace=EPERM unshare=EPERM mount=EPERM bpf=EPERM keyctl=EPERM \
                perf_event_open=EPERM userfaultfd=EPERM setns=EPERM clone_newns=EPERM \
                io_uring_setup=ENOSYS clone3=ENOSYS";
    let r = hostile("c", "denied_syscalls.c", "", Some(want)).await;
    assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
}
