//! The fleet-wide judge breaker on a real Redis: two arena instances (two `Guarded`
//! values with their own connections), judges stopped and started.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arena::judge::worker::{Worker, WorkerConfig};
use arena::services::judge::Verdict;
use arena::services::judge::breaker::{Admission, Breaker, BreakerConfig, State};
use arena::services::judge::client::QueueBackend;
use arena::services::judge::guarded::{GuardError, Guarded};
use tokio_util::sync::CancellationToken;

use super::{judge, program, submission, sum_tests};
use crate::harness::redis;

fn cfg() -> BreakerConfig {
    BreakerConfig {
        window: Duration::from_secs(10),
        min_calls: 2,
        failure_rate: 0.5,
        open_for: Duration::from_millis(500),
        heartbeat_within: Duration::from_millis(1_500),
        probe_timeout: Duration::from_secs(20),
        max_queue_wait: Duration::ZERO,
    }
}

fn instance(url: &str, opened: Arc<AtomicUsize>) -> Guarded {
    let metrics = arena::services::metrics::Metrics::new();
    arena::services::judge::metrics::describe(&metrics);
    let conn = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(url),
        Duration::from_secs(2),
    )
    .unwrap();
    Guarded {
        executor: Arc::new(QueueBackend::new(conn.clone())),
        breaker: Breaker::new(conn, cfg()),
        on_transition: Arc::new(move |s| {
            if s == State::Open {
                opened.fetch_add(1, Ordering::SeqCst);
            }
        }),
        metrics: Some(metrics),
    }
}

#[tokio::test]
async fn judge_breaker_opens_fleet_wide_probes_once_and_closes_when_a_judge_is_back() {
    let judge = judge().await;
    let _turn = super::turn().await;
    let server = redis();
    let url = server.url();
    let opened = Arc::new(AtomicUsize::new(0));
    let (a, b) = (
        instance(&url, opened.clone()),
        instance(&url, opened.clone()),
    );
    let sub = submission("c", program("c/ac.c"), sum_tests());

    // No judge has ever sent a heartbeat: the first call on A opens the breaker, and B's
    // next call finds it open too; both fail fast with judge_unavailable.
    let e = a.judge(&sub, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, GuardError::Unavailable(_)), "{e}");
    assert_eq!(e.code().as_str(), "judge_unavailable");
    let e = b.judge(&sub, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, GuardError::Unavailable(_)), "{e}");
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "opened once, for the fleet"
    );
    let text = a.metrics.as_ref().unwrap().render();
    assert!(
        text.contains("arena_circuit_state{breaker=\"judge\"} 2"),
        "{text}"
    );
    let open_once = "arena_circuit_transitions_total{breaker=\"judge\",to=\"open\"} 1";
    assert!(text.contains(open_once), "{text}");
    let text = b.metrics.as_ref().unwrap().render();
    assert!(
        text.contains("arena_circuit_state{breaker=\"judge\"} 2"),
        "B sees it open: {text}"
    );

    // Half-open: twenty concurrent callers on two instances, exactly one probe.
    tokio::time::sleep(cfg().open_for + Duration::from_millis(100)).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        let br = if i % 2 == 0 {
            a.breaker.clone()
        } else {
            b.breaker.clone()
        };
        calls.push(tokio::spawn(
            async move { br.allow().await.unwrap().admission },
        ));
    }
    let mut probes = 0;
    for c in calls {
        match c.await.unwrap() {
            Admission::Probe => probes += 1,
            Admission::Open => {}
            Admission::Closed => panic!("closed while half-open"),
        }
    }
    assert_eq!(probes, 1, "one probe for the whole fleet");
    // That probe fails (no judge): open again.
    let step = a.breaker.record(false, true).await.unwrap();
    assert_eq!(step.state, State::Open);

    // A judge comes back: after the cool-down, the one probe goes through and is
    // judged, and the breaker closes for every instance.
    let stop = CancellationToken::new();
    let wcfg = WorkerConfig {
        judge_id: "breaker-test".into(),
        concurrency: 1,
        reclaim_idle_ms: 5_000,
        max_deliveries: 3,
        heartbeat_ms: 200,
        address: String::new(),
    };
    let run = tokio::spawn(
        Worker::new(
            judge,
            wcfg,
            &arena::redis::Endpoint::plain(url.as_str()),
            arena::services::metrics::Metrics::new(),
        )
        .unwrap()
        .run(stop.clone()),
    );
    tokio::time::sleep(cfg().open_for + Duration::from_millis(300)).await;
    let r = b.judge(&sub, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r.verdict, Verdict::AC);
    assert_eq!(a.breaker.allow().await.unwrap().state, State::Closed);
    assert_eq!(b.breaker.allow().await.unwrap().state, State::Closed);
    let r = a.judge(&sub, Duration::from_secs(30)).await.unwrap();
    assert_eq!(r.verdict, Verdict::AC);

    // Judges stopped again: once their heartbeat is older than the bound, the next call
    // on any instance opens it.
    stop.cancel();
    run.await.unwrap();
    tokio::time::sleep(cfg().heartbeat_within + Duration::from_millis(200)).await;
    let e = b.judge(&sub, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, GuardError::Unavailable(_)), "{e}");
    assert_eq!(a.breaker.allow().await.unwrap().admission, Admission::Open);
}

