//! `arena bench` against a real two-instance arena, on small sizes: exact counts, JSON
//! output, refusals and clear errors.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Arena, redis};

/// Run the real binary: (exit success, stdout, stderr).
fn bench(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run arena bench");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn fanout_counts_every_delivery_exactly() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        bench(&[
            "fanout",
            "--url",
            &urls,
            "--rooms",
            "3",
            "--clients",
            "4",
            "--rate",
            "400",
            "--duration",
            "2",
            "--json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let r = &report["result"];
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent >= 150, "{r}"); // 100 attacks/s for 2 s
    assert_eq!(r["expected"].as_u64().unwrap(), sent * 4);
    assert_eq!(
        r["delivered"], r["expected"],
        "no lost or invented deliveries: {r}"
    );
    assert_eq!(r["lost"], 0);
    // 4 clients per room over 2 instances: half of each room's members are remote.
    assert_eq!(r["cross"]["count"].as_u64().unwrap(), sent * 2);
    assert!(r["cross"]["p99_ms"].as_f64().unwrap() > 0.0);
    // Every accepted attack was counted once by the servers.
    let attacks =
        arena[0].metric("arena_attacks_total").await + arena[1].metric("arena_attacks_total").await;
    assert_eq!(attacks, sent as f64);
}

#[tokio::test]
async fn ticks_and_connections_scenarios_report_exact_counts() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.modes.rooms.tick_ms = 200;
        c.services.lock_ttl_ms = 150;
    })
    .await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("ticks.svg");
    let rss_plot = dir.path().join("rss.svg");
    let args = arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Ticks(arena::tools::bench::ticks::TicksArgs {
            common: arena::tools::bench::Common {
                plot: Some(plot.clone()),
                ..common(&urls)
            },
            seconds: 3,
        }),
    };
    let outcome = arena::tools::bench::run(args).await.unwrap();
    let c = &outcome.report["counts"];
    assert!(outcome.ok, "{}", outcome.report);
    assert!(c["intervals"].as_u64().unwrap() >= 10, "{c}");
    assert_eq!(c["with_1"], c["intervals"]);
    assert!(outcome.report["delay"]["count"].as_u64().unwrap() >= 20);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));

    let args = arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Connections(
            arena::tools::bench::connections::ConnectionsArgs {
                common: common(&urls),
                clients: 60,
                concurrency: 20,
                connect_rate: 0,
                // Three loopback source addresses, as 100k clients need.
                sources: 3,
                rss_plot: Some(rss_plot.clone()),
                per_process: 0,
                worker: false,
                first_index: 0,
                settle_ms: 100,
            },
        ),
    };
    let outcome = arena::tools::bench::run(args).await.unwrap();
    assert!(outcome.ok, "{}", outcome.report);
    assert_eq!(outcome.report["counted"], 60);
    assert_eq!(outcome.report["per_instance"][0]["clients"], 30);
    assert_eq!(outcome.report["sources"], 3);
    let points = outcome.report["rss_points"].as_array().unwrap();
    assert_eq!(points.len(), 21, "{points:?}");
    assert_eq!(points[20]["clients"], 60);
    let svg = std::fs::read_to_string(&rss_plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
}

fn common(urls: &str) -> arena::tools::bench::Common {
    arena::tools::bench::Common {
        url: urls.split(',').map(str::to_string).collect(),
        allow_remote: false,
        json: true,
        plot: None,
        token_secret: None,
    }
}

