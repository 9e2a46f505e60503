//! Durable records, on SQLite and on PostgreSQL alike: battles reach SQL through the
//! outbox exactly once — under 50 concurrent starts of one pairing, and when the consumer
//! dies between a commit and its acknowledgement — and stay readable when Redis has lost
//! them or the instance restarts on the same SQLite file.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::harness::app::config;
use crate::harness::records::{Backend, TestDb, get_json};
use crate::harness::{Arena, BattleClient, Instance, free_port_pair_n, redis, wait_healthy};
use arena::tools::client::Client;

/// `mod name { sqlite, postgres }`: the test `name(backend)` on each database.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    )*};
}

on_both_databases!(
    fifty_concurrent_starts_give_one_row,
    a_consumer_killed_mid_batch_loses_and_duplicates_nothing,
    after_flushall_battles_are_served_from_sql,
    db_migrate_applies_the_schema_once,
    a_tokens_name_is_the_players_display_name,
);

async fn fifty_concurrent_starts_give_one_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.store = db.settings();
        c.services.lock_ttl_ms = 300;
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..50 {
        clients.push(arena[i % 2].client(&format!("matchmaker{i}")).await);
    }
    let acks = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| {
        let players: &[&str] = if i % 2 == 0 {
            &["alice", "bob"]
        } else {
            &["bob", "alice"]
        };
        async move { c.start_battle(players).await }
    }))
    .await;
    let ids: HashSet<String> = acks
        .iter()
        .map(|a| {
            assert_eq!(a["ok"], json!(true), "{a}");
            a["battleId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    let pairing = id.split('-').next().unwrap();

    db.wait_count("SELECT COUNT(*) FROM applied_events", 1)
        .await;
    // Let any late duplicate show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = |sql: &str| sql.replace("{pairing}", pairing).replace("{id}", &id);
    assert_eq!(
        db.count(&q(
            "SELECT COUNT(*) FROM battles WHERE pairing = '{pairing}'"
        ))
        .await,
        1
    );
    assert_eq!(
        db.count(&q(
            "SELECT COUNT(*) FROM battles WHERE id = '{id}' AND state = 'active'"
        ))
        .await,
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM battle_participants").await,
        2
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM applied_events").await, 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM players WHERE battles_played = 1")
            .await,
        2
    );

    // The end (by one of the players) names a winner, who must be one of them too.
    let alice = &arena[0].client("alice").await;
    let refused = alice.end_battle_won_by(&id, "carol").await;
    assert_eq!(refused["error"]["code"], "bad_request", "{refused}");
    let ended = alice.end_battle_won_by(&id, "bob").await;
    assert_eq!(ended["ok"], json!(true), "{ended}");
    db.wait_count(
        &q("SELECT COUNT(*) FROM battles WHERE id = '{id}' AND state = 'ended' AND winner = 'bob'"),
        1,
    )
    .await;

    let addr = arena[1].addr.to_string();
    let (status, bob) = get_json(&addr, "/api/players/bob").await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(bob["id"], "bob");
    assert_eq!(bob["displayName"], "bob");
    assert_eq!(bob["rating"], 1200);
    assert_eq!(bob["battlesPlayed"], 1);
    assert_eq!(bob["wins"], 1);
    assert_eq!(bob["battles"].as_array().unwrap().len(), 1);
    assert_eq!(bob["battles"][0]["battleId"], json!(id));
    assert_eq!(bob["battles"][0]["winner"], "bob");
    assert_eq!(bob["battles"][0]["players"], json!(["alice", "bob"]));
    let (status, alice_view) = get_json(&addr, "/api/players/alice").await;
    assert_eq!((status, alice_view["wins"].clone()), (200, json!(0)));
    let (status, unknown) = get_json(&addr, "/api/players/nobody").await;
    assert_eq!(status, 404, "{unknown}");
    assert_eq!(unknown["error"]["code"], "not_found");
    let (status, bad) = get_json(&addr, "/api/players/bad%20id").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], "bad_request");
}

/// `arena serve` as a process (so it can be SIGKILLed), on `db` and `redis_url`.
fn serve_process(
    redis_url: &str,
    db: &TestDb,
    port: u16,
    env: &[(&str, &str)],
) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.arg("serve")
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", &db.url)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("INSTANCE_ID", "doomed")
        .env("ARENA_AUTH", "dev")
        .env_remove("DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn arena serve")
}

