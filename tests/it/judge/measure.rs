//! Figures for BENCHMARKS.md ("Judge (issue 10)"), not a test: it asserts nothing about
//! speed and is ignored by default. Run it with
//! `cargo test --test it judge_measure -- --ignored --nocapture --test-threads 1`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena::judge::worker::{Worker, WorkerConfig};
use arena::services::judge::breaker::{Breaker, BreakerConfig};
use arena::services::judge::client::QueueBackend;
use arena::services::judge::guarded::Guarded;
use arena::services::judge::queue::{self, Status};
use arena::services::judge::{TestCase, Verdict};
use tokio_util::sync::CancellationToken;

use super::{judge, program, submission};
use crate::harness::redis;

fn ten_tests() -> Vec<TestCase> {
    (0..10)
        .map(|i| TestCase {
            stdin: format!("{i} {}\n", i * 7),
            expected: Some(format!("{}\n", i * 8)),
        })
        .collect()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::test]
#[ignore = "a measurement, run by hand (see BENCHMARKS.md)"]
async fn judge_measure() {
    let judge = judge().await;
    let _turn = super::turn().await;
    let server = redis();
    let url = server.url();
    let mut conn = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(url.as_str()),
        Duration::from_secs(2),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let cfg = WorkerConfig {
        judge_id: "measure".into(),
        concurrency: 2,
        reclaim_idle_ms: 30_000,
        max_deliveries: 3,
        heartbeat_ms: 1_000,
        address: String::new(),
    };
    tokio::spawn(
        Worker::new(
            judge.clone(),
            cfg,
            &arena::redis::Endpoint::plain(url.as_str()),
            arena::services::metrics::Metrics::new(),
        )
        .unwrap()
        .run(stop.clone()),
    );
    let per_setting = 8;

    println!("| language | concurrent jobs | p50 ms | p99 ms | jobs/s | jobs/s per core |");
    println!("|---|---|---|---|---|---|");
    for (lang, file) in [
        ("python", "python/ac.py"),
        ("javascript", "javascript/ac.js"),
        ("c", "c/ac.c"),
        ("cpp", "cpp/ac.cpp"),
        ("rust", "rust/ac.rs"),
    ] {
        let sub = submission(lang, program(file), ten_tests());
        // Warm-up (page cache, first compile).
        let t = queue::submit(&mut conn, &sub).await.unwrap();
        queue::wait(&mut conn, &t, Duration::from_secs(60))
            .await
            .unwrap();
        for concurrent in [1usize, 2] {
            let started = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..concurrent {
                let (mut c, sub) = (conn.clone(), sub.clone());
                handles.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    for _ in 0..per_setting {
                        let t0 = Instant::now();
                        let token = queue::submit(&mut c, &sub).await.unwrap();
                        let s = queue::wait(&mut c, &token, Duration::from_secs(120))
                            .await
                            .unwrap();
                        let Status::Done(r) = s else {
                            panic!("no verdict")
                        };
                        assert_eq!(r.verdict, Verdict::AC, "{r:#?}");
                        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.await.unwrap());
            }
            let secs = started.elapsed().as_secs_f64();
            let jobs = all.len() as f64;
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1) as f64;
            println!(
                "| {lang} | {concurrent} | {:.0} | {:.0} | {:.2} | {:.2} |",
                pct(&mut all, 0.5),
                pct(&mut all, 0.99),
                jobs / secs,
                jobs / secs / cores
            );
        }
    }

    // Sandbox overhead: the same C binary run bare and in the sandbox.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.c"), "int main(void){return 0;}").unwrap();
    let ok = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(dir.path().join("t"))
        .arg(dir.path().join("t.c"))
        .status()
        .unwrap();
    assert!(ok.success());
    let mut bare = Vec::new();
    for _ in 0..30 {
        let t0 = Instant::now();
        std::process::Command::new(dir.path().join("t"))
            .status()
            .unwrap();
        bare.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut boxed = Vec::new();
    for _ in 0..30 {
        let spec = arena::judge::sandbox::Spec {
            argv: vec!["/box/t".into()],
            binds: vec![arena::judge::sandbox::Bind {
                host: dir.path().to_path_buf(),
                inside: "/box".into(),
                writable: false,
            }],
            env: vec![],
            cwd: "/tmp".into(),
            stdin: vec![],
            cpu_ms: 1000,
            wall_ms: 5000,
            memory_bytes: 64 << 20,
            output_bytes: 4096,
            pids: 8,
            file_bytes: 1 << 20,
        };
        let t0 = Instant::now();
        let o = judge.sandbox.run(&spec).await;
        assert_eq!(o.end, arena::judge::sandbox::End::Exited(0), "{o:?}");
        boxed.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "\nsandbox overhead (empty C program): bare exec p50 {:.2} ms, sandboxed p50 {:.1} ms (p99 {:.1} ms)",
        pct(&mut bare, 0.5),
        pct(&mut boxed, 0.5),
        pct(&mut boxed, 0.99)
    );

    // Breaker open: the answer time of a submission (no judge heartbeat on a fresh Redis).
    stop.cancel();
    let other = redis();
    let c2 = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(other.url()),
        Duration::from_secs(2),
    )
    .unwrap();
    let guarded = Guarded {
        executor: Arc::new(QueueBackend::new(c2.clone())),
        breaker: Breaker::new(c2, BreakerConfig::default()),
        on_transition: Arc::new(|_| {}),
        metrics: None,
    };
    let sub = submission("c", program("c/ac.c"), ten_tests());
    let mut open = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        assert!(guarded.judge(&sub, Duration::from_secs(5)).await.is_err());
        open.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "breaker open: judge_unavailable answered in p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut open, 0.5),
        pct(&mut open, 0.99)
    );
}