#[test]
fn a_remote_url_is_refused_without_the_flag() {
    // Refused before any connection is attempted.
    let (ok, _, err) = bench(&[
        "ticks",
        "--url",
        "http://203.0.113.5:3000",
        "--seconds",
        "1",
    ]);
    assert!(!ok);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn a_dead_server_is_a_clear_error_and_a_non_zero_exit() {
    let port = arena::tools::redis_server::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let (ok, _, err) = bench(&["fanout", "--url", &url, "--duration", "1"]);
    assert!(!ok);
    assert!(err.contains("is not answering /status"), "{err}");
    let (ok, _, err) = bench(&["connections", "--url", &url]);
    assert!(!ok, "{err}");
}

#[tokio::test]
async fn battles_scenario_creates_one_battle_per_pairing_and_round() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let args = arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Battles(
            arena::tools::bench::battles::BattlesArgs {
                common: common(&urls),
                pairings: 2,
                contenders: 3,
                rounds: 2,
            },
        ),
    };
    let outcome = arena::tools::bench::run(args).await.unwrap();
    assert!(outcome.ok, "{}", outcome.report);
    assert_eq!(outcome.report["starts"], 12);
    assert_eq!(outcome.report["created"], 4);
    assert_eq!(outcome.report["mismatches"], 0);
}

#[tokio::test]
async fn claims_scenario_never_sees_a_tile_with_two_owners() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.modes.hunt.map_ms = 200;
        c.modes.hunt.claim_rate = 100_000;
        // A map larger than the default: the tool aims at tiles all over it.
        c.modes.hunt.hunt_map_width = 300;
        c.modes.hunt.hunt_map_height = 200;
    })
    .await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let args = arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Claims(arena::tools::bench::claims::ClaimsArgs {
            common: common(&urls),
            players: 10,
            rate: 200,
            duration: 2,
            conflict: 0.3,
        }),
    };
    let outcome = arena::tools::bench::run(args).await.unwrap();
    let r = &outcome.report;
    assert!(outcome.ok, "{r}");
    assert_eq!(r["unanswered"], 0);
    assert_eq!(r["double_owned"], 0);
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent >= 300, "{r}");
    let answered: u64 = r["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(answered, sent, "every claim answered exactly once: {r}");
    assert!(r["outcomes"]["ok"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["outcomes"]["tile_taken"].as_u64().unwrap() > 0,
        "hot tiles conflict: {r}"
    );
    // The projection's lag comes from the servers' histogram: every acknowledged claim
    // was applied once (the tool waits for the projection to catch up).
    assert_eq!(
        r["leaderboard_lag"]["applied"].as_f64(),
        r["outcomes"]["ok"].as_f64(),
        "{r}"
    );
    assert!(
        r["leaderboard_lag"]["p99_ms"].as_f64().unwrap() >= 0.0,
        "{r}"
    );
    // The servers' own event-to-ack latency counts every claim they answered.
    assert_eq!(
        r["server_latency"]["count"].as_f64(),
        Some(sent as f64),
        "{r}"
    );
    assert!(
        r["server_latency"]["p99_ms"].as_f64().unwrap() >= 0.0,
        "{r}"
    );
    // Claims into the log per second: the ok claims over the seconds of claiming. Fresh
    // tiles never collide, so only the 30% aimed at hot tiles can be taken.
    let (ok, seconds) = (
        r["ok_claims"].as_f64().unwrap(),
        r["seconds"].as_f64().unwrap(),
    );
    assert!(
        (r["ok_per_s"].as_f64().unwrap() - ok / seconds).abs() < 1e-6,
        "{r}"
    );
    assert!(ok >= 0.6 * sent as f64, "{r}");
}

#[tokio::test]
async fn projection_scenario_applies_every_claim_it_wrote_once() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let args = arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Projection(
            arena::tools::bench::projection::ProjectionArgs {
                common: common(&urls),
                redis_url: redis.url(),
                rate: 400,
                duration: 2,
                partitions: arena::modes::hunt::PARTITIONS,
                in_flight: 8,
            },
        ),
    };
    let outcome = arena::tools::bench::run(args).await.unwrap();
    let r = &outcome.report;
    assert!(outcome.ok, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    let claimed = r["claimed"].as_u64().unwrap();
    assert!(claimed >= 700, "{r}");
    // Every claim written reached the boards once: the servers' lag histogram counted
    // each, and the tool's 200 players (or fewer) are on the global board.
    assert_eq!(
        r["leaderboard_lag"]["applied"].as_f64(),
        Some(claimed as f64),
        "{r}"
    );
    let mut conn = crate::harness::redis_conn(&redis.url()).await;
    let players: Vec<String> =
        redis::AsyncCommands::zrange(&mut conn, arena::modes::hunt::keys::lb_global(), 0, -1)
            .await
            .unwrap();
    let tool = players.iter().filter(|p| p.starts_with("proj-")).count() as u64;
    assert_eq!(tool, claimed.min(200), "{players:?}");
}

