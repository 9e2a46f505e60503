//! Every verdict in every language, from the small programs in `tests/judge/<lang>/`.

use arena::services::judge::Verdict;

use super::{judge, program, run, submission, sum_tests, turn};

/// Judge `tests/judge/<lang>/<case>.<ext>` on the a+b tests and check the verdict.
async fn expect(lang: &str, ext: &str, case: &str, want: Verdict) {
    let judge = judge().await;
    let _turn = turn().await;
    let sub = submission(lang, program(&format!("{lang}/{case}.{ext}")), sum_tests());
    let r = run(&judge, &sub).await;
    assert_eq!(r.verdict, want, "{lang}/{case}: {r:#?}");
    match want {
        Verdict::CE => {
            let c = r.compile.as_ref().unwrap();
            assert!(!c.ok && !c.output.is_empty(), "{lang}/{case}: {c:#?}");
            assert!(r.tests.is_empty());
        }
        _ => {
            assert_eq!(r.tests.len(), 2, "{lang}/{case}: every test runs");
            for t in &r.tests {
                assert_eq!(t.verdict, want, "{lang}/{case}: {t:#?}");
                assert!(t.stats.wall_ms > 0, "{lang}/{case}: wall time measured");
                assert!(
                    t.stats.memory_bytes > 0,
                    "{lang}/{case}: peak memory measured"
                );
            }
        }
    }
    if want == Verdict::AC {
        assert!(r.tests.iter().all(|t| t.stats.exit_code == Some(0)));
    }
    if want == Verdict::RE {
        let t = &r.tests[0];
        assert!(
            t.stats.signal.is_some() || t.stats.exit_code.is_some_and(|c| c != 0),
            "{lang}/{case}: RE carries its exit code or signal: {t:#?}"
        );
    }
    if want == Verdict::TLE {
        assert!(r.tests[0].stats.cpu_ms >= 500, "{lang}: CPU time measured");
    }
}

async fn all_verdicts(lang: &str, ext: &str) {
    for (case, want) in [
        ("ac", Verdict::AC),
        ("wa", Verdict::WA),
        ("ce", Verdict::CE),
        ("re", Verdict::RE),
        ("tle", Verdict::TLE),
        ("mle", Verdict::MLE),
        ("ole", Verdict::OLE),
    ] {
        expect(lang, ext, case, want).await;
    }
}

#[tokio::test]
async fn judge_verdicts_python() {
    all_verdicts("python", "py").await;
}

#[tokio::test]
async fn judge_verdicts_javascript() {
    all_verdicts("javascript", "js").await;
}

#[tokio::test]
async fn judge_verdicts_c() {
    all_verdicts("c", "c").await;
}

#[tokio::test]
async fn judge_verdicts_cpp() {
    all_verdicts("cpp", "cpp").await;
}

#[tokio::test]
async fn judge_verdicts_rust() {
    all_verdicts("rust", "rs").await;
}

/// IE is the judge's fault, never the program's: a judge whose sandbox cannot start
/// (here its helper binary is missing) answers IE in every language, with the reason.
#[tokio::test]
async fn judge_internal_error_in_every_language() {
    let real = judge().await;
    let _turn = turn().await;
    let setup = super::setup();
    let cgroups = arena::judge::cgroup::Cgroups::setup(&setup.cgroup_root).unwrap();
    let stage = setup.work_dir.join("stage");
    let sandbox = arena::judge::sandbox::Sandbox::new(
        &setup.bwrap,
        std::path::Path::new("/nonexistent/arena"),
        cgroups,
        &stage,
    )
    .unwrap();
    let jobs = setup.work_dir.join(format!("ie-{}", std::process::id()));
    std::fs::create_dir_all(&jobs).unwrap();
    let broken = arena::judge::Judge::new(sandbox, real.detected.clone(), jobs.clone());
    for (lang, ext) in [
        ("python", "py"),
        ("javascript", "js"),
        ("c", "c"),
        ("cpp", "cpp"),
        ("rust", "rs"),
    ] {
        let sub = submission(lang, program(&format!("{lang}/ac.{ext}")), sum_tests());
        let r = run(&broken, &sub).await;
        assert_eq!(r.verdict, Verdict::IE, "{lang}: {r:#?}");
        assert!(
            r.message.as_deref().unwrap_or("").contains("/nonexistent"),
            "{r:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(jobs);
}

/// `arena judge --check` lists the layers and languages; with a layer missing it says
/// which and how to install it, and fails.
#[tokio::test]
async fn judge_check_lists_layers_and_refuses_without_one() {
    let arena = env!("CARGO_BIN_EXE_arena");
    let work = super::setup().work_dir;
    let ok = tokio::process::Command::new(arena)
        .args(["judge", "--check", "--work-dir"])
        .arg(&work)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    for want in [
        "seccomp deny-list",
        "cgroup v",
        "python",
        "javascript",
        "c ",
        "cpp",
        "bits/stdc++.h precompiled",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    let missing = tokio::process::Command::new(arena)
        .args([
            "judge",
            "--check",
            "--bwrap",
            "/nonexistent/bwrap",
            "--work-dir",
        ])
        .arg(&work)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&missing.stdout);
    assert!(!missing.status.success());
    assert!(text.contains("MISSING namespaces (bubblewrap)"), "{text}");
    assert!(text.contains("apt-get install bubblewrap"), "{text}");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("must not judge"), "{err}");
}
