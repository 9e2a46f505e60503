//! Battles: exactly one battle per pairing under concurrent starts on two instances, also
//! when the handler is slower than the lease TTL; players join the battle room wherever
//! they are connected; bad input creates nothing. Plus the worker-cluster behaviours:
//! locked read-modify-writes serialize and the warm-up runs once.

use std::collections::HashSet;
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::harness::battle::battle_keys;
use crate::harness::{Arena, BattleClient, Instance, RoomsClient, redis};

const WAIT: Duration = Duration::from_secs(20);

async fn fifty_concurrent_starts(delay_ms: u64) {
    let redis = redis();
    fifty_concurrent_starts_on(&redis.url(), delay_ms).await;
}

/// Fifty starts of one pairing on two instances on the Redis at `url` (also run on a
/// cluster, `cluster.rs`): one battle.
pub(crate) async fn fifty_concurrent_starts_on(url: &str, delay_ms: u64) {
    let arena = Arena::spawn_with(url, 2, |c| {
        c.services.lock_ttl_ms = 300;
        c.modes.battle.test_battle_delay_ms = delay_ms;
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..50 {
        clients.push(arena[i % 2].client(&format!("matchmaker{i}")).await);
    }
    let acks = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| {
        // The same set of players, in varying order.
        let players: &[&str] = if i % 2 == 0 {
            &["alice", "bob"]
        } else {
            &["bob", "alice"]
        };
        async move { c.start_battle(players).await }
    }))
    .await;
    let mut ids = HashSet::new();
    let mut created = 0;
    for ack in acks {
        assert_eq!(ack["ok"], json!(true), "{ack}");
        ids.insert(ack["battleId"].as_str().unwrap().to_string());
        created += usize::from(ack["created"] == json!(true));
    }
    assert_eq!(ids.len(), 1, "every caller gets the same battle: {ids:?}");
    assert_eq!(created, 1, "exactly one call created it");
    assert_eq!(battle_keys(url).await.len(), 1, "exactly one battle stored");
    let total = arena[0].metric("arena_battles_created_total").await
        + arena[1].metric("arena_battles_created_total").await;
    assert_eq!(total, 1.0);
    // Every asker heard battle_started once.
    for mut c in clients {
        let ev = c.next_event("battle_started", WAIT).await.unwrap();
        assert!(ids.contains(ev["battleId"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn fifty_concurrent_starts_on_two_instances_create_one_battle() {
    fifty_concurrent_starts(0).await;
}

#[tokio::test]
async fn a_handler_slower_than_the_lease_ttl_still_creates_one_battle() {
    // 3 x LOCK_TTL_MS: the lease must be renewed, and a lapsed holder is fenced off.
    fifty_concurrent_starts(900).await;
}

#[tokio::test]
async fn players_join_the_battle_room_on_any_instance_and_it_can_end() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let mut alice = arena[0].client("alice").await;
    let mut bob = arena[1].client("bob").await;
    let mut carol = arena[0].client("carol").await;
    let ack = carol.start_battle(&["bob", "alice"]).await;
    assert_eq!(ack["created"], json!(true), "{ack}");
    assert_eq!(ack["players"], json!(["alice", "bob"]));
    let id = ack["battleId"].as_str().unwrap().to_string();
    for c in [&mut alice, &mut bob, &mut carol] {
        let ev = c.next_event("battle_started", WAIT).await.unwrap();
        assert_eq!(ev["battleId"], json!(id));
        assert_eq!(ev["players"], json!(["alice", "bob"]));
        // Every battle is fought on a problem from the bank (a random one here).
        assert!(ev["problem"]["id"].is_string(), "{ev}");
    }
    let got = arena[1].get_json(&format!("/api/battles/{id}")).await;
    assert_eq!(got["state"], "active");
    assert_eq!(arena[0].metric("arena_active_battles").await, 1.0);

    let end = alice.end_battle(&id).await;
    assert_eq!(end, json!({"ok": true, "battleId": id}));
    for c in [&mut alice, &mut bob] {
        let ev = c.next_event("battle_ended", WAIT).await.unwrap();
        assert_eq!(ev["state"], "ended");
    }
    let again = alice.end_battle(&id).await;
    assert_eq!(again["error"]["code"], "not_found");
    assert_eq!(
        arena[0].get_json(&format!("/api/battles/{id}")).await["state"],
        "ended"
    );

    // After the end, the same pairing can battle again: a new id, over HTTP this time.
    let (status, body) = arena::tools::http_client::http_post(
        &arena[1].addr.to_string(),
        "/api/battles",
        r#"{"players":["alice","bob"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let second: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(second["created"], json!(true));
    assert_ne!(second["battleId"], json!(id));
    let (status, _) = arena::tools::http_client::http_post(
        &arena[0].addr.to_string(),
        "/api/battles",
        r#"{"players":["bob","alice"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "the active battle is returned, not a new one");
    assert_eq!(
        arena[0]
            .get("/api/battles/0123456789abcdef0123456789abcdef-1700000000000-99")
            .await
            .0,
        404
    );
    assert_eq!(arena[0].get("/api/battles/nonsense").await.0, 400);
}

#[tokio::test]
async fn bad_player_lists_are_refused_and_create_nothing() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let c = arena[0].client("m").await;
    let many: Vec<String> = (0..17).map(|i| format!("p{i}")).collect();
    // A table of refused payloads, sent raw: several are not a list of names at all.
    for payload in [
        json!({"players": []}),
        json!({"players": ["solo"]}),
        json!({"players": many}),
        json!({"players": ["a", "a"]}),
        json!({"players": ["a", "b c"]}),
        json!({"players": ["a", 5]}),
        json!({"players": "a,b"}),
        json!({}),
        json!("x"),
    ] {
        let ack = c
            .emit_with_ack("start_battle", &payload, WAIT)
            .await
            .unwrap();
        assert_eq!(ack["error"]["code"], "bad_request", "{payload}: {ack}");
    }
    let (status, body) = arena::tools::http_client::http_post(
        &arena[0].addr.to_string(),
        "/api/battles",
        r#"{"players":["x"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(battle_keys(&redis.url()).await.is_empty());
    let ack = c.end_battle("../etc").await;
    assert_eq!(ack["error"]["code"], "bad_request");
    let ack = c.join("player:alice").await;
    assert_eq!(
        ack["error"]["code"], "bad_request",
        "personal rooms are reserved"
    );
}

#[tokio::test]
async fn locked_read_modify_writes_serialize_across_instances() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let addrs = [arena[0].addr.to_string(), arena[1].addr.to_string()];
    let results =
        futures_util::future::join_all((0..40).map(|i| {
            let addr = addrs[i % 2].clone();
            async move {
                arena::tools::http_client::http_post(&addr, "/api/shared/increment", "{}").await
            }
        }))
        .await;
    let mut values = HashSet::new();
    for r in results {
        let (status, body) = r.unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(
            values.insert(v["value"].as_i64().unwrap()),
            "a value was handed out twice: {body}"
        );
    }
    assert_eq!(values, (1..=40).collect::<HashSet<i64>>(), "no lost update");
}

#[tokio::test]
async fn four_instances_starting_together_warm_up_once() {
    let redis = redis();
    let starts = (0..4).map(|i| {
        Instance::start(crate::harness::app::config(&redis.url(), move |c| {
            c.instance_id = Some(format!("w{i}"));
        }))
    });
    let instances = futures_util::future::join_all(starts).await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    crate::harness::eventually(Duration::from_secs(5), "a warm-up to run", || {
        let mut conn = conn.clone();
        async move {
            conn.get::<_, Option<u64>>(arena::modes::workers::warmup::RUNS)
                .await
                .unwrap()
                .map(|_| ())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs: u64 = conn.get(arena::modes::workers::warmup::RUNS).await.unwrap();
    assert_eq!(runs, 1);
    let mut total = 0.0;
    for i in &instances {
        total += i.metric("arena_warmups_total").await;
    }
    assert_eq!(total, 1.0);
}