#[tokio::test]
async fn connections_scenario_signs_tokens_for_a_token_mode_server() {
    const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.auth.mode = arena::services::auth::AuthMode::Token;
        c.services.auth.token_secret = Some(SECRET.into());
    })
    .await;
    let connections = |token_secret: Option<&str>| arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Connections(
            arena::tools::bench::connections::ConnectionsArgs {
                common: arena::tools::bench::Common {
                    token_secret: token_secret.map(str::to_string),
                    ..common(&arena[0].url)
                },
                clients: 20,
                concurrency: 10,
                connect_rate: 200,
                sources: 0,
                rss_plot: None,
                per_process: 0,
                worker: false,
                first_index: 0,
                settle_ms: 100,
            },
        ),
    };
    let outcome = arena::tools::bench::run(connections(Some(SECRET)))
        .await
        .unwrap();
    assert!(outcome.ok, "{}", outcome.report);
    assert_eq!(outcome.report["counted"], 20);
    // Without the secret every handshake is refused: a clear error, not a hang.
    let err = arena::tools::bench::run(connections(None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unauthorized"), "{err}");
}

fn coding(
    urls: &str,
    pairing: arena::tools::bench::coding::Pairing,
) -> arena::tools::bench::BenchArgs {
    arena::tools::bench::BenchArgs {
        scenario: arena::tools::bench::Scenario::Coding(arena::tools::bench::coding::CodingArgs {
            common: common(urls),
            battles: 3,
            instances: Some(2),
            submit_every: std::time::Duration::from_millis(300),
            duration: std::time::Duration::from_secs(2),
            correct_percent: 50,
            pairing,
            judge_url: None,
        }),
    }
}

/// The coding scenario's pairing and submitting loop against two instances (no judge
/// here: what becomes of the submissions is the judge's tests' business). Both ways of
/// pairing give every pair a battle, and every submit is either taken or refused with a
/// code, none lost.
#[tokio::test]
async fn coding_scenario_pairs_every_player_and_accounts_for_every_submit() {
    use arena::tools::bench::coding::Pairing;
    let redis = redis();
    // No countdown: players may submit at once.
    let arena =
        Arena::spawn_with(&redis.url(), 2, |c| c.modes.battle.battle_countdown_ms = 0).await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    for pairing in [Pairing::Start, Pairing::Queue] {
        let outcome = arena::tools::bench::run(coding(&urls, pairing))
            .await
            .unwrap();
        let r = &outcome.report;
        assert_eq!(r["battles_started"], 3, "{pairing:?}: {r}");
        assert_eq!(r["players"], 6, "{r}");
        let refused: u64 = r["refused"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let tried = r["submitted"].as_u64().unwrap() + refused + r["ack_errors"].as_u64().unwrap();
        assert!(tried >= 6, "every player submitted within 2 s: {r}");
        assert_eq!(r["ack_errors"], 0, "every submit was answered: {r}");
    }
    // More instances than URLs is refused before anything connects.
    let mut args = coding(&arena[0].url, Pairing::Start);
    if let arena::tools::bench::Scenario::Coding(a) = &mut args.scenario {
        a.instances = Some(2);
    }
    let err = arena::tools::bench::run(args).await.unwrap_err();
    assert!(err.to_string().contains("--instances 2"), "{err}");
}

/// Past one process's share, `connections` opens its clients from several processes of
/// itself (as 100k clients on a box with a 20k open-files limit need) and still counts
/// every one, with every connect time.
#[tokio::test]
async fn connections_past_one_process_spread_over_worker_processes() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.limits.max_connections_per_ip = 0;
    })
    .await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("rss.svg");
    let plot_arg = plot.display().to_string();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        bench(&[
            "connections",
            "--url",
            &urls,
            "--clients",
            "2500",
            "--per-process",
            "1000",
            "--settle-ms",
            "200",
            "--rss-plot",
            &plot_arg,
            "--json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["processes"], 3, "{report}");
    assert_eq!(report["counted"], 2500, "{report}");
    assert_eq!(report["connect"]["count"], 2500, "{report}");
    assert!(std::fs::read_to_string(&plot).unwrap().contains("polyline"));
    // The workers closed their clients when the run ended.
    crate::harness::eventually(
        Duration::from_secs(10),
        "the workers' clients to close",
        || async {
            let now = arena[0].metric("arena_connected_clients").await
                + arena[1].metric("arena_connected_clients").await;
            (now == 0.0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn replay_scenario_recovers_every_missed_attack_on_the_other_instance() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let urls = format!("{},{}", arena[0].url, arena[1].url);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        bench(&[
            "replay", "--url", &urls, "--rooms", "2", "--rate", "50", "--missed", "20", "--rounds",
            "3", "--json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{err}\n{out}");
    let r: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(r["rounds"], 6, "{r}");
    // Every recovery replayed at least what it missed, with no gap and nothing twice.
    assert!(r["replayed_per_round"].as_u64().unwrap() >= 20, "{r}");
    assert_eq!(r["gaps"], 0, "{r}");
    assert_eq!(r["twice"], 0, "{r}");
    assert_eq!(r["resyncs"], 0, "{r}");
    assert_eq!(r["latency"]["count"], 6, "{r}");
}

/// The Node stack of `scripts/bench.sh side-by-side` (bench/node-stack): its two processes
/// on one Redis speak the rooms events the bench uses, deliver every attack across
/// instances, and `--proc-cpu` reads their CPU from /proc.
#[tokio::test]
async fn the_node_stack_delivers_across_its_instances_to_the_bench() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/node-stack");
    assert!(
        std::path::Path::new(dir).join("node_modules").exists(),
        "bench/node-stack/node_modules is missing: run `scripts/deps.sh test` (or `npm ci --prefix bench/node-stack`)"
    );
    let redis = redis();
    let port = crate::harness::free_port_pair_n(2);
    let mut node = tokio::process::Command::new("node")
        .arg("server.js")
        .current_dir(dir)
        .env("REDIS_URL", redis.url())
        .env("PORT", port.to_string())
        .env("INSTANCES", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node is required for the Node stack (scripts/deps.sh test installs it)");
    let addrs = [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{}", port + 1),
    ];
    for a in &addrs {
        crate::harness::wait_healthy(a, "the node stack").await;
    }
    let urls = format!("http://{},http://{}", addrs[0], addrs[1]);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        bench(&[
            "fanout",
            "--url",
            &urls,
            "--rooms",
            "2",
            "--clients",
            "4",
            "--rate",
            "200",
            "--duration",
            "2",
            "--proc-cpu",
            "--json",
        ])
    })
    .await
    .unwrap();
    // SIGTERM to the parent stops both instances.
    if let Some(pid) = node.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let stopped = tokio::time::timeout(Duration::from_secs(10), node.wait()).await;
    assert!(stopped.is_ok(), "the node stack did not stop on SIGTERM");
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let r = &report["result"];
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent >= 50, "{r}"); // 50 attacks/s for 2 s
    assert_eq!(r["delivered"], r["expected"], "{r}");
    assert_eq!(r["cross"]["count"].as_u64().unwrap(), sent * 2);
    assert_eq!(report["cpu_from"], "proc");
    assert!(r["server_cpu_s"].as_f64().unwrap() > 0.0, "{r}");
}