/// The value of metric `name` (no labels) at `addr`, 0 if absent.
async fn metric(addr: &str, name: &str) -> f64 {
    let (_, body) = arena::tools::http_client::http_get(addr, "/metrics")
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn a_consumer_killed_mid_batch_loses_and_duplicates_nothing(backend: Backend) {
    const BATTLES: usize = 30;
    const ENDED: usize = 15;
    const EVENTS: i64 = (BATTLES + ENDED) as i64;
    let db = TestDb::new(backend).await;
    let redis = redis();
    let port = free_port_pair_n(1);
    let addr = format!("127.0.0.1:{port}");
    // Its consumer commits 5 events, then hangs before acknowledging the 5th.
    let mut doomed = serve_process(
        &redis.url(),
        &db,
        port,
        &[
            ("ARENA_TEST_OUTBOX_STALL_AFTER", "5"),
            ("BATTLE_OUTBOX_RECLAIM_IDLE_MS", "500"),
        ],
    );
    wait_healthy(&addr, "the doomed arena serve").await;
    let starts = futures_util::future::join_all((0..BATTLES).map(|i| {
        let addr = addr.clone();
        async move {
            let body = format!(r#"{{"players":["p{i}a","p{i}b"]}}"#);
            let (status, body) = arena::tools::http_client::http_post(&addr, "/api/battles", &body)
                .await
                .unwrap();
            assert_eq!(status, 201, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            v["battleId"].as_str().unwrap().to_string()
        }
    }))
    .await;
    for (i, id) in starts.iter().take(ENDED).enumerate() {
        // Only a battle's players may end it (dev auth: the player names itself).
        let player = arena::tools::client::Client::connect(
            &format!("http://{addr}"),
            json!({"player": format!("p{i}a")}),
        )
        .await
        .unwrap();
        let ack = player.end_battle_won_by(id, &format!("p{i}a")).await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
    crate::harness::eventually(
        Duration::from_secs(20),
        "the doomed consumer to apply 5",
        || {
            let addr = addr.clone();
            async move { (metric(&addr, "arena_outbox_applied_total").await == 5.0).then_some(()) }
        },
    )
    .await;
    kill(Pid::from_raw(doomed.id() as i32), Signal::SIGKILL).unwrap();
    doomed.wait().unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM applied_events").await, 5);

    // A survivor takes over the dead consumer's pending entries and reads the rest.
    let survivor = Instance::start(config(&redis.url(), |c| {
        c.instance_id = Some("survivor".into());
        c.services.store = db.settings();
        c.modes.battle.battle_outbox_reclaim_idle_ms = 500;
    }))
    .await;
    db.wait_count("SELECT COUNT(*) FROM applied_events", EVENTS)
        .await;
    crate::harness::eventually(Duration::from_secs(20), "the redelivered 5th event", || {
        let s = &survivor;
        async move { (s.metric("arena_outbox_duplicates_total").await >= 1.0).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM applied_events").await,
        EVENTS
    );
    assert_eq!(
        survivor.metric("arena_outbox_applied_total").await,
        (EVENTS - 5) as f64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM battles").await,
        BATTLES as i64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM battles WHERE state = 'ended'")
            .await,
        ENDED as i64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM battle_participants").await,
        2 * BATTLES as i64
    );
    // Counters move once per event: a duplicate would show here.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM players").await,
        2 * BATTLES as i64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM players WHERE battles_played <> 1")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM players WHERE wins = 1")
            .await,
        ENDED as i64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM players WHERE wins > 1")
            .await,
        0
    );
    for (i, id) in starts.iter().enumerate() {
        let (status, b) = get_json(&survivor.addr.to_string(), &format!("/api/battles/{id}")).await;
        assert_eq!(status, 200, "{b}");
        let want = if i < ENDED { "ended" } else { "active" };
        assert_eq!(b["state"], want, "{b}");
    }
}

async fn after_flushall_battles_are_served_from_sql(backend: Backend) {
    let db = TestDb::new(backend).await;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| c.services.store = db.settings()).await;
    let alice = arena[0].client("alice").await;
    let first = alice.start_battle(&["alice", "bob"]).await;
    let id1 = first["battleId"].as_str().unwrap().to_string();
    let before = arena[0].get_json(&format!("/api/battles/{id1}")).await;
    let ended = alice.end_battle_won_by(&id1, "alice").await;
    assert_eq!(ended["ok"], json!(true), "{ended}");
    db.wait_count(
        &format!("SELECT COUNT(*) FROM battles WHERE id = '{id1}' AND state = 'ended'"),
        1,
    )
    .await;

    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();

    let addr = arena[0].addr.to_string();
    let (status, b) = get_json(&addr, &format!("/api/battles/{id1}")).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["state"], "ended");
    assert_eq!(b["winner"], "alice");
    assert_eq!(b["players"], json!(["alice", "bob"]));
    assert_eq!(b["createdAt"], before["createdAt"]);
    assert_eq!(b["createdBy"], before["createdBy"]);

    // Redis's fencing counters are gone (tokens start again), yet the new battle has a
    // new id and reaches SQL: the consumer recreates its group.
    let second = alice.start_battle(&["bob", "alice"]).await;
    assert_eq!(second["created"], json!(true), "{second}");
    let id2 = second["battleId"].as_str().unwrap().to_string();
    assert_ne!(id1, id2);
    db.wait_count("SELECT COUNT(*) FROM applied_events", 3)
        .await;
    let (status, view) = get_json(&addr, "/api/players/alice").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["battlesPlayed"], 2);
    assert_eq!(view["wins"], 1);
    assert_eq!(view["battles"][0]["battleId"], json!(id2));
    assert_eq!(view["battles"][1]["battleId"], json!(id1));
    let (status, missing) = get_json(
        &addr,
        "/api/battles/0123456789abcdef0123456789abcdef-1700000000000-1",
    )
    .await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
}

async fn db_migrate_applies_the_schema_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        // The default: a file in DATA_DIR.
        Backend::Sqlite => None,
        // A password in the URL (the test server trusts anyone) must never be printed.
        Backend::Postgres => Some(
            crate::harness::postgres::postgres()
                .database()
                .await
                .replace("://arena@", "://arena:s3cret-pw@"),
        ),
    };
    let run = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
        cmd.args(["db", "migrate"]).env("DATA_DIR", dir.path());
        match &url {
            Some(u) => cmd.env("DATABASE_URL", u),
            None => cmd.env_remove("DATABASE_URL"),
        };
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        text
    };
    assert!(run().contains(": 2 migration(s) applied"));
    assert!(run().contains(": 0 migration(s) applied"));
    if backend == Backend::Sqlite {
        assert!(dir.path().join("arena.db").exists());
    }
}

