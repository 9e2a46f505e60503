//! `arena demo` end to end: separate processes, crash restarts, clean stop, the browser
//! page and the stock socket.io client.

use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::harness::demo::Demo;
use crate::harness::{RoomsClient, eventually};

const WAIT: Duration = Duration::from_secs(5);

async fn status(addr: &str) -> Option<Value> {
    match arena::tools::http_client::http_get(addr, "/status").await {
        Ok((200, body)) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_killed_instance_is_restarted_and_clients_reconnect() {
    let mut demo = Demo::start(2, &[("TICK_MS", "500"), ("LOCK_TTL_MS", "400")]).await;
    let s0 = status(&demo.addr(0)).await.expect("status");
    assert_eq!(s0["instanceId"], "arena-0");
    let pid = s0["pid"].as_u64().unwrap() as i32;
    assert_ne!(pid as u32, demo.pid(), "instances are separate processes");
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let addr = demo.addr(0);
    let new = eventually(Duration::from_secs(20), "arena-0 to come back", || {
        let addr = addr.clone();
        async move {
            status(&addr)
                .await
                .filter(|s| s["pid"].as_u64() != Some(pid as u64))
        }
    })
    .await;
    assert_eq!(new["instanceId"], "arena-0");

    // Clients reconnect to the restarted instance and rooms work across instances again.
    let a = arena::tools::client::Client::connect(&demo.url(0), json!({"player": "a"}))
        .await
        .unwrap();
    let mut b = arena::tools::client::Client::connect(&demo.url(1), json!({"player": "b"}))
        .await
        .unwrap();
    for c in [&a, &b] {
        let ack = c.join("x").await;
        assert_eq!(ack["ok"], json!(true));
    }
    let ack = a.attack("x", 3).await;
    assert_eq!(ack["ok"], json!(true));
    let got = b.next_event("attack", WAIT).await.unwrap();
    assert_eq!(got["instanceId"], "arena-0");

    // SIGTERM stops everything cleanly: exit 0, ports closed. The clients stay connected
    // on purpose: shutdown must close them, not wait for them.
    let (code, demo) = tokio::task::spawn_blocking(move || {
        let code = demo.terminate(Duration::from_secs(30));
        (code, demo)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{:?}", demo.stdout());
    drop((a, b));
    for i in 0..2 {
        assert!(
            std::net::TcpStream::connect(demo.addr(i)).is_err(),
            "instance {i} still listening"
        );
    }
    let redis_line = demo
        .stdout()
        .into_iter()
        .find(|l| l.contains("started redis-server at"))
        .expect("redis line");
    let redis_port = redis_line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{redis_port}")).is_err(),
        "managed redis still running"
    );
}

/// Run a node script from tests/ui with the demo's URLs; fail with its output.
fn run_node(script: &str, urls: &[String]) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui");
    assert!(
        std::path::Path::new(dir).join("node_modules").exists(),
        "tests/ui/node_modules is missing: run `make test` (or `npm ci --prefix tests/ui`)"
    );
    let out = Command::new("node")
        .arg(script)
        .current_dir(dir)
        .env("ARENA_URLS", urls.join(","))
        .output()
        .expect("node is required for the browser and compatibility tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
}

#[tokio::test]
async fn stock_socket_io_client_works() {
    let demo = Demo::start(2, &[]).await;
    let urls = demo.urls();
    tokio::task::spawn_blocking(move || run_node("compat.mjs", &urls))
        .await
        .unwrap();
}

#[tokio::test]
async fn browser_page_shows_ticks_from_both_instances_and_own_attack() {
    let demo = Demo::start(2, &[("TICK_MS", "300"), ("LOCK_TTL_MS", "200")]).await;
    let urls = demo.urls();
    tokio::task::spawn_blocking(move || run_node("browser.mjs", &urls))
        .await
        .unwrap();
}

#[test]
fn a_missing_redis_server_is_a_one_line_error_naming_the_package() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["demo", "--port", "39000"])
        .env_remove("REDIS_URL")
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("redis-server") && last.contains("apt-get install redis-server"),
        "{err}"
    );
}

#[test]
fn bad_settings_are_refused_at_start_naming_the_setting() {
    for (env, want) in [
        (
            ("LOCK_TTL_MS", "2000"),
            "LOCK_TTL_MS: 2000 must be below TICK_MS (2000)",
        ),
        (("REDIS_URL", "http//nope"), "REDIS_URL"),
        (("TICK_MS", "abc"), "TICK_MS"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(["serve", "--port", "0"])
            .env("ARENA_AUTH", "dev")
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{env:?}: {err}");
    }
}

#[test]
fn a_lock_ttl_below_the_redlock_bound_is_refused_at_once() {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--port", "0"])
        .env("LOCK_TTL_MS", "60")
        .env("TICK_MS", "1000")
        // Nowhere to connect: the refusal must come before any Redis is needed.
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("LOCK_TTL_MS")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("Redlock minimum of 104 ms"), "{err}");
}

/// `arena demo` runs one `arena judge` on its Redis when this host can judge (bubblewrap,
/// cgroups), and otherwise says in one line that coding battles will pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_judge_when_this_host_can_judge() {
    // The demo's judge runs sandboxes (its host check does): take the judge tests' turn,
    // whose host-wide checks would see them.
    let _turn = crate::judge::turn().await;
    let can_judge = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["judge", "--check"])
        .output()
        .await
        .unwrap()
        .status
        .success();
    let mut demo = Demo::start(1, &[]).await;
    let stdout = || demo.stdout();
    let redis_url = stdout()
        .into_iter()
        .find_map(|l| {
            l.split("started redis-server at ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        })
        .expect("redis line");
    if can_judge {
        let conn = arena::redis::command_connection(
            &arena::redis::Endpoint::plain(redis_url.as_str()),
            Duration::from_secs(2),
        )
        .unwrap();
        let judges = eventually(Duration::from_secs(120), "a judge heartbeat", || {
            let mut c = conn.clone();
            async move {
                let ids: Vec<String> = redis::AsyncCommands::zrange(
                    &mut c,
                    arena::services::judge::keys::judges(),
                    0,
                    -1,
                )
                .await
                .ok()?;
                (!ids.is_empty()).then_some(ids)
            }
        })
        .await;
        assert_eq!(judges, ["demo-judge"]);
        assert!(
            stdout().iter().any(|l| l.contains("judge started")),
            "{:?}",
            stdout()
        );
    } else {
        let line = eventually(Duration::from_secs(120), "the no-judge warning", || async {
            stdout()
                .into_iter()
                .find(|l| l.contains("coding battles will pause: no judge ("))
        })
        .await;
        assert!(line.ends_with(')'), "{line}");
    }
    // The judge stops with the demo (the launcher waits for it).
    let code = tokio::task::block_in_place(|| demo.terminate(Duration::from_secs(30)));
    assert_eq!(code, Some(0), "{:?}", demo.stdout());
}
