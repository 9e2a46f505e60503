//! Per-test progress: a judge pushes each finished test as it goes, and
//! `Guarded::judge_streaming` passes each on once, in order, before the report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arena::judge::worker::{Worker, WorkerConfig};
use arena::redis::Conn;
use arena::services::judge::breaker::{Breaker, BreakerConfig};
use arena::services::judge::client::QueueBackend;
use arena::services::judge::guarded::Guarded;
use arena::services::judge::queue::{self, Status};
use arena::services::judge::{Limits, Progress, Report, TestCase, Verdict, keys};
use redis::AsyncCommands;
use tokio_util::sync::CancellationToken;

use super::queue::{conn, spawn_judge};
use super::{judge, program, submission, sum_tests, turn};
use crate::harness::{eventually, redis};

fn guarded(conn: Conn) -> Guarded {
    Guarded {
        executor: Arc::new(QueueBackend::new(conn.clone())),
        breaker: Breaker::new(
            conn,
            BreakerConfig {
                max_queue_wait: Duration::ZERO,
                ..BreakerConfig::default()
            },
        ),
        on_transition: Arc::new(|_| {}),
        metrics: None,
    }
}

/// An in-process worker on `url`; cancel the token to stop it.
async fn worker(url: &str) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let cfg = WorkerConfig {
        judge_id: "progress-test".into(),
        concurrency: 1,
        reclaim_idle_ms: 5_000,
        max_deliveries: 3,
        heartbeat_ms: 200,
        address: String::new(),
    };
    let w = Worker::new(
        judge().await,
        cfg,
        &arena::redis::Endpoint::plain(url),
        arena::services::metrics::Metrics::new(),
    )
    .unwrap();
    let run = tokio::spawn(w.run(stop.clone()));
    (stop, run)
}

/// Until some judge has sent a heartbeat (the breaker lets nothing through before).
async fn heartbeat(c: &Conn) {
    eventually(Duration::from_secs(30), "a judge heartbeat", || {
        let mut c = c.clone();
        async move {
            let n: usize = c.zcard(keys::judges()).await.ok()?;
            (n > 0).then_some(())
        }
    })
    .await;
}

/// The entries a report stands for, as (test, verdict, time).
fn from_report(r: &Report) -> Vec<(u32, Verdict, u64)> {
    r.tests
        .iter()
        .zip(1..)
        .map(|(t, i)| (i, t.verdict, t.stats.cpu_ms))
        .collect()
}