#[tokio::test]
async fn a_restarted_instance_keeps_its_records_in_its_sqlite_file() {
    let _turn = crate::harness::records::serial().await;
    crate::harness::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let store_settings = arena::services::store::Settings {
        database_url: None,
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let ids = {
        let redis = redis();
        let a = Instance::start(config(&redis.url(), |c| {
            c.services.store = store_settings.clone();
        }))
        .await;
        let alice = a.client("alice").await;
        let mut ids = Vec::new();
        for rival in ["bob", "carol", "dave"] {
            let ack = alice.start_battle(&["alice", rival]).await;
            ids.push(ack["battleId"].as_str().unwrap().to_string());
        }
        assert_eq!(
            alice.end_battle_won_by(&ids[0], "alice").await["ok"],
            json!(true)
        );
        let store = arena::services::store::Store::open(&store_settings)
            .await
            .unwrap();
        crate::harness::eventually(Duration::from_secs(20), "4 events in SQL", || {
            let store = store.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applied_events")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                (n == 4).then_some(())
            }
        })
        .await;
        store.close().await;
        a.stop().await.unwrap();
        ids
    };
    assert!(dir.path().join("arena.db").exists());

    // A new Redis, the same file.
    let redis = redis();
    let b = Instance::start(config(&redis.url(), |c| {
        c.services.store = store_settings.clone();
    }))
    .await;
    let view = b.get_json("/api/players/alice").await;
    assert_eq!(view["battlesPlayed"], 3);
    assert_eq!(view["wins"], 1);
    assert_eq!(view["battles"].as_array().unwrap().len(), 3);
    let first = b.get_json(&format!("/api/battles/{}", ids[0])).await;
    assert_eq!(
        (first["state"].clone(), first["winner"].clone()),
        (json!("ended"), json!("alice"))
    );
    let last = b.get_json(&format!("/api/battles/{}", ids[2])).await;
    assert_eq!(last["state"], "active");
}

