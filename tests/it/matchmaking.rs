//! Matchmaking (`queue_battle`, `leave_queue`): players queued on two instances sharing
//! one Redis are paired exactly once, both players of a pair hear the same
//! `battle_started`, nobody meets themself, leaving works, bad input is refused.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use arena::tools::client::Client;
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::harness::battle::battle_keys;
use crate::harness::{Arena, ack, redis};

const WAIT: Duration = Duration::from_secs(20);

async fn queue(c: &Client, difficulty: &str) -> Value {
    ack(c, "queue_battle", &json!({"difficulty": difficulty}), WAIT).await
}

async fn leave(c: &Client) -> Value {
    ack(c, "leave_queue", &json!({}), WAIT).await
}

/// Every matchmaking key left in Redis.
async fn mm_keys(url: &str) -> Vec<String> {
    let mut conn = ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    conn.keys("arena:{mm}:*").await.unwrap()
}

#[tokio::test]
async fn a_hundred_players_on_two_instances_are_paired_exactly_once() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let mut clients = Vec::new();
    for i in 0..100 {
        clients.push(arena[i % 2].client(&format!("q{i}")).await);
    }
    // `easy` and `any` all meet each other, so 100 players make 50 pairs whatever the
    // order the steps run in.
    let acks = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| {
        let difficulty = if i % 3 == 0 { "any" } else { "easy" };
        async move { queue(c, difficulty).await }
    }))
    .await;
    let mut paired_ids = HashSet::new();
    for a in &acks {
        assert_eq!(a["ok"], json!(true), "{a}");
        if a["queued"] == json!(false) {
            let id = a["battleId"].as_str().unwrap().to_string();
            assert!(paired_ids.insert(id), "two calls made the same pair: {a}");
        } else {
            assert_eq!(a["queued"], json!(true), "{a}");
            assert!(a.get("battleId").is_none(), "{a}");
        }
    }
    assert_eq!(
        paired_ids.len(),
        50,
        "every call that made a pair started a battle"
    );

    // Each player hears battle_started exactly once; the two players of each battle hear
    // the same one, and it names them.
    let heard =
        futures_util::future::join_all(clients.iter_mut().enumerate().map(|(i, c)| async move {
            let first = c.next_event("battle_started", WAIT).await.unwrap();
            let more = c
                .collect("battle_started", Duration::from_millis(500))
                .await;
            (format!("q{i}"), first, more)
        }))
        .await;
    let mut by_battle: HashMap<String, Vec<String>> = HashMap::new();
    for (me, ev, more) in heard {
        assert!(more.is_empty(), "{me} heard battle_started again: {more:?}");
        let id = ev["battleId"].as_str().unwrap().to_string();
        let players: Vec<&str> = ev["players"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(players.len(), 2, "{ev}");
        assert!(players.contains(&me.as_str()), "{me} got {ev}");
        by_battle.entry(id).or_default().push(me);
    }
    assert_eq!(by_battle.len(), 50, "50 battles");
    for (id, members) in &by_battle {
        assert_eq!(members.len(), 2, "battle {id} heard by {members:?}");
        assert!(
            paired_ids.contains(id),
            "battle {id} was acked to its pairer"
        );
    }
    assert_eq!(
        battle_keys(&redis.url()).await.len(),
        50,
        "50 battles stored"
    );
    assert!(
        mm_keys(&redis.url()).await.is_empty(),
        "nobody is left queued"
    );
    let waits = arena[0]
        .metric("arena_matchmaking_wait_seconds_count")
        .await
        + arena[1]
            .metric("arena_matchmaking_wait_seconds_count")
            .await;
    assert_eq!(waits, 100.0, "one wait per player paired");
    // Waits get minute-scale buckets, not the latency ones.
    let (_, body) = arena[0].get("/metrics").await;
    assert!(
        body.contains("arena_matchmaking_wait_seconds_bucket{le=\"600\"}"),
        "{body:.3000}"
    );
}

#[tokio::test]
async fn a_player_queuing_twice_is_not_paired_with_themself() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let mut alice = arena[0].client("alice").await;
    let alice_again = arena[1].client("alice").await;
    let bob = arena[1].client("bob").await;
    assert_eq!(queue(&alice, "medium").await["queued"], json!(true));
    // Her second socket, on the other instance: still one entry, still waiting.
    assert_eq!(queue(&alice_again, "medium").await["queued"], json!(true));
    assert_eq!(queue(&alice, "medium").await["queued"], json!(true));
    assert!(
        alice
            .next_event("battle_started", Duration::from_millis(300))
            .await
            .is_err(),
        "alice met herself"
    );
    let a = queue(&bob, "medium").await;
    assert_eq!(a["queued"], json!(false), "{a}");
    let ev = alice.next_event("battle_started", WAIT).await.unwrap();
    assert_eq!(ev["battleId"], a["battleId"]);
    assert_eq!(ev["players"], json!(["alice", "bob"]));
    assert!(mm_keys(&redis.url()).await.is_empty());
}

#[tokio::test]
async fn leave_queue_takes_a_player_out_and_other_difficulties_do_not_meet() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let alice = arena[0].client("alice").await;
    let bob = arena[0].client("bob").await;
    let carol = arena[0].client("carol").await;
    assert_eq!(queue(&alice, "hard").await["queued"], json!(true));
    let left = leave(&alice).await;
    assert_eq!(left["ok"], json!(true), "{left}");
    assert_eq!(left["left"], json!(true));
    assert_eq!(
        leave(&alice).await["left"],
        json!(false),
        "not queued any more"
    );
    assert_eq!(
        queue(&bob, "hard").await["queued"],
        json!(true),
        "alice left"
    );
    // Easy and hard do not meet; switching queues moves the entry.
    assert_eq!(queue(&carol, "easy").await["queued"], json!(true));
    let a = queue(&carol, "hard").await;
    assert_eq!(
        a["queued"],
        json!(false),
        "carol moved to hard and met bob: {a}"
    );
    assert!(
        mm_keys(&redis.url()).await.is_empty(),
        "carol's easy entry went too"
    );
}

#[tokio::test]
async fn bad_queue_requests_are_refused() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let alice = arena[0].client("alice").await;
    for payload in [
        json!({"difficulty": "extreme"}),
        json!({"difficulty": 3}),
        json!({}),
    ] {
        let a = ack(&alice, "queue_battle", &payload, WAIT).await;
        assert_eq!(a["ok"], json!(false), "{payload}: {a}");
        assert_eq!(a["error"]["code"], json!("bad_request"), "{payload}: {a}");
    }
    assert!(mm_keys(&redis.url()).await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn an_expired_entry_is_never_paired_and_is_dropped() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let mut conn = ::redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // A player whose entry's TTL ran out: still in the queue's zset, no `queued` key. And
    // one whose `queued` key names another queue (moved, with a stale entry left behind).
    let _: () = conn
        .zadd("arena:{mm}:queue:easy", "ghost", 1)
        .await
        .unwrap();
    let _: () = conn
        .zadd("arena:{mm}:queue:easy", "mover", 2)
        .await
        .unwrap();
    let _: () = conn.set("arena:{mm}:queued:mover", "hard:2").await.unwrap();
    let carol = arena[0].client("carol").await;
    let a = queue(&carol, "easy").await;
    assert_eq!(a["queued"], json!(true), "carol met a stale entry: {a}");
    let easy: Vec<String> = conn.zrange("arena:{mm}:queue:easy", 0, -1).await.unwrap();
    assert_eq!(
        easy,
        vec!["carol".to_string()],
        "the stale heads were dropped"
    );
}
