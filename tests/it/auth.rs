//! Identity and authorization (issue 9): signed tokens at the handshake and on HTTP,
//! who may end a battle, admin routes, allowed origins, the internal port, `arena token`.

use std::process::Command;
use std::time::Duration;

use arena::base::ids::PlayerId;
use arena::services::auth::AuthMode;
use arena::services::auth::token::{Claims, Tokens};
use arena::tools::client::{Client, ClientError};
use arena::tools::http_client::http_request;
use serde_json::{Value, json};

use crate::harness::{Arena, BattleClient, redis};

const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
const WAIT: Duration = Duration::from_secs(5);

fn tokens() -> Tokens {
    Tokens::new(SECRET.as_bytes())
}

fn token(player: &str, roles: &[&str]) -> String {
    tokens()
        .issue(
            &PlayerId::parse(player).unwrap(),
            Some(&arena::base::ids::DisplayName::parse(&format!("{player} (display)")).unwrap()),
            roles.iter().map(|r| r.to_string()).collect(),
            Duration::from_secs(600),
        )
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `n` instances in token mode with the test secret.
async fn token_arena(redis_url: &str, n: usize) -> Arena {
    Arena::spawn_with(redis_url, n, |c| {
        c.services.auth.mode = AuthMode::Token;
        c.services.auth.token_secret = Some(SECRET.into());
    })
    .await
}

/// The refusal message of a handshake that must fail.
async fn refused(url: &str, auth: Value) -> String {
    match Client::connect(url, auth.clone()).await {
        Err(ClientError::Refused(m)) => m,
        Err(e) => panic!("{auth}: expected a connect error, got {e}"),
        Ok(_) => panic!("{auth}: connected, expected a refusal"),
    }
}

async fn welcome(c: &mut Client) -> Value {
    c.next_event("welcome", WAIT).await.unwrap()
}

#[tokio::test]
async fn only_a_valid_token_gets_in_and_its_subject_is_the_player() {
    let redis = redis();
    let arena = token_arena(&redis.url(), 1).await;
    let url = &arena[0].url;

    let mut alice = Client::connect(url, json!({"token": token("alice", &[])}))
        .await
        .unwrap();
    let hello = welcome(&mut alice).await;
    assert_eq!(hello["player"], "alice");
    assert_eq!(hello["name"], "alice (display)");

    let expired = tokens()
        .sign(&Claims {
            sub: "alice".into(),
            exp: now() - 120,
            iat: None,
            name: None,
            roles: vec![],
        })
        .unwrap();
    let other_secret = Tokens::new(b"a different secret, also 32+ bytes long")
        .issue(
            &PlayerId::parse("alice").unwrap(),
            None,
            vec![],
            Duration::from_secs(600),
        )
        .unwrap();
    let bad_name = tokens()
        .sign(&Claims {
            sub: "alice".into(),
            exp: now() + 600,
            iat: None,
            name: Some("x".repeat(65)),
            roles: vec![],
        })
        .unwrap();
    let bad_sub = tokens()
        .sign(&Claims {
            sub: "not a player!".into(),
            exp: now() + 600,
            iat: None,
            name: None,
            roles: vec![],
        })
        .unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let alg_none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(format!(r#"{{"sub":"alice","exp":{}}}"#, now() + 600))
    );
    let cases = [
        (json!({"token": expired}), "token_expired:"),
        (json!({"token": other_secret}), "unauthorized:"),
        (json!({"token": "not.a.jwt"}), "unauthorized:"),
        (json!({"token": ""}), "unauthorized:"),
        (json!({"token": alg_none}), "unauthorized:"),
        (json!({"token": bad_sub}), "unauthorized:"),
        (json!({"token": bad_name}), "unauthorized:"),
        (json!({}), "unauthorized:"),
        // Dev-mode style naming is not accepted in token mode.
        (json!({"player": "alice"}), "unauthorized:"),
        // A token for alice never acts as bob.
        (
            json!({"token": token("alice", &[]), "player": "bob"}),
            "unauthorized:",
        ),
        (json!({"token": 42}), "unauthorized:"),
    ];
    for (auth, code) in cases {
        let msg = refused(url, auth.clone()).await;
        assert!(msg.starts_with(code), "{auth}: {msg}");
    }

    // The first client and the process are unharmed; new valid clients still get in.
    assert!(!alice.is_closed());
    let mut bob = Client::connect(url, json!({"token": token("bob", &[])}))
        .await
        .unwrap();
    assert_eq!(welcome(&mut bob).await["player"], "bob");
    let i = &arena[0];
    assert_eq!(
        i.metric(r#"arena_auth_failures_total{reason="expired"}"#)
            .await,
        1.0
    );
    assert_eq!(
        i.metric(r#"arena_auth_failures_total{reason="bad_signature"}"#)
            .await,
        1.0
    );
    assert_eq!(
        i.metric(r#"arena_auth_failures_total{reason="missing"}"#)
            .await,
        2.0
    );
    assert_eq!(
        i.metric(r#"arena_auth_failures_total{reason="player_mismatch"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn only_a_battles_players_may_end_it_and_spectators_watch() {
    let redis = redis();
    let arena = token_arena(&redis.url(), 2).await;
    let connect = |i: usize, p: &'static str| {
        let url = arena[i].url.clone();
        async move {
            Client::connect(&url, json!({"token": token(p, &[])}))
                .await
                .unwrap()
        }
    };
    let alice = connect(0, "alice").await;
    let carol = connect(1, "carol").await;
    let _bob = connect(1, "bob").await;
    // A matchmaker or spectator may pair players; it is not one of them.
    let ack = carol.start_battle(&["alice", "bob"]).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let id = ack["battleId"].as_str().unwrap().to_string();

    let denied = carol.end_battle(&id).await;
    assert_eq!(denied["ok"], json!(false), "{denied}");
    assert_eq!(denied["error"]["code"], "forbidden", "{denied}");
    let still = arena[0].get_json(&format!("/api/battles/{id}")).await;
    assert_eq!(still["state"], "active");

    let ended = alice.end_battle(&id).await;
    assert_eq!(ended, json!({"ok": true, "battleId": id}));
    assert_eq!(
        arena[1]
            .metric(r#"arena_auth_failures_total{reason="forbidden"}"#)
            .await,
        1.0
    );
}

async fn call(addr: &str, method: &str, path: &str, body: Option<&str>, tok: Option<&str>) -> u16 {
    let bearer = tok.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    http_request(addr, method, path, body, &headers)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn admin_routes_answer_401_403_200_and_list_the_fleet() {
    let redis = redis();
    let arena = token_arena(&redis.url(), 2).await;
    let addr = arena[0].addr.to_string();
    let path = "/api/admin/instances";
    let admin = token("root", &["admin"]);
    assert_eq!(call(&addr, "GET", path, None, None).await, 401);
    assert_eq!(
        call(&addr, "GET", path, None, Some(&token("alice", &[]))).await,
        403
    );
    assert_eq!(call(&addr, "GET", path, None, Some("garbage")).await, 401);
    // Matchmaker routes: starting a battle over HTTP and the shared counter.
    let pair = r#"{"players":["a","b"]}"#;
    assert_eq!(
        call(&addr, "POST", "/api/battles", Some(pair), None).await,
        401
    );
    let alice = token("alice", &[]);
    assert_eq!(
        call(&addr, "POST", "/api/battles", Some(pair), Some(&alice)).await,
        403
    );
    assert_eq!(
        call(&addr, "POST", "/api/battles", Some(pair), Some(&admin)).await,
        201
    );
    assert_eq!(
        call(&addr, "POST", "/api/shared/increment", Some("{}"), None).await,
        401
    );
    // Both instances heartbeat; the admin sees them and totals that add up.
    let _c = Client::connect(&arena[1].url, json!({"token": alice}))
        .await
        .unwrap();
    let fleet =
        crate::harness::eventually(Duration::from_secs(10), "both instances listed", || {
            let addr = addr.clone();
            let admin = admin.clone();
            async move {
                let (status, body) = http_request(
                    &addr,
                    "GET",
                    "/api/admin/instances",
                    None,
                    &[("Authorization", &format!("Bearer {admin}"))],
                )
                .await
                .unwrap();
                assert_eq!(status, 200, "{body}");
                let v: Value = serde_json::from_str(&body).unwrap();
                let clients_of_i1 = v["instances"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["id"] == "i1")
                    .map(|m| m["clients"].clone());
                (v["totals"]["instances"] == 2 && clients_of_i1 == Some(json!(1))).then_some(v)
            }
        })
        .await;
    let ids: Vec<&str> = fleet["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"i0") && ids.contains(&"i1"), "{fleet}");
    assert_eq!(fleet["totals"]["clients"], 1);
}

#[tokio::test]
async fn a_stopped_instance_leaves_the_fleet_list() {
    let redis = redis();
    let mut arena = Arena::spawn(&redis.url(), 2).await;
    let addr = arena[0].addr.to_string();
    let count = || {
        let addr = addr.clone();
        async move {
            let (_, body) = http_request(&addr, "GET", "/api/admin/instances", None, &[])
                .await
                .unwrap();
            let v: Value = serde_json::from_str(&body).unwrap();
            v["totals"]["instances"].as_u64().unwrap()
        }
    };
    crate::harness::eventually(Duration::from_secs(10), "two listed", || async {
        (count().await == 2).then_some(())
    })
    .await;
    let second = arena.instances.pop().unwrap();
    second.stop().await.unwrap();
    // Removed on stop, without waiting out the silence bound.
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn browsers_from_other_origins_are_refused() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.auth.allowed_origins = Some("http://good.example, https://play.example".into());
    })
    .await;
    let url = &arena[0].url;
    let auth = json!({"player": "alice"});
    match Client::connect_from(url, auth.clone(), Some("http://evil.example")).await {
        Err(ClientError::Refused(m)) => assert!(m.starts_with("forbidden_origin:"), "{m}"),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("a disallowed origin connected"),
    }
    Client::connect_from(url, auth.clone(), Some("https://play.example"))
        .await
        .unwrap();
    // No Origin: not a browser; tokens (not origins) decide who it is.
    Client::connect(url, auth).await.unwrap();
    assert_eq!(
        arena[0]
            .metric(r#"arena_auth_failures_total{reason="origin"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn the_internal_port_takes_metrics_status_and_admin_off_the_public_one() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| c.internal_port = Some(0)).await;
    let public = arena[0].addr.to_string();
    let internal = arena[0].internal.expect("internal port bound").to_string();
    for path in ["/metrics", "/status", "/api/admin/instances"] {
        assert_eq!(call(&public, "GET", path, None, None).await, 404, "{path}");
        assert_eq!(
            call(&internal, "GET", path, None, None).await,
            200,
            "{path}"
        );
    }
    for path in ["/health", "/ready"] {
        assert_eq!(call(&public, "GET", path, None, None).await, 200, "{path}");
        assert_eq!(
            call(&internal, "GET", path, None, None).await,
            200,
            "{path}"
        );
    }
    // The game stays on the public port only.
    assert_eq!(
        call(&internal, "GET", "/api/hunt/leaderboard", None, None).await,
        404
    );
}

#[tokio::test]
async fn arena_token_mints_what_the_server_accepts() {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args([
            "token", "--player", "alice", "--name", "Alice", "--admin", "--ttl", "2h",
        ])
        .env("ARENA_TOKEN_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let id = tokens().verify(&minted).unwrap();
    assert_eq!(id.player.as_str(), "alice");
    assert_eq!(id.name.as_ref().map(|n| n.as_str()), Some("Alice"));
    assert!(id.is_admin());

    let redis = redis();
    let arena = token_arena(&redis.url(), 1).await;
    let mut c = Client::connect(&arena[0].url, json!({"token": minted}))
        .await
        .unwrap();
    assert_eq!(welcome(&mut c).await["player"], "alice");

    for (args, env, want) in [
        (vec!["--player", "a b"], Some(SECRET), "--player"),
        (
            vec!["--player", "alice", "--name", " Alice"],
            Some(SECRET),
            "--name",
        ),
        (vec!["--player", "alice"], None, "ARENA_TOKEN_SECRET"),
        (vec!["--player", "alice"], Some("short"), "at least 32"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
        cmd.arg("token")
            .args(&args)
            .env_remove("ARENA_TOKEN_SECRET");
        if let Some(s) = env {
            cmd.env("ARENA_TOKEN_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains(SECRET), "the secret leaked: {err}");
    }
}

#[test]
fn serve_in_token_mode_without_a_secret_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--port", "0"])
        .env_remove("ARENA_AUTH")
        .env_remove("ARENA_TOKEN_SECRET")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ARENA_TOKEN_SECRET") && err.contains("ARENA_AUTH=dev"),
        "{err}"
    );
}

#[tokio::test]
async fn the_stock_socket_io_client_authenticates_with_a_token() {
    let redis = redis();
    let arena = token_arena(&redis.url(), 1).await;
    let expired = tokens()
        .sign(&Claims {
            sub: "alice".into(),
            exp: now() - 120,
            iat: None,
            name: None,
            roles: vec![],
        })
        .unwrap();
    let url = arena[0].url.clone();
    let alice = token("alice", &[]);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("auth.mjs")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui"))
            .env("ARENA_URL", url)
            .env("ARENA_TOKEN", alice)
            .env("ARENA_EXPIRED_TOKEN", expired)
            .env("ARENA_PLAYER", "alice")
            .output()
            .expect("node is required for the stock-client checks")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "auth.mjs failed:\n{text}");
}