#[tokio::test]
async fn a_poison_entry_is_dead_lettered_and_applied_entries_are_trimmed() {
    let db = TestDb::new(Backend::Sqlite).await;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.store = db.settings();
        c.modes.battle.battle_outbox_partitions = 1;
        c.modes.battle.battle_outbox_reclaim_idle_ms = 200;
        c.modes.battle.battle_outbox_max_deliveries = 2;
    })
    .await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // An entry no consumer can parse, between two good ones.
    let alice = arena[0].client("alice").await;
    let first = alice.start_battle(&["alice", "bob"]).await;
    assert_eq!(first["ok"], json!(true));
    let _: String = redis::cmd("XADD")
        .arg("arena:{b0}:outbox")
        .arg("*")
        .arg("event")
        .arg("created")
        .arg("record")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    let second = alice.start_battle(&["alice", "carol"]).await;
    assert_eq!(second["ok"], json!(true));
    db.wait_count("SELECT COUNT(*) FROM applied_events", 2)
        .await;
    crate::harness::eventually(
        Duration::from_secs(20),
        "the poison entry dead-lettered",
        || {
            let a = &arena[0];
            async move { (a.metric("arena_outbox_dead_letters_total").await == 1.0).then_some(()) }
        },
    )
    .await;
    let dead: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg("arena:{b0}:outbox:dead")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    crate::harness::eventually(Duration::from_secs(20), "the outbox trimmed", || {
        let mut conn = conn.clone();
        async move {
            let len: i64 = redis::cmd("XLEN")
                .arg("arena:{b0}:outbox")
                .query_async(&mut conn)
                .await
                .unwrap();
            (len == 0).then_some(())
        }
    })
    .await;
    assert_eq!(arena[0].metric("arena_outbox_applied_total").await, 2.0);
    assert_eq!(db.count("SELECT COUNT(*) FROM battles").await, 2);
}

/// A token's `name` reaches the players row when its player connects (before any
/// battle), a new name renames, and a battle afterwards keeps it.
async fn a_tokens_name_is_the_players_display_name(backend: Backend) {
    let db = TestDb::new(backend).await;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.store = db.settings();
        c.services.auth.mode = arena::services::auth::AuthMode::Token;
        c.services.auth.token_secret = Some(RESULTS_SECRET.into());
    })
    .await;
    let named = |player: &str, name: &str| {
        arena::services::auth::token::Tokens::new(RESULTS_SECRET.as_bytes())
            .issue(
                &arena::base::ids::PlayerId::parse(player).unwrap(),
                Some(&arena::base::ids::DisplayName::parse(name).unwrap()),
                Vec::new(),
                Duration::from_secs(600),
            )
            .unwrap()
    };
    let addr = arena[1].addr.to_string();
    let profile = |player: &'static str| {
        let addr = addr.clone();
        async move { get_json(&addr, &format!("/api/players/{player}")).await }
    };

    let mut alice = Client::connect(
        &arena[0].url,
        json!({"token": named("alice", "Alice Ünal")}),
    )
    .await
    .unwrap();
    let welcome = alice
        .next_event("welcome", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(welcome["name"], "Alice Ünal", "{welcome}");
    db.wait_count(
        "SELECT COUNT(*) FROM players WHERE id = 'alice' AND display_name = 'Alice Ünal'",
        1,
    )
    .await;
    let (status, p) = profile("alice").await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["displayName"], "Alice Ünal");
    assert_eq!(p["battlesPlayed"], 0);

    // A new name renames; a token without one leaves the name alone.
    let _again = Client::connect(&arena[1].url, json!({"token": named("alice", "Al")}))
        .await
        .unwrap();
    db.wait_count(
        "SELECT COUNT(*) FROM players WHERE id = 'alice' AND display_name = 'Al'",
        1,
    )
    .await;
    let bob = Client::connect(&arena[1].url, json!({"token": results_token("bob")}))
        .await
        .unwrap();
    let started = bob.start_battle(&["alice", "bob"]).await;
    assert_eq!(started["ok"], json!(true), "{started}");
    db.wait_count("SELECT COUNT(*) FROM players WHERE battles_played = 1", 2)
        .await;
    let (_, p) = profile("alice").await;
    assert_eq!(p["displayName"], "Al", "{p}");
    assert_eq!(p["battlesPlayed"], 1);
    let (_, p) = profile("bob").await;
    assert_eq!(p["displayName"], "bob", "{p}");
    drop(alice);
}

// ---- Results and ratings (issue 11, item 6): events XADDed in the spec's shapes. ----

const RESULTS_SECRET: &str = "results-secret-0123456789abcdef-012345";

/// A battle id of the real shape (`<pairing hash>-<ms>-<n>`), distinct per `n`.
fn battle_id(n: u32) -> String {
    format!("{n:032x}-1700000000000-{n}")
}

fn results_token(player: &str) -> String {
    arena::services::auth::token::Tokens::new(RESULTS_SECRET.as_bytes())
        .issue(
            &arena::base::ids::PlayerId::parse(player).unwrap(),
            None,
            Vec::new(),
            Duration::from_secs(600),
        )
        .unwrap()
}

/// XADD one outbox event to partition 0 (the instances run one partition).
async fn xadd_event(
    conn: &mut redis::aio::MultiplexedConnection,
    event: &str,
    key: &str,
    record: &Value,
) {
    xadd_event_to(conn, 0, event, key, record).await;
}

