//! Metrics add up to what happened.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Arena, RoomsClient, eventually, redis};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn attacks_and_clients_are_counted_per_instance() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let a = arena[0].client_in("a", "room").await;
    let b = arena[1].client_in("b", "room").await;
    let b2 = arena[1].client("b2").await;
    for _ in 0..5 {
        let ack = a.attack("room", 1).await;
        assert_eq!(ack["ok"], json!(true));
    }
    for _ in 0..3 {
        let ack = b.attack("room", 2).await;
        assert_eq!(ack["ok"], json!(true));
    }
    // A rejected attack is not counted.
    a.attack("nope", 1).await;

    let total =
        arena[0].metric("arena_attacks_total").await + arena[1].metric("arena_attacks_total").await;
    assert_eq!(total, 8.0);
    assert_eq!(arena[0].metric("arena_connected_clients").await, 1.0);
    assert_eq!(arena[1].metric("arena_connected_clients").await, 2.0);
    assert_eq!(
        arena[0].get_json("/status").await["connectedClients"],
        json!(1)
    );
    assert_eq!(arena[1].metric("arena_active_rooms").await, 1.0);

    b2.close();
    eventually(WAIT, "client count to drop", || async {
        (arena[1].metric("arena_connected_clients").await == 1.0).then_some(())
    })
    .await;
    let (_, text) = arena[0].get("/metrics").await;
    assert!(
        text.contains(r#"arena_handler_duration_seconds_bucket{handler="attack",le="0.001"}"#),
        "{text}"
    );
    assert!(
        text.contains("arena_redis_pubsub_roundtrip_seconds"),
        "{text}"
    );
}

#[tokio::test]
async fn health_ready_status() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    assert_eq!(arena[0].get("/health").await.0, 200);
    assert_eq!(arena[0].get("/ready").await.0, 200);
    let s = arena[0].get_json("/status").await;
    assert_eq!(s["instanceId"], "i0");
    assert_eq!(s["pid"], json!(std::process::id()));
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptimeSeconds"].as_f64().is_some());
    assert!(s["rssBytes"].as_u64().unwrap() > 0);
    let (status, page) = arena[0].get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page:.200}");
    assert_eq!(arena[0].get("/app.js").await.0, 200);
}

/// Every metric `/metrics` exports describes itself: a `# HELP` line with text before its
/// `# TYPE` line.
#[tokio::test]
async fn every_metric_has_help() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let (_, body) = arena[0].get("/metrics").await;
    let mut helped = std::collections::HashSet::new();
    let mut typed = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!text.trim().is_empty(), "empty help: {line}");
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap_or("").to_string());
        }
    }
    assert!(
        typed.len() > 30,
        "only {} metrics: {body:.500}",
        typed.len()
    );
    let missing: Vec<&String> = typed.iter().filter(|n| !helped.contains(*n)).collect();
    assert!(missing.is_empty(), "metrics without # HELP: {missing:?}");
    // Process metrics under the standard names dashboards expect; no gauge named _total.
    for std_name in [
        "process_cpu_seconds_total counter",
        "process_resident_memory_bytes gauge",
    ] {
        assert!(
            body.contains(&format!("# TYPE {std_name}")),
            "{std_name}: {body:.300}"
        );
    }
    let bad: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("# TYPE ") && l.ends_with(" gauge"))
        .filter(|l| l.split(' ').nth(2).is_some_and(|n| n.ends_with("_total")))
        .collect();
    assert!(bad.is_empty(), "gauges named _total: {bad:?}");
}

/// The metric names a `/metrics` text declares (`# TYPE` lines).
fn declared(body: &str) -> std::collections::HashSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

/// The Grafana dashboard in `deploy/` parses, and every metric in every expression is one
/// that arena exports, seen after some traffic on the process that exports it: an
/// instance (rooms, battles, hunt, the breaker it sees) or a real `arena judge` that
/// judged one submission (the queue depth, its jobs and their duration).
#[tokio::test]
async fn the_grafana_dashboard_uses_only_exported_metrics() {
    use crate::harness::BattleClient;
    use crate::harness::hunt::{HuntClient, store_map, tweak};
    // The judge's precompiled header is built once for the suite; judge tests take turns.
    let _judge = crate::judge::judge().await;
    let _turn = crate::judge::turn().await;

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/arena.json"
    ))
    .unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 20, "{}", exprs.len());

    // Traffic so that histograms and labelled series exist: attacks, a battle (a lock),
    // a claim applied to the board, ticks.
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        tweak(c);
        c.modes.rooms.tick_ms = 200;
        c.services.lock_ttl_ms = 150;
    })
    .await;
    let a = arena[0].client_in("a", "r").await;
    let _b = arena[0].client_in("b", "r").await;
    a.attack("r", 1).await;
    a.start_battle(&["a", "b"]).await;
    let mut conn = arena::redis::Conn::from(
        redis::Client::open(redis.url())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap(),
    );
    store_map(&mut conn, 11, &[(1, 5)], 60_000).await;
    a.claim(11, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (_, body) = arena[0].get("/metrics").await;
    let instance = declared(&body);

    // A real judge with its HTTP port (its /metrics), one submission through the queue.
    let judge_port = crate::harness::free_port_pair_n(1);
    let _judge_process = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", redis.url())
        .env("JUDGE_ID", "metrics-judge")
        .env("JUDGE_PORT", judge_port.to_string())
        .env("JUDGE_HEARTBEAT_MS", "300")
        .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let sub = crate::judge::submission(
        "python",
        "a, b = map(int, input().split())\nprint(a + b)\n".into(),
        crate::judge::sum_tests(),
    );
    arena::services::judge::queue::ensure_group(&mut conn)
        .await
        .unwrap();
    let token = arena::services::judge::queue::submit(&mut conn, &sub)
        .await
        .unwrap();
    let done = arena::services::judge::queue::wait(&mut conn, &token, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        matches!(done, arena::services::judge::queue::Status::Done(_)),
        "{done:?}"
    );
    // And one that does not parse: dead-lettered at once.
    let _: String = redis::AsyncCommands::xadd(
        &mut conn,
        arena::services::judge::keys::jobs(),
        "*",
        &[("token", "poison"), ("submission", "not json")],
    )
    .await
    .unwrap();
    let judge_addr = format!("127.0.0.1:{judge_port}");
    let judge = eventually(
        Duration::from_secs(10),
        "the judge's job and queue gauge",
        || {
            let judge_addr = judge_addr.clone();
            async move {
                let (_, body) = arena::tools::http_client::http_get(&judge_addr, "/metrics")
                    .await
                    .ok()?;
                let d = declared(&body);
                let all = [
                    "arena_judge_jobs_total",
                    "arena_judge_dead_letters_total",
                    "arena_queue_depth",
                ];
                all.iter().all(|m| d.contains(*m)).then_some(d)
            }
        },
    )
    .await;

    let exported: std::collections::HashSet<String> = instance.union(&judge).cloned().collect();
    let mut unknown = Vec::new();
    for expr in &exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            if !(word.starts_with("arena_") || word.starts_with("process_")) {
                continue;
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .unwrap_or(word);
            if !exported.contains(word) && !exported.contains(base) {
                unknown.push(word.to_string());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard names metrics arena does not export: {unknown:?}"
    );
}
