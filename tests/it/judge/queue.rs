//! The judge queue: a real redis-server, `arena judge` processes and in-process workers.

use std::sync::Arc;
use std::time::Duration;

use arena::judge::worker::{Worker, WorkerConfig};
use arena::redis::Conn;
use arena::services::judge::queue::{self, Finished, Status};
use arena::services::judge::{Limits, Report, Verdict, keys};
use redis::AsyncCommands;
use tokio_util::sync::CancellationToken;

use super::{judge, program, submission, sum_tests, turn};
use crate::harness::{eventually, redis};

pub(super) async fn conn(url: &str) -> Conn {
    arena::redis::command_connection(&arena::redis::Endpoint::plain(url), Duration::from_secs(2))
        .unwrap()
}

/// An `arena judge` process on `url` named `id`.
pub(super) fn spawn_judge(url: &str, id: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", url)
        .env("JUDGE_ID", id)
        .env("JUDGE_CONCURRENCY", "1")
        // One run at a time: a kill lands between two tests, as the takeover tests expect.
        .env("JUDGE_PARALLEL_RUNS", "1")
        .env("JUDGE_RECLAIM_IDLE_MS", "2000")
        .env("JUDGE_HEARTBEAT_MS", "300")
        .env("JUDGE_WORK_DIR", super::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The consumer holding `entry` pending, if any.
async fn holder(c: &mut Conn) -> Option<(String, String, usize)> {
    let p: redis::streams::StreamPendingCountReply = c
        .xpending_count(keys::jobs(), keys::GROUP, "-", "+", 10)
        .await
        .ok()?;
    p.ids
        .first()
        .map(|i| (i.id.clone(), i.consumer.clone(), i.times_delivered))
}

async fn results_for(c: &mut Conn, token: &str) -> usize {
    let r: redis::streams::StreamRangeReply = c.xrange_all(keys::results()).await.unwrap();
    r.ids
        .iter()
        .filter(|e| e.get::<String>("token").as_deref() == Some(token))
        .count()
}

#[tokio::test]
async fn judge_queue_kill_9_mid_job_is_reclaimed_and_recorded_once() {
    let _judge = judge().await; // the precompiled header is built before the processes start
    let _turn = turn().await;
    let server = redis();
    let url = server.url();
    let mut c = conn(&url).await;
    let mut sub = submission(
        "python",
        program("python/slow.py"),
        sum_tests()[..1].to_vec(),
    );
    sub.limits = Limits {
        wall_ms: 10_000,
        ..sub.limits
    };
    let mut a = spawn_judge(&url, "judge-a");
    let token = queue::submit(&mut c, &sub).await.unwrap();
    let (entry, consumer, _) = eventually(Duration::from_secs(30), "judge-a takes the job", || {
        let mut c = c.clone();
        async move { holder(&mut c).await }
    })
    .await;
    assert_eq!(consumer, "judge-a");
    // Mid-job (the program sleeps 2 s): kill -9.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.start_kill().unwrap();
    a.wait().await.unwrap();
    assert_eq!(queue::status(&mut c, &token).await.unwrap(), Status::Queued);
    // Its sandbox died with it (bubblewrap's --die-with-parent).
    eventually(
        Duration::from_secs(5),
        "judge-a's sandboxed processes gone",
        || async { super::sandbox_processes().is_empty().then_some(()) },
    )
    .await;

    let mut b = spawn_judge(&url, "judge-b");
    let status = queue::wait(&mut c, &token, Duration::from_secs(60))
        .await
        .unwrap();
    let Status::Done(report) = status else {
        panic!("no result after the takeover: {status:?}");
    };
    assert_eq!(report.verdict, Verdict::AC, "{report:#?}");
    assert_eq!(
        results_for(&mut c, &token).await,
        1,
        "recorded exactly once"
    );
    assert!(holder(&mut c).await.is_none(), "nothing left pending");
    let xinfo: redis::streams::StreamInfoConsumersReply =
        c.xinfo_consumers(keys::jobs(), keys::GROUP).await.unwrap();
    assert!(
        xinfo.consumers.iter().any(|x| x.name == "judge-b"),
        "judge-b took it over"
    );
    let _ = entry;
    b.start_kill().unwrap();
    b.wait().await.unwrap();
}

#[tokio::test]
async fn judge_queue_records_a_result_only_once() {
    let server = redis();
    let mut c = conn(&server.url()).await;
    queue::ensure_group(&mut c).await.unwrap();
    let sub = submission("c", "int main(){}".into(), sum_tests());
    let token = queue::submit(&mut c, &sub).await.unwrap();
    let report = |v: Verdict| Report {
        verdict: v,
        language: "c".into(),
        version: "x".into(),
        compile: None,
        tests: vec![],
        message: None,
    };
    let (first, second) = (report(Verdict::AC), report(Verdict::WA));
    let f = |r| Finished {
        token: &token,
        entry: "0-1",
        judge: "j",
        report: r,
        dead_letter: None,
        deliveries: 1,
    };
    assert!(queue::record(&mut c, &f(&first)).await.unwrap());
    assert!(!queue::record(&mut c, &f(&second)).await.unwrap());
    assert_eq!(
        queue::status(&mut c, &token).await.unwrap(),
        Status::Done(Box::new(first))
    );
    assert_eq!(results_for(&mut c, &token).await, 1);
    assert_eq!(
        queue::status(&mut c, "nope").await.unwrap(),
        Status::Unknown
    );
}

#[tokio::test]
async fn judge_queue_poison_job_is_dead_lettered_and_answered() {
    let judge = judge().await;
    let _turn = turn().await;
    let server = redis();
    let url = server.url();
    let mut c = conn(&url).await;
    queue::ensure_group(&mut c).await.unwrap();
    // A job no judge can parse: answered IE and dead-lettered at its first delivery.
    let _: String = c
        .xadd(
            keys::jobs(),
            "*",
            &[("token", "poison"), ("submission", "{not json")],
        )
        .await
        .unwrap();
    let _: () = c.set(keys::job("poison"), "queued").await.unwrap();
    let cfg = WorkerConfig {
        judge_id: "w1".into(),
        concurrency: 2,
        reclaim_idle_ms: 2_000,
        max_deliveries: 2,
        heartbeat_ms: 300,
        address: String::new(),
    };
    let stop = CancellationToken::new();
    let worker = Worker::new(
        judge.clone(),
        cfg,
        &arena::redis::Endpoint::plain(url.as_str()),
        arena::services::metrics::Metrics::new(),
    )
    .unwrap();
    let run = tokio::spawn(worker.run(stop.clone()));
    // And an ordinary job next to it.
    let token = queue::submit(&mut c, &submission("c", program("c/ac.c"), sum_tests()))
        .await
        .unwrap();
    let Status::Done(r) = queue::wait(&mut c, "poison", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("poison job not answered");
    };
    assert_eq!(r.verdict, Verdict::IE);
    let dead: redis::streams::StreamRangeReply = c.xrange_all(keys::dead()).await.unwrap();
    assert_eq!(dead.ids.len(), 1);
    let Status::Done(r) = queue::wait(&mut c, &token, Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("ordinary job not answered");
    };
    assert_eq!(r.verdict, Verdict::AC);
    stop.cancel();
    run.await.unwrap();
    let _ = Arc::strong_count(&judge);
}