/// XADD one outbox event to partition `partition`.
async fn xadd_event_to(
    conn: &mut redis::aio::MultiplexedConnection,
    partition: u32,
    event: &str,
    key: &str,
    record: &Value,
) {
    let _: String = redis::cmd("XADD")
        .arg(format!("arena:{{b{partition}}}:outbox"))
        .arg("*")
        .arg("event")
        .arg(event)
        .arg("key")
        .arg(key)
        .arg("record")
        .arg(record.to_string())
        .arg("at")
        .arg("1700000000000")
        .query_async(conn)
        .await
        .unwrap();
}

/// A battle record as the battle side writes it; `ranks` (player, rank, solved) give
/// the standings of an ended one.
fn battle_record(
    id: &str,
    players: &[&str],
    ended_at: Option<u64>,
    ranks: &[(&str, u32, u8)],
) -> Value {
    let mut players: Vec<&str> = players.to_vec();
    players.sort();
    let mut v = json!({"battleId": id, "players": players, "state": "active",
        "createdAt": 1_700_000_000_000u64, "createdBy": "i0", "problemId": "sum-two",
        "startsAt": 1_700_000_003_000u64, "endsAt": 1_700_000_603_000u64, "durationS": 600,
        "pausedAt": null, "reason": null, "standings": []});
    if let Some(t) = ended_at {
        let winner = ranks.iter().find(|r| r.1 == 1).map(|r| r.0);
        v["state"] = json!("ended");
        v["endedAt"] = json!(t);
        v["winner"] = json!(winner);
        v["reason"] = json!("solved");
        v["standings"] = ranks
            .iter()
            .map(|(p, rank, solved)| {
                json!({"player": p, "rank": rank, "solved": solved,
                    "penaltyMs": if *solved == 1 { 5000 * u64::from(*rank) } else { 0 },
                    "attempts": 1, "solvedAtMs": if *solved == 1 { json!(1_700_000_008_000u64) } else { json!(null) }})
            })
            .collect();
    }
    v
}

fn submission_record(id: &str, battle: &str, player: &str, verdict: &str, source: &str) -> Value {
    let ac = verdict == "AC";
    json!({"submissionId": id, "battleId": battle, "player": player, "language": "python",
        "source": source, "verdict": verdict, "passed": if ac { 2 } else { 1 }, "of": 2,
        "failedTest": if ac { json!(null) } else { json!(2) },
        "tests": [{"test": 1, "verdict": "AC", "timeMs": 12, "memoryKb": 9000},
                  {"test": 2, "verdict": verdict, "timeMs": 15, "memoryKb": 9100}],
        "submittedAt": 1_700_000_010_000u64, "judgedAt": 1_700_000_011_000u64})
}

async fn ratings(db: &TestDb, players: &[&str]) -> Vec<i64> {
    let mut out = Vec::new();
    for p in players {
        out.push(
            db.count(&format!("SELECT rating FROM ratings WHERE player = '{p}'"))
                .await,
        );
    }
    out
}

on_both_databases!(
    ratings_follow_elo_once_and_rank_the_leaderboard,
    a_redelivered_end_rates_nobody_twice,
    concurrent_rated_battles_lose_no_update,
);

