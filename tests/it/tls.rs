//! Redis over TLS with an ACL user: every connection arena opens (commands, pub/sub,
//! Redlock, stream readers, probes) works against a TLS-only Redis with a private CA, as
//! a user restricted to arena's keys and channels; a wrong password stops start-up with
//! one line that never shows a password; nothing arena serves shows the password.

use std::process::Command;
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::json;

use crate::harness::hunt::{self, store_map};
use crate::harness::serve::{Serve, TOKEN_SECRET};
use crate::harness::tls::{TlsRedis, USER};
use crate::harness::{Arena, BattleClient, HuntClient, Instance, RoomsClient, eventually};

const WAIT: Duration = Duration::from_secs(10);

/// The ACL is real: the `arena` user reaches only its own keys and channels, no
/// dangerous command, and there is no plain-text port.
async fn acl_is_restrictive(r: &TlsRedis) {
    let mut c = r.conn(&r.url()).await;
    let _: () = c.set("arena:{t}:probe", 1).await.unwrap();
    let e = c.set::<_, _, ()>("other:key", 1).await.unwrap_err();
    assert_eq!(e.code(), Some("NOPERM"), "{e}");
    let e = c.publish::<_, _, i64>("elsewhere", "x").await.unwrap_err();
    assert_eq!(e.code(), Some("NOPERM"), "{e}");
    let e = redis::cmd("FLUSHALL")
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NOPERM"), "{e}");
    // The default user needs its own password.
    let anon = arena::redis::command_connection(
        &arena::redis::Endpoint::new(format!("rediss://127.0.0.1:{}", r.server.port()), &r.tls()),
        Duration::from_secs(2),
    )
    .unwrap();
    let e = arena::redis::ping(&anon, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(arena::redis::is_auth_error(&e), "{e}");
    // Without the private CA the server's certificate is refused.
    let untrusted = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(r.url()),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(
        arena::redis::ping(&untrusted, Duration::from_secs(2))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn tls_acl_user_runs_rooms_ticks_battles_and_claims() {
    let r = TlsRedis::start();
    acl_is_restrictive(&r).await;
    let mut arena = Arena { instances: vec![] };
    for i in 0..2 {
        arena.instances.push(
            Instance::start(r.config(|c| {
                c.instance_id = Some(format!("t{i}"));
                c.modes.rooms.tick_ms = 300;
                c.services.lock_ttl_ms = 200;
                hunt::tweak(c);
            }))
            .await,
        );
    }

    // Rooms: an attack crosses instances over pub/sub.
    let mut a = arena[0].client_in("alice", "r1").await;
    let mut b = arena[1].client_in("bob", "r1").await;
    assert_eq!(a.attack("r1", 7).await, json!({"ok": true}));
    for c in [&mut a, &mut b] {
        let got = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(got["from"], "alice", "{got}");
        assert_eq!(got["instanceId"], "t0", "{got}");
    }

    // Ticks: the period race (Lua over TLS) produces ticks every client sees.
    let tick = b.next_event("server_tick", WAIT).await.unwrap();
    assert!(tick["tick"].as_u64().is_some(), "{tick}");

    // Battles: Redlock over the ACL user, the record readable from the other instance.
    let ack = a.start_battle(&["alice", "bob"]).await;
    assert_eq!(ack["created"], json!(true), "{ack}");
    let id = ack["battleId"].as_str().unwrap().to_string();
    let got = arena[1].get_json(&format!("/api/battles/{id}")).await;
    assert_eq!(got["state"], "active", "{got}");
    let end = b.end_battle(&id).await;
    assert_eq!(end, json!({"ok": true, "battleId": id}));

    // Claims: the claim script, then the stream consumer's projection to the board.
    let mut admin = r.admin().await;
    store_map(&mut admin, 5, &[(3, 40)], 120_000).await;
    let claim = b.claim(5, 3).await;
    assert_eq!(claim["ok"], json!(true), "{claim}");
    let lost = a.claim(5, 3).await;
    assert_eq!(lost["ok"], json!(false), "{lost}");
    eventually(WAIT, "the claim on the leaderboard", || async {
        let board = arena[0].get_json("/api/hunt/leaderboard").await;
        let top = &board["entries"][0];
        (top["player"] == "bob" && top["score"].as_f64() == Some(40.0)).then_some(())
    })
    .await;

    // The fleet registry (heartbeats from both instances).
    eventually(WAIT, "both instances in the fleet registry", || async {
        let fleet = arena[0].get_json("/api/admin/instances").await;
        (fleet["totals"]["instances"] == 2).then_some(())
    })
    .await;

    // Every key arena wrote is one the ACL allows (a write elsewhere would have failed).
    let keys: Vec<String> = admin.keys("*").await.unwrap();
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| k.starts_with("arena:")), "{keys:?}");

    // Nothing served shows the password.
    for inst in &arena.instances {
        assert_eq!(inst.get_json("/ready").await["status"], "ready");
        for path in ["/status", "/metrics", "/ready", "/health"] {
            let (_, body) = inst.get(path).await;
            assert!(!body.contains(r.password()), "{path} shows the password");
        }
    }
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}

#[tokio::test]
async fn tls_mutual_needs_the_client_certificate() {
    let r = TlsRedis::start_mutual();
    let with =
        arena::redis::Tls::load(Some(&r.ca()), Some((&r.client_cert(), &r.client_key()))).unwrap();
    let c = arena::redis::command_connection(
        &arena::redis::Endpoint::new(r.url(), &with),
        Duration::from_secs(5),
    )
    .unwrap();
    arena::redis::ping(&c, Duration::from_secs(5))
        .await
        .unwrap();
    let without = arena::redis::command_connection(
        &arena::redis::Endpoint::new(r.url(), &r.tls()),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(
        arena::redis::ping(&without, Duration::from_secs(2))
            .await
            .is_err()
    );
    // And an instance started with the settings works.
    let inst = Instance::start(r.config(|c| {
        c.services.redis_tls.redis_tls_cert = Some(r.client_cert());
        c.services.redis_tls.redis_tls_key = Some(r.client_key());
    }))
    .await;
    assert_eq!(inst.get_json("/ready").await["status"], "ready");
    inst.stop().await.unwrap();
}

#[test]
fn tls_wrong_password_stops_start_up_with_one_clear_line() {
    let r = TlsRedis::start();
    let ca = r.ca().display().to_string();
    let wrong = "not-the-password-31337";
    let url = r.url_as(USER, wrong);
    let out = Serve::run_to_exit(
        &[("REDIS_URL", &url), ("REDIS_TLS_CA", &ca)],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "one line expected: {out:?}");
    let port = r.server.port();
    assert_eq!(
        out.stderr[0],
        format!(
            "arena: cannot authenticate to Redis at rediss://arena:***@127.0.0.1:{port} as user \
             arena: WRONGPASS: the server refused the user name and password (wrong password, \
             or the user is unknown or disabled)"
        )
    );
    assert!(!out.stderr[0].contains(wrong), "the password leaked");

    // An unknown user is refused the same way.
    let url = r.url_as("mallory", r.password());
    let out = Serve::run_to_exit(
        &[("REDIS_URL", &url), ("REDIS_TLS_CA", &ca)],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "one line expected: {out:?}");
    assert!(
        out.stderr[0].contains("cannot authenticate to Redis at rediss://mallory:***@"),
        "{out:?}"
    );
    assert!(!out.stderr[0].contains(r.password()), "the password leaked");

    // No password at all, where one is needed.
    let url = format!("rediss://127.0.0.1:{port}");
    let out = Serve::run_to_exit(
        &[("REDIS_URL", &url), ("REDIS_TLS_CA", &ca)],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "one line expected: {out:?}");
    assert!(
        out.stderr[0].ends_with(
            "as user default: NOAUTH: the server needs a password and the URL gives none"
        ),
        "{out:?}"
    );

    // A Redlock master that refuses the password stops start-up too (its connections are
    // lazy, so nothing else would say so before the first lock).
    let good = r.url();
    let masters = format!("{good},{}/1", r.url_as(USER, wrong));
    let out = Serve::run_to_exit(
        &[
            ("REDIS_URL", &good),
            ("REDLOCK_URLS", &masters),
            ("REDIS_TLS_CA", &ca),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "one line expected: {out:?}");
    assert!(
        out.stderr[0].starts_with(&format!(
            "arena: cannot authenticate to Redis at rediss://arena:***@127.0.0.1:{port}/1 as user arena: WRONGPASS"
        )),
        "{out:?}"
    );
    assert!(!out.stderr[0].contains(wrong), "the password leaked");
}

#[tokio::test]
async fn tls_serve_never_prints_the_password() {
    let r = TlsRedis::start();
    let ca = r.ca().display().to_string();
    let url = r.url();
    // Debug logs of every crate, redis-rs's included: the most that could leak.
    let serve = Serve::start(&[
        ("REDIS_URL", &url),
        ("REDIS_TLS_CA", &ca),
        ("RUST_LOG", "debug"),
        ("INSTANCE_ID", "tls-logs"),
    ])
    .await;
    let get = |path: &'static str| {
        let addr = serve.addr.clone();
        async move {
            arena::tools::http_client::http_get(&addr, path)
                .await
                .unwrap()
        }
    };
    assert_eq!(get("/ready").await.0, 200);
    for path in ["/status", "/metrics", "/ready"] {
        assert!(!get(path).await.1.contains(r.password()), "{path}");
    }
    // `--help` names the setting without its value.
    let help = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--help"])
        .env("REDIS_URL", &url)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("REDIS_URL"), "{help}");
    assert!(!help.contains(r.password()), "--help shows the password");
    // `arena config print` shows the effective settings, the URL redacted.
    let print = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["config", "print"])
        .env("REDIS_URL", &url)
        .env("REDIS_TLS_CA", &ca)
        .output()
        .unwrap();
    let print = String::from_utf8_lossy(&print.stdout);
    assert!(print.contains("rediss://arena:***@127.0.0.1"), "{print}");
    assert!(print.contains("redis_tls_ca"), "{print}");
    assert!(
        !print.contains(r.password()),
        "config print shows the password"
    );

    let out = serve.stop();
    assert_eq!(out.code, Some(0), "{out:?}");
    let all = [out.stdout, out.stderr].concat();
    assert!(
        all.iter()
            .any(|l| l.contains("rediss://arena:***@127.0.0.1")),
        "the start-up line names the redacted URL: {all:?}"
    );
    let leaks: Vec<&String> = all
        .iter()
        .filter(|l| l.contains(r.password()) || l.contains(TOKEN_SECRET))
        .collect();
    assert!(leaks.is_empty(), "the password leaked: {leaks:?}");
}