#[tokio::test]
async fn judge_progress_three_tests_come_in_order_before_the_report() {
    let _turn = turn().await;
    let server = redis();
    let url = server.url();
    let c = conn(&url).await;
    let (stop, run) = worker(&url).await;
    heartbeat(&c).await;
    let mut tests = sum_tests();
    tests.push(TestCase {
        stdin: "2 2\n".into(),
        expected: Some("5\n".into()),
    });
    tests.swap(1, 2); // AC, WA, AC
    let sub = submission("c", program("c/ac.c"), tests);
    let seen = Mutex::new(Vec::<Progress>::new());
    let report = guarded(c.clone())
        .judge_streaming(&sub, Duration::from_secs(60), |p| {
            seen.lock().unwrap().push(*p)
        })
        .await
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(report.verdict, Verdict::WA, "{report:#?}");
    assert_eq!(
        seen.iter()
            .map(|p| (p.test, p.verdict, p.time_ms))
            .collect::<Vec<_>>(),
        from_report(&report),
        "one entry per test, in order, matching the report"
    );
    assert!(seen.iter().all(|p| p.of == 3), "{seen:?}");
    assert_eq!(
        seen.iter().map(|p| p.verdict).collect::<Vec<_>>(),
        [Verdict::AC, Verdict::WA, Verdict::AC]
    );
    // The judge pushed all three as it went (none was made up from the report).
    let mut c = c;
    let listed: Vec<String> = c.keys("arena:{judge}:progress:*").await.unwrap();
    let token = listed[0].rsplit(':').next().unwrap();
    assert_eq!(queue::progress(&mut c, token, 0).await.unwrap(), seen);
    assert_eq!(queue::progress(&mut c, token, 2).await.unwrap(), seen[2..]);
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn judge_progress_a_compile_error_is_one_test_zero_entry() {
    let _turn = turn().await;
    let server = redis();
    let url = server.url();
    let mut c = conn(&url).await;
    let (stop, run) = worker(&url).await;
    heartbeat(&c).await;
    let sub = submission("c", program("c/ce.c"), sum_tests());
    let seen = Mutex::new(Vec::<Progress>::new());
    let report = guarded(c.clone())
        .judge_streaming(&sub, Duration::from_secs(60), |p| {
            seen.lock().unwrap().push(*p)
        })
        .await
        .unwrap();
    assert_eq!(report.verdict, Verdict::CE, "{report:#?}");
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].test, seen[0].of, seen[0].verdict),
        (0, 2, Verdict::CE)
    );
    // The judge pushed it (it was not made up from the report).
    let listed: Vec<String> = c.keys("arena:{judge}:progress:*").await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let token = listed[0].rsplit(':').next().unwrap();
    let pushed = queue::progress(&mut c, token, 0).await.unwrap();
    assert_eq!(pushed, seen);
    let ttl: i64 = c.ttl(&listed[0]).await.unwrap();
    assert!(ttl > 0 && ttl <= queue::RESULT_TTL_S as i64, "{ttl}");
    stop.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn judge_progress_a_judge_killed_mid_job_still_yields_each_test_once() {
    let _judge = judge().await; // the precompiled header is built before the processes start
    let _turn = turn().await;
    let server = redis();
    let url = server.url();
    let mut c = conn(&url).await;
    let mut a = spawn_judge(&url, "judge-a");
    heartbeat(&c).await;
    // Three tests of 2 s each (the program sleeps first).
    let mut sub = submission(
        "python",
        program("python/slow.py"),
        vec![sum_tests()[0].clone(); 3],
    );
    sub.limits = Limits {
        wall_ms: 10_000,
        ..sub.limits
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let g = guarded(c.clone());
    let caller = tokio::spawn(async move {
        g.judge_streaming(&sub, Duration::from_secs(90), move |p| {
            let _ = tx.send(*p);
        })
        .await
    });
    // Test 1 is passed on while the job runs: then judge-a is killed.
    let first = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("test 1 within 30 s")
        .expect("the caller is alive");
    assert_eq!((first.test, first.of, first.verdict), (1, 3, Verdict::AC));
    let listed: Vec<String> = c.keys("arena:{judge}:progress:*").await.unwrap();
    let token = listed[0].rsplit(':').next().unwrap().to_string();
    assert_eq!(
        queue::status(&mut c, &token).await.unwrap(),
        Status::Queued,
        "progress is seen before the job is done"
    );
    a.start_kill().unwrap();
    a.wait().await.unwrap();

    // judge-b takes the job over and runs all three tests again.
    let mut b = spawn_judge(&url, "judge-b");
    let report = caller.await.unwrap().unwrap();
    assert_eq!(report.verdict, Verdict::AC, "{report:#?}");
    let mut rest = Vec::new();
    while let Ok(p) = rx.try_recv() {
        rest.push(p);
    }
    let mut seen = vec![first];
    seen.extend(rest);
    assert_eq!(
        seen.iter()
            .map(|p| (p.test, p.verdict, p.time_ms))
            .collect::<Vec<_>>()[1..],
        from_report(&report)[1..],
        "tests 2 and 3 as judge-b judged them"
    );
    assert_eq!(
        seen.iter().map(|p| p.test).collect::<Vec<_>>(),
        [1, 2, 3],
        "each test once, in order"
    );
    let pushed = queue::progress(&mut c, &token, 0).await.unwrap();
    assert_eq!(
        pushed.iter().map(|p| p.test).collect::<Vec<_>>(),
        [1, 1, 2, 3],
        "both judges pushed test 1"
    );
    b.start_kill().unwrap();
    b.wait().await.unwrap();
}