async fn ratings_follow_elo_once_and_rank_the_leaderboard(backend: Backend) {
    let db = TestDb::new(backend).await;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.store = db.settings();
        c.services.auth.mode = arena::services::auth::AuthMode::Token;
        c.services.auth.token_secret = Some(RESULTS_SECRET.into());
        c.modes.battle.battle_outbox_partitions = 1;
    })
    .await;
    let addr = arena[0].addr.to_string();
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (duel, group, upset) = (battle_id(1), battle_id(2), battle_id(3));

    // A 1v1 between newcomers: alice solves, bob does not.
    xadd_event(
        &mut conn,
        "created",
        &format!("{duel}:created"),
        &battle_record(&duel, &["alice", "bob"], None, &[]),
    )
    .await;
    let wa = submission_record("s-bob-1", &duel, "bob", "WA", "print(3)");
    let ac = submission_record("s-alice-1", &duel, "alice", "AC", "print(1 + 2)");
    xadd_event(&mut conn, "submission", "s-bob-1:judged", &wa).await;
    xadd_event(&mut conn, "submission", "s-alice-1:judged", &ac).await;
    let duel_end = battle_record(
        &duel,
        &["alice", "bob"],
        Some(1_700_000_100_000),
        &[("alice", 1, 1), ("bob", 2, 0)],
    );
    xadd_event(&mut conn, "ended", &format!("{duel}:ended"), &duel_end).await;
    // Four newcomers ranked 1..4 (its `created` never came: the end alone suffices).
    let four = ["g1", "g2", "g3", "g4"];
    let group_end = battle_record(
        &group,
        &four,
        Some(1_700_000_200_000),
        &[("g1", 1, 1), ("g2", 2, 1), ("g3", 3, 1), ("g4", 4, 1)],
    );
    xadd_event(&mut conn, "ended", &format!("{group}:ended"), &group_end).await;
    // An upset: g4 (1184) beats alice (1216).
    let upset_end = battle_record(
        &upset,
        &["alice", "g4"],
        Some(1_700_000_300_000),
        &[("g4", 1, 1), ("alice", 2, 0)],
    );
    xadd_event(&mut conn, "ended", &format!("{upset}:ended"), &upset_end).await;
    // The same end of the duel again (a producer retry): a duplicate.
    xadd_event(&mut conn, "ended", &format!("{duel}:ended"), &duel_end).await;
    db.wait_count("SELECT COUNT(*) FROM applied_events", 6)
        .await;
    crate::harness::eventually(Duration::from_secs(20), "the duplicate end seen", || {
        let a = &arena[0];
        async move { (a.metric("arena_outbox_duplicates_total").await == 1.0).then_some(()) }
    })
    .await;

    // By hand: the duel, equals: 32 x (1 - 0.5) = 16. The group, equals, K/(n-1) = 32/3
    // per pair: (wins - 1.5) x 32/3 = +16, +5.33, -5.33, -16. The upset: E(1184 beats
    // 1216) = 1 / (1 + 10^(32/400)) = 0.4540, 32 x (1 - 0.4540) = 17.47 -> 17.
    assert_eq!(ratings(&db, &["alice", "bob"]).await, vec![1199, 1184]);
    assert_eq!(ratings(&db, &four).await, vec![1216, 1205, 1195, 1201]);
    assert_eq!(
        db.count("SELECT CAST(SUM(rating) AS BIGINT) FROM ratings")
            .await,
        6 * 1200
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM rating_history").await, 8);
    assert_eq!(
        db.count("SELECT games FROM ratings WHERE player = 'alice'")
            .await,
        2
    );
    assert_eq!(
        db.count("SELECT games FROM ratings WHERE player = 'bob'")
            .await,
        1
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM battle_standings").await, 8);
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions").await, 2);

    let (status, alice) = get_json(&addr, "/api/players/alice").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(
        (alice["rating"].clone(), alice["games"].clone()),
        (json!(1199), json!(2))
    );
    assert_eq!(
        alice["history"],
        json!([
            {"battleId": upset, "before": 1216, "after": 1199, "at": 1_700_000_300_000u64},
            {"battleId": duel, "before": 1200, "after": 1216, "at": 1_700_000_100_000u64},
        ])
    );

    // The leaderboard: from the zset the consumer keeps, best first, ranks from 1.
    let want = json!([
        {"rank": 1, "player": "g1", "rating": 1216},
        {"rank": 2, "player": "g2", "rating": 1205},
        {"rank": 3, "player": "g4", "rating": 1201},
        {"rank": 4, "player": "alice", "rating": 1199},
        {"rank": 5, "player": "g3", "rating": 1195},
        {"rank": 6, "player": "bob", "rating": 1184},
    ]);
    let board = crate::harness::eventually(Duration::from_secs(10), "the rating board", || {
        let addr = addr.clone();
        async move {
            let (_, v) = get_json(&addr, "/api/leaderboard/rating").await;
            (v["entries"].as_array().map(Vec::len) == Some(6)).then_some(v)
        }
    })
    .await;
    assert_eq!(board["entries"], want);
    let (_, top2) = get_json(&addr, "/api/leaderboard/rating?limit=2").await;
    assert_eq!(top2["entries"], json!(want.as_array().unwrap()[..2]));
    for bad in ["0", "101", "ten"] {
        let (status, v) = get_json(&addr, &format!("/api/leaderboard/rating?limit={bad}")).await;
        assert_eq!(
            (status, v["error"]["code"].clone()),
            (400, json!("bad_request")),
            "{v}"
        );
    }
    let zset: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg("arena:{ratings}:board")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(zset.len(), 6, "{zset:?}");
    // Redis lost the board: the same answer from SQL.
    let _: i64 = redis::cmd("DEL")
        .arg("arena:{ratings}:board")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, from_sql) = get_json(&addr, "/api/leaderboard/rating?limit=100").await;
    assert_eq!(from_sql["entries"], want);

    // The ended duel from the records: standings, verdicts, per-test verdicts; sources
    // only for their authors.
    let path = format!("/api/battles/{duel}");
    let (status, anon) = get_json(&addr, &path).await;
    assert_eq!(status, 200, "{anon}");
    assert_eq!(
        (
            anon["state"].clone(),
            anon["winner"].clone(),
            anon["reason"].clone()
        ),
        (json!("ended"), json!("alice"), json!("solved"))
    );
    assert_eq!(anon["problemId"], "sum-two");
    assert_eq!(anon["standings"][0]["player"], "alice");
    assert_eq!(anon["standings"][1]["solvedAtMs"], json!(null));
    let subs = anon["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().all(|s| s.get("source").is_none()), "{anon}");
    let bobs = subs.iter().find(|s| s["player"] == "bob").unwrap();
    assert_eq!(
        (bobs["verdict"].clone(), bobs["failedTest"].clone()),
        (json!("WA"), json!(2))
    );
    assert_eq!(bobs["tests"][1]["verdict"], "WA");
    let as_alice = |token: String| {
        let addr = addr.clone();
        let path = path.clone();
        async move {
            let bearer = format!("Bearer {token}");
            let (status, body) = arena::tools::http_client::http_request(
                &addr,
                "GET",
                &path,
                None,
                &[("Authorization", &bearer)],
            )
            .await
            .unwrap();
            (status, serde_json::from_str::<Value>(&body).unwrap())
        }
    };
    let (status, mine) = as_alice(results_token("alice")).await;
    assert_eq!(status, 200, "{mine}");
    let subs = mine["submissions"].as_array().unwrap();
    let alices = subs.iter().find(|s| s["player"] == "alice").unwrap();
    assert_eq!(alices["source"], "print(1 + 2)");
    let bobs = subs.iter().find(|s| s["player"] == "bob").unwrap();
    assert!(bobs.get("source").is_none(), "{mine}");
    let (status, forged) = as_alice(format!("{}x", results_token("alice"))).await;
    assert_eq!(
        (status, forged["error"]["code"].clone()),
        (401, json!("unauthorized")),
        "{forged}"
    );

    // The board is gone (deleted above); the next rated battle puts every rating back,
    // not only its players'. A draw: E(1216 vs 1205) = 0.5158, 32 x -0.0158 = -0.51 -> -1.
    let draw = battle_id(4);
    let draw_end = battle_record(
        &draw,
        &["g1", "g2"],
        Some(1_700_000_400_000),
        &[("g1", 1, 0), ("g2", 1, 0)],
    );
    xadd_event(&mut conn, "ended", &format!("{draw}:ended"), &draw_end).await;
    db.wait_count("SELECT COUNT(*) FROM applied_events", 7)
        .await;
    let zcard = crate::harness::eventually(Duration::from_secs(10), "the board put back", || {
        let mut conn = conn.clone();
        async move {
            let n: i64 = redis::cmd("ZCARD")
                .arg("arena:{ratings}:board")
                .query_async(&mut conn)
                .await
                .unwrap();
            (n > 0).then_some(n)
        }
    })
    .await;
    assert_eq!(zcard, 6);
    let (_, board) = get_json(&addr, "/api/leaderboard/rating?limit=2").await;
    assert_eq!(
        board["entries"],
        json!([{"rank": 1, "player": "g1", "rating": 1215}, {"rank": 2, "player": "g2", "rating": 1206}])
    );
}

/// The consumer commits an `ended` event (ratings included) and dies before its XACK; a
/// survivor takes the entry over, applies nothing, and puts the ratings back on the
/// board that Redis lost meanwhile.
async fn a_redelivered_end_rates_nobody_twice(backend: Backend) {
    let db = TestDb::new(backend).await;
    let redis = redis();
    let port = free_port_pair_n(1);
    let addr = format!("127.0.0.1:{port}");
    let mut doomed = serve_process(
        &redis.url(),
        &db,
        port,
        &[
            ("ARENA_TEST_OUTBOX_STALL_AFTER", "2"),
            ("BATTLE_OUTBOX_RECLAIM_IDLE_MS", "500"),
            ("BATTLE_OUTBOX_PARTITIONS", "1"),
        ],
    );
    wait_healthy(&addr, "the doomed arena serve").await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let id = battle_id(7);
    xadd_event(
        &mut conn,
        "created",
        &format!("{id}:created"),
        &battle_record(&id, &["ann", "ben"], None, &[]),
    )
    .await;
    let end = battle_record(
        &id,
        &["ann", "ben"],
        Some(1_700_000_100_000),
        &[("ann", 2, 0), ("ben", 1, 1)],
    );
    xadd_event(&mut conn, "ended", &format!("{id}:ended"), &end).await;
    crate::harness::eventually(
        Duration::from_secs(20),
        "the doomed consumer to apply 2",
        || {
            let addr = addr.clone();
            async move { (metric(&addr, "arena_outbox_applied_total").await == 2.0).then_some(()) }
        },
    )
    .await;
    kill(Pid::from_raw(doomed.id() as i32), Signal::SIGKILL).unwrap();
    doomed.wait().unwrap();
    assert_eq!(ratings(&db, &["ann", "ben"]).await, vec![1184, 1216]);
    let _: i64 = redis::cmd("DEL")
        .arg("arena:{ratings}:board")
        .query_async(&mut conn)
        .await
        .unwrap();

    let survivor = Instance::start(config(&redis.url(), |c| {
        c.instance_id = Some("survivor".into());
        c.services.store = db.settings();
        c.modes.battle.battle_outbox_reclaim_idle_ms = 500;
        c.modes.battle.battle_outbox_partitions = 1;
    }))
    .await;
    crate::harness::eventually(Duration::from_secs(20), "the redelivered end", || {
        let s = &survivor;
        async move { (s.metric("arena_outbox_duplicates_total").await >= 1.0).then_some(()) }
    })
    .await;
    assert_eq!(survivor.metric("arena_outbox_applied_total").await, 0.0);
    assert_eq!(ratings(&db, &["ann", "ben"]).await, vec![1184, 1216]);
    assert_eq!(
        db.count("SELECT CAST(SUM(games) AS BIGINT) FROM ratings")
            .await,
        2
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM rating_history").await, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM battle_standings").await, 2);
    let board: Vec<(String, i64)> = redis::cmd("ZREVRANGE")
        .arg("arena:{ratings}:board")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        board,
        vec![("ben".to_string(), 1216), ("ann".to_string(), 1184)]
    );
}