#[test]
fn tls_tools_take_the_url_forms_and_the_ca() {
    let r = TlsRedis::start();
    let ca = r.ca().display().to_string();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(args)
            .env_remove("REDIS_URL")
            .env("REDIS_TLS_CA", &ca)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(r.password()), "the password leaked: {text}");
        (out.status.code(), text)
    };
    // `arena doctor` as an admin (it reads INFO and CONFIG).
    let (_, text) = run(&["doctor", "--redis-url", &r.admin_url()]);
    assert!(text.contains("redis version"), "{text}");
    assert!(!text.contains("cannot reach"), "{text}");
    // `arena hunt rebuild` as arena's own ACL user.
    let (code, text) = run(&["hunt", "rebuild", "--redis-url", &r.url()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("leaderboard rebuilt"), "{text}");
    // Without the CA the server's certificate is refused, in one line.
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["doctor", "--redis-url", &r.admin_url()])
        .env_remove("REDIS_TLS_CA")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.starts_with("arena: cannot reach Redis at rediss://default:***@127.0.0.1:"),
        "{err}"
    );
}

/// `arena judge` reaches a TLS-only Redis as the ACL user with REDIS_TLS_CA, as
/// `arena serve` does: it sends its heartbeat and judges a queued submission.
#[tokio::test]
async fn tls_judge_consumes_the_queue_over_tls() {
    let _judge = crate::judge::judge().await; // the precompiled header is built first
    let _turn = crate::judge::turn().await;
    let r = TlsRedis::start();
    let mut judge = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", r.url())
        .env("REDIS_TLS_CA", r.ca())
        .env("JUDGE_ID", "tls-judge")
        .env("JUDGE_CONCURRENCY", "1")
        .env("JUDGE_HEARTBEAT_MS", "300")
        .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut admin = r.admin().await;
    let judges: Vec<String> = eventually(Duration::from_secs(30), "the judge's heartbeat", || {
        let mut c = admin.clone();
        async move {
            let ids: Vec<String> = c
                .zrange(arena::services::judge::keys::judges(), 0, -1)
                .await
                .ok()?;
            (!ids.is_empty()).then_some(ids)
        }
    })
    .await;
    assert_eq!(judges, ["tls-judge"]);
    let mut c = r.conn(&r.url()).await;
    let sub = crate::judge::submission(
        "c",
        crate::judge::program("c/ac.c"),
        crate::judge::sum_tests(),
    );
    let token = arena::services::judge::queue::submit(&mut c, &sub)
        .await
        .unwrap();
    let status = arena::services::judge::queue::wait(&mut c, &token, Duration::from_secs(60))
        .await
        .unwrap();
    let arena::services::judge::queue::Status::Done(report) = status else {
        panic!("not judged over TLS: {status:?}");
    };
    assert_eq!(report.verdict, arena::services::judge::Verdict::AC);
    let pushed = arena::services::judge::queue::progress(&mut admin, &token, 0)
        .await
        .unwrap();
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    judge.start_kill().unwrap();
    judge.wait().await.unwrap();
}