#[tokio::test]
async fn judge_breaker_opens_on_a_failure_rate() {
    let server = redis();
    let url = server.url();
    let conn = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(url.as_str()),
        Duration::from_secs(2),
    )
    .unwrap();
    // A judge "heartbeat" so that only the failure rate can open it.
    let _: () = redis::cmd("ZADD")
        .arg(arena::services::judge::keys::judges())
        .arg(i64::MAX / 2)
        .arg("someone")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let br = Breaker::new(conn, cfg());
    assert_eq!(br.allow().await.unwrap().admission, Admission::Closed);
    br.record(true, false).await.unwrap();
    // One ok and one failure: a rate of 0.5 over 2 calls, at the threshold: open.
    assert_eq!(br.record(false, false).await.unwrap().state, State::Open);
    assert_eq!(br.allow().await.unwrap().admission, Admission::Open);
}

/// Paused battles send no submission, so `peek` watches the judges instead: it opens
/// the breaker when they stop, and after the cool-down closes it once one is back,
/// without ever letting a submission through.
#[tokio::test]
async fn judge_breaker_peek_opens_without_judges_and_closes_when_one_is_back() {
    let judge = judge().await;
    let server = redis();
    let url = server.url();
    let opened = Arc::new(AtomicUsize::new(0));
    let a = instance(&url, opened.clone());
    let start = |judge| {
        let stop = CancellationToken::new();
        let wcfg = WorkerConfig {
            judge_id: "peek-test".into(),
            concurrency: 1,
            reclaim_idle_ms: 5_000,
            max_deliveries: 3,
            heartbeat_ms: 200,
            address: String::new(),
        };
        let w = Worker::new(
            judge,
            wcfg,
            &arena::redis::Endpoint::plain(url.as_str()),
            arena::services::metrics::Metrics::new(),
        )
        .unwrap();
        (stop.clone(), tokio::spawn(w.run(stop)))
    };
    let (stop, run) = start(judge.clone());
    crate::harness::eventually(Duration::from_secs(10), "a heartbeat", || async {
        (a.peek().await.unwrap().state == State::Closed).then_some(())
    })
    .await;

    // A peek before the worker's first heartbeat may have opened it already (then the
    // cool-down closed it): count from here.
    opened.store(0, Ordering::SeqCst);

    // The judge stops: peek says open (and says so once, as a transition).
    stop.cancel();
    run.await.unwrap();
    let step = a.peek().await.unwrap();
    assert_eq!(step.state, State::Open, "{step:?}");
    assert_eq!(step.admission, Admission::Open);
    assert_eq!(step.transition, Some(State::Open));
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    assert_eq!(a.peek().await.unwrap().transition, None, "still open");
    // After the cool-down with no judge, the peek is the probe and it fails: open again.
    tokio::time::sleep(cfg().open_for + Duration::from_millis(100)).await;
    let step = a.peek().await.unwrap();
    assert_eq!((step.state, step.admission), (State::Open, Admission::Open));

    // A judge is back: within the cool-down peek still says open; after it, closed.
    let (stop, run) = start(judge);
    crate::harness::eventually(Duration::from_secs(10), "the judge's heartbeat", || {
        let url = url.clone();
        async move {
            let mut c = super::queue::conn(&url).await;
            let n: usize =
                redis::AsyncCommands::zcard(&mut c, arena::services::judge::keys::judges())
                    .await
                    .ok()?;
            (n > 0).then_some(())
        }
    })
    .await;
    assert_eq!(a.peek().await.unwrap().state, State::Open);
    tokio::time::sleep(cfg().open_for + Duration::from_millis(100)).await;
    let step = a.peek().await.unwrap();
    assert_eq!(step.state, State::Closed, "{step:?}");
    assert_eq!(step.transition, Some(State::Closed));
    assert_eq!(step.admission, Admission::Closed);
    assert_eq!(
        a.breaker.allow().await.unwrap().admission,
        Admission::Closed
    );
    let text = a.metrics.as_ref().unwrap().render();
    assert!(
        text.contains("arena_circuit_state{breaker=\"judge\"} 0"),
        "{text}"
    );

    // While a submission's probe is out, peek neither probes nor lets anything through.
    stop.cancel();
    run.await.unwrap();
    assert_eq!(a.breaker.allow().await.unwrap().state, State::Open);
    tokio::time::sleep(cfg().open_for + Duration::from_millis(100)).await;
    assert_eq!(a.breaker.allow().await.unwrap().admission, Admission::Probe);
    let step = a.peek().await.unwrap();
    assert_eq!(
        (step.state, step.admission),
        (State::HalfOpen, Admission::Open)
    );
}

/// An instance builds one `Guarded` (`AppState::judge`) on its own registry: what its
/// breaker does shows in its `/metrics`.
#[tokio::test]
async fn judge_breaker_an_instance_has_one_guarded_on_its_metrics() {
    let server = redis();
    let config = crate::harness::app::config(&server.url(), |c| {
        c.services.judge.judge_breaker_open_ms = 60_000;
    });
    let app = arena::edge::app::App::build(config).await.unwrap();
    let judge = app.judge().clone();
    assert_eq!(judge.executor.backend(), "queue");
    let addr = app.local_addr().to_string();
    let stop = CancellationToken::new();
    let run = tokio::spawn(app.run(stop.clone()));
    // No judge runs: a peek opens the breaker (and the configured cool-down holds it).
    let step = judge.peek().await.unwrap();
    assert_eq!(step.state, State::Open);
    let (_, text) = arena::tools::http_client::http_get(&addr, "/metrics")
        .await
        .unwrap();
    assert!(
        text.contains("arena_circuit_state{breaker=\"judge\"} 2"),
        "{text}"
    );
    assert!(text.contains("# HELP arena_circuit_state "), "{text}");
    stop.cancel();
    let _ = run.await;
}