/// Two instances' consumers apply the ends of 40 battles among 4 players at once (the
/// battles spread over 4 partitions): no rating update is lost (each player's rating is
/// 1200 plus the changes in its history) and none is applied twice.
async fn concurrent_rated_battles_lose_no_update(backend: Backend) {
    const BATTLES: u32 = 40;
    const PARTITIONS: u32 = 4;
    let db = TestDb::new(backend).await;
    let redis = redis();
    let _arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.store = db.settings();
        c.modes.battle.battle_outbox_partitions = PARTITIONS;
        c.modes.battle.battle_outbox_batch = 3;
    })
    .await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let players = ["q0", "q1", "q2", "q3"];
    for n in 0..BATTLES {
        // The pairing hash's first 8 hex digits place the battle: partition n % 4.
        let id = format!("{n:08x}{n:024x}-1700000000000-1");
        let a = players[(n % 4) as usize];
        // An offset of 1..=3: never the same player.
        let b = players[((n + 1 + (n / 4) % 3) % 4) as usize];
        let (first, second) = if n % 3 == 0 { (b, a) } else { (a, b) };
        let end = battle_record(
            &id,
            &[a, b],
            Some(1_700_000_000_000 + u64::from(n) * 1000),
            &[(first, 1, 1), (second, 2, 0)],
        );
        xadd_event_to(
            &mut conn,
            n % PARTITIONS,
            "ended",
            &format!("{id}:ended"),
            &end,
        )
        .await;
    }
    db.wait_count("SELECT COUNT(*) FROM applied_events", i64::from(BATTLES))
        .await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM rating_history").await,
        2 * i64::from(BATTLES)
    );
    assert_eq!(
        db.count("SELECT CAST(SUM(games) AS BIGINT) FROM ratings")
            .await,
        2 * i64::from(BATTLES)
    );
    assert_eq!(
        db.count("SELECT CAST(SUM(rating) AS BIGINT) FROM ratings")
            .await,
        4 * 1200
    );
    for p in players {
        let rating = db
            .count(&format!("SELECT rating FROM ratings WHERE player = '{p}'"))
            .await;
        let changes = db
            .count(&format!(
                "SELECT CAST(SUM(after - before) AS BIGINT) FROM rating_history WHERE player = '{p}'"
            ))
            .await;
        assert_eq!(rating, 1200 + changes, "{p}");
        // Each battle started from where the one before it left the player.
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM rating_history h WHERE h.player = '{p}' AND h.before <> 1200 \
                 AND NOT EXISTS (SELECT 1 FROM rating_history g WHERE g.player = h.player \
                 AND g.after = h.before)"
            ))
            .await,
            0,
            "{p}"
        );
    }
}
