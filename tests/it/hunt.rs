//! Treasure hunt: exactly-once claims under contention across instances, the idempotent
//! leaderboard projection (dead consumers, poison entries, rebuild), durability of
//! acknowledged claims across a Redis SIGKILL, one map per period, and refusals that
//! write nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arena::base::clock::unix_ms;
use arena::modes::hunt::keys;
use arena::modes::hunt::projection::{self, ClaimEntry};
use arena::modes::hunt::scripts::ClaimOutcome;
use arena::redis::Conn;
use redis::AsyncCommands;
use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use serde_json::{Value, json};

use crate::harness::hunt::{
    PARTITIONS, board, claim_direct, log, next_tile_claimed, owners, pending_total, store_map,
    try_claim_direct, tweak,
};
use crate::harness::rooms::{RoomsClient, stuck_reader_in};
use crate::harness::{Arena, HuntClient, RedisOptions, RedisServer, eventually, redis};

const WAIT: Duration = Duration::from_secs(10);

async fn conn(url: &str) -> Conn {
    let mut c = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(url),
        Duration::from_secs(5),
    )
    .unwrap();
    arena::redis::ping(&c, Duration::from_secs(5))
        .await
        .unwrap();
    let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    c
}

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("")
}

/// `tile_claimed` leaves in the claim script (SPUBLISH on the partition's shard channel);
/// each instance holds those channels. Their connections are killed again and again
/// while claims go on: what was published while an instance was not subscribed is read
/// from the claim stream when it subscribes again, so a watcher on each instance still
/// sees every acknowledged claim exactly once, and in its partition's order.
#[tokio::test]
async fn hunt_tile_claimed_reaches_every_watcher_once_through_lost_subscriptions() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        tweak(c);
        c.modes.hunt.claim_rate = 100_000;
    })
    .await;
    let mut c = conn(&redis.url()).await;
    const MAP: u64 = 9;
    store_map(&mut c, MAP, &[(5, 50)], 120_000).await;
    let mut watchers = [
        arena[0].client_in("watch0", "hunt").await,
        arena[1].client_in("watch1", "hunt").await,
    ];
    let alice = arena[0].client("alice").await;
    let bob = arena[1].client("bob").await;
    let claims = tokio::spawn(async move {
        let mut acked = Vec::new();
        for tile in 0..256i64 {
            let who = if tile % 2 == 0 { &alice } else { &bob };
            let ack = who.claim(MAP, tile).await;
            assert_eq!(ack["ok"], json!(true), "{ack}");
            acked.push(tile);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        acked
    });
    // Every pub/sub connection of both instances (the hunt's shard channels among them),
    // every 60 ms while the claims go on.
    let mut kills = 0;
    while !claims.is_finished() {
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut c)
            .await
            .unwrap();
        kills += killed;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let acked = claims.await.unwrap();
    assert!(kills >= 4, "only {kills} pub/sub connections killed");
    for (i, w) in watchers.iter_mut().enumerate() {
        let events = next_tile_claimed(w, acked.len(), WAIT)
            .await
            .unwrap_or_else(|(seen, e)| {
                let seen: Vec<i64> = seen.iter().map(|d| d["tile"].as_i64().unwrap()).collect();
                let missing: Vec<i64> = acked
                    .iter()
                    .copied()
                    .filter(|t| !seen.contains(t))
                    .collect();
                panic!(
                    "instance {i}: {} of {} tile_claimed (missing {missing:?}), then {e}",
                    seen.len(),
                    acked.len()
                )
            });
        let mut seen = Vec::new();
        for d in &events {
            let tile = d["tile"].as_i64().unwrap();
            assert_eq!(d["mapId"], json!(MAP), "{d}");
            assert_eq!(
                d["player"],
                json!(if tile % 2 == 0 { "alice" } else { "bob" }),
                "{d}"
            );
            assert_eq!(d["value"], json!(if tile == 5 { 50 } else { 0 }), "{d}");
            seen.push(tile);
        }
        // One map is one partition: the claims' order, each once.
        assert_eq!(seen, acked, "instance {i}");
        assert!(
            w.next_event("tile_claimed", Duration::from_millis(300))
                .await
                .is_err(),
            "instance {i}: a tile_claimed more than once"
        );
    }
}

/// A `tile_claimed` lost to a full subscriber queue (the delivery task is behind) is a loss
/// of its channel: the channel's later messages wait for a catch-up from the claim stream,
/// so a watcher still sees every claim once and in the partition's order. The queue is
/// the smallest allowed and the claims run straight into Redis, 256 at once: their
/// messages reach the instances in bursts the queue cannot hold.
#[tokio::test]
async fn hunt_tile_claimed_lost_to_a_full_queue_is_caught_up() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        tweak(c);
        c.services.pubsub_buffer = 16;
    })
    .await;
    let mut c = conn(&redis.url()).await;
    let mut watchers = [
        arena[0].client_in("watch0", "hunt").await,
        arena[1].client_in("watch1", "hunt").await,
    ];
    let stream = claim_every_tile_at_once(&mut c, 11).await;
    let dropped = [
        arena[0].metric("arena_pubsub_dropped_total").await,
        arena[1].metric("arena_pubsub_dropped_total").await,
    ];
    for (i, w) in watchers.iter_mut().enumerate() {
        let seen = next_tile_claimed(w, stream.len(), WAIT)
            .await
            .unwrap_or_else(|(seen, e)| {
                panic!(
                    "instance {i}: {} of {} tile_claimed ({} dropped by the queue), then {e}",
                    seen.len(),
                    stream.len(),
                    dropped[i]
                )
            });
        let seen: Vec<i64> = seen.iter().map(|d| d["tile"].as_i64().unwrap()).collect();
        assert_eq!(seen, stream, "instance {i}");
        assert!(
            w.next_event("tile_claimed", Duration::from_millis(300))
                .await
                .is_err(),
            "instance {i}: a tile_claimed more than once"
        );
    }
    // The queue did overflow (on at least one instance), or the test showed nothing.
    assert!(dropped[0] + dropped[1] > 0.0, "no message was dropped");
}

/// Claim every tile of a fresh 16 × 16 map `map` straight into Redis, 256 at once (their
/// `tile_claimed` messages reach the instances in a burst), and return the tiles in the
/// partition stream's order.
async fn claim_every_tile_at_once(c: &mut Conn, map: u64) -> Vec<i64> {
    const CLAIMS: i64 = 256;
    store_map(c, map, &[(3, 30)], 120_000).await;
    let players: Vec<String> = (0..CLAIMS).map(|t| format!("p{}", t % 8)).collect();
    let claims = (0..CLAIMS).map(|tile| {
        let mut c = c.clone();
        let player = players[tile as usize].as_str();
        async move { claim_direct(&mut c, map, tile, player).await }
    });
    for out in futures_util::future::join_all(claims).await {
        assert!(matches!(out, ClaimOutcome::Claimed { .. }));
    }
    // The partition's order is its stream's.
    let stream: Vec<i64> = log(c)
        .await
        .into_iter()
        .filter(|e| e.map_id == map)
        .map(|e| i64::from(e.tile))
        .collect();
    assert_eq!(stream.len(), CLAIMS as usize);
    stream
}

/// A catch-up goes to each member at that member's own pace: a member that reads nothing
/// (its queue full) holds back neither the catch-up nor the live claims after it from the
/// other members. It did: the delivery task waited for the slowest member, up to 5 s per
/// catch-up, with every live `tile_claimed` behind it.
#[tokio::test]
async fn hunt_catch_up_never_waits_for_a_member_that_does_not_read() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        tweak(c);
        c.services.pubsub_buffer = 16;
        c.services.client_buffer = 16;
        // The padded attacks below, back to back.
        c.services.limits.socket_event_rate = 100_000;
        c.services.limits.socket_event_burst = 100_000;
    })
    .await;
    let mut c = conn(&redis.url()).await;
    // A member that never reads again, with a small receive buffer, and its queue filled
    // by padded attacks in a room it is also in (the kernel's buffers cannot absorb them).
    let stuck = stuck_reader_in(&arena[0], &["r", "hunt"], Some(4096)).await;
    let sender = arena[0].client_in("s", "r").await;
    let pad = "p".repeat(16 * 1024);
    let mut attacks = 0;
    while arena[0].metric("arena_client_send_dropped_total").await == 0.0 {
        assert!(attacks < 2_000, "the stuck member's queue never filled");
        for _ in 0..50 {
            let ack = sender
                .attack_with("r", 1, &json!({"i": attacks, "pad": pad}))
                .await;
            assert_eq!(ack["ok"], json!(true), "{ack}");
            attacks += 1;
        }
    }
    let mut watcher = arena[0].client_in("watch", "hunt").await;
    // Bursts until one overflows the subscriber's queue: that one is caught up.
    for map in 20.. {
        assert!(map < 26, "no burst overflowed the subscriber's queue");
        let stream = claim_every_tile_at_once(&mut c, map).await;
        let seen = next_tile_claimed(&mut watcher, stream.len(), WAIT)
            .await
            .unwrap_or_else(|(seen, e)| {
                panic!("{} of {} tile_claimed, then {e}", seen.len(), stream.len())
            });
        let seen: Vec<i64> = seen.iter().map(|d| d["tile"].as_i64().unwrap()).collect();
        assert_eq!(seen, stream, "map {map}");
        if arena[0].metric("arena_pubsub_dropped_total").await > 0.0 {
            break;
        }
    }
    let dropped = arena[0].metric("arena_client_send_dropped_total").await;
    // A live claim right after the catch-up reaches the reading member at once, while the
    // stuck member's lane still waits for its queue.
    const PROBE: u64 = 30;
    store_map(&mut c, PROBE, &[], 120_000).await;
    let started = std::time::Instant::now();
    let out = claim_direct(&mut c, PROBE, 0, "probe").await;
    assert!(matches!(out, ClaimOutcome::Claimed { .. }));
    let d = watcher.next_event("tile_claimed", WAIT).await.unwrap();
    assert_eq!(
        (d["mapId"].clone(), d["tile"].clone()),
        (json!(PROBE), json!(0))
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "a live claim after the catch-up took {took:?}: it waited for the stuck member"
    );
    // The stuck member is left behind (its queue never drained) and what it did not take is
    // counted; its lane closes and live claims go on to the others.
    eventually(
        Duration::from_secs(15),
        "the stuck member's catch-up counted as dropped",
        || async {
            (arena[0].metric("arena_client_send_dropped_total").await > dropped).then_some(())
        },
    )
    .await;
    let out = claim_direct(&mut c, PROBE, 1, "probe").await;
    assert!(matches!(out, ClaimOutcome::Claimed { .. }));
    let d = watcher.next_event("tile_claimed", WAIT).await.unwrap();
    assert_eq!(
        (d["mapId"].clone(), d["tile"].clone()),
        (json!(PROBE), json!(1))
    );
    drop(stuck);
}

#[tokio::test]
async fn hunt_concurrent_claimers_get_exactly_one_winner_per_tile() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, tweak).await;
    let mut c = conn(&redis.url()).await;
    const MAP: u64 = 7;
    // Tiles 0..10 hold 1..=10; tile 20 holds nothing (worth 0, still claimable).
    let treasures: Vec<(u32, i64)> = (0..10).map(|t| (t, t as i64 + 1)).collect();
    store_map(&mut c, MAP, &treasures, 120_000).await;
    let tiles: Vec<i64> = (0..10).chain([20]).collect();
    let value_of = |t: i64| if t < 10 { t + 1 } else { 0 };

    let mut watchers = [
        arena[0].client_in("watch0", "hunt").await,
        arena[1].client_in("watch1", "hunt").await,
    ];
    let mut clients = Vec::new();
    for i in 0..200 {
        clients.push(Arc::new(arena[i % 2].client(&format!("p{i}")).await));
    }
    let mut tasks = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let client = client.clone();
        let mut order = tiles.clone();
        order.rotate_left(i % tiles.len());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for t in order {
                let ack = client.claim(MAP, t).await;
                acks.push((format!("p{i}"), t, ack));
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    assert_eq!(acks.len(), 200 * tiles.len());

    // Exactly one ok per tile; every loser was told who won.
    let mut winners: HashMap<i64, String> = HashMap::new();
    for (player, tile, ack) in &acks {
        if ack["ok"] == json!(true) {
            assert_eq!(ack["value"], json!(value_of(*tile)), "{ack}");
            assert!(
                winners.insert(*tile, player.clone()).is_none(),
                "tile {tile} acknowledged twice"
            );
        }
    }
    assert_eq!(winners.len(), tiles.len(), "every tile has a winner");
    for (player, tile, ack) in &acks {
        if ack["ok"] != json!(true) {
            assert_eq!(code(ack), "tile_taken", "{ack}");
            assert_eq!(
                ack["error"]["owner"],
                json!(winners[tile]),
                "{player}: {ack}"
            );
        }
    }
    // The owners hash agrees, and each acknowledged claim is in the log exactly once.
    let owners = owners(&mut c, MAP).await;
    assert_eq!(owners.len(), tiles.len());
    for (tile, winner) in &winners {
        assert_eq!(&owners[&tile.to_string()], winner);
    }
    let entries: Vec<ClaimEntry> = log(&mut c)
        .await
        .into_iter()
        .filter(|e| e.map_id == MAP)
        .collect();
    assert_eq!(
        entries.len(),
        tiles.len(),
        "one log entry per acknowledged claim"
    );
    for e in &entries {
        assert_eq!(winners[&i64::from(e.tile)], e.player);
        assert_eq!(e.value, value_of(i64::from(e.tile)));
        assert_eq!(e.claim_id, format!("{MAP}:{}", e.tile));
    }
    // Watchers on both instances saw each tile_claimed once, with the winner.
    for w in watchers.iter_mut() {
        let mut seen = HashMap::new();
        while seen.len() < tiles.len() {
            let d = w
                .next_event("tile_claimed", WAIT)
                .await
                .expect("tile_claimed");
            let tile = d["tile"].as_i64().unwrap();
            assert_eq!(d["player"], json!(winners[&tile]));
            assert_eq!(d["value"], json!(value_of(tile)));
            assert!(
                seen.insert(tile, ()).is_none(),
                "tile_claimed twice for {tile}"
            );
        }
        assert!(
            w.next_event("tile_claimed", Duration::from_millis(300))
                .await
                .is_err()
        );
    }
    // The projection catches up: the board holds exactly the acknowledged values.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for (tile, winner) in &winners {
        *expected.entry(winner.clone()).or_default() += value_of(*tile);
    }
    let got = eventually(WAIT, "leaderboard to match the acks", || {
        let mut c = c.clone();
        let expected = expected.clone();
        async move {
            let b = board(&mut c).await;
            (b == expected).then_some(b)
        }
    })
    .await;
    let http = arena[1].get_json("/api/hunt/leaderboard?limit=1000").await;
    let rows = http["entries"].as_array().unwrap();
    assert_eq!(rows.len(), got.len());
    assert_eq!(rows[0]["rank"], json!(1));
    let total: f64 = rows.iter().map(|r| r["score"].as_f64().unwrap()).sum();
    assert_eq!(total as i64, 55);
    let m = arena[0].get_json(&format!("/api/hunt/maps/{MAP}")).await;
    assert_eq!(m["owners"].as_object().unwrap().len(), tiles.len());
    assert_eq!(m["mapId"], json!(MAP));
    // The leader's periodic `leaderboard` broadcast reaches the room on both instances.
    for w in watchers.iter_mut() {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no full leaderboard broadcast"
            );
            let b = w
                .next_event("leaderboard", WAIT)
                .await
                .expect("leaderboard");
            let entries = b["entries"].as_array().unwrap();
            let scores: Vec<f64> = entries
                .iter()
                .map(|e| e["score"].as_f64().unwrap())
                .collect();
            let ranks: Vec<u64> = entries
                .iter()
                .map(|e| e["rank"].as_u64().unwrap())
                .collect();
            assert!(scores.windows(2).all(|p| p[0] >= p[1]), "best first: {b}");
            assert_eq!(ranks, (1..=entries.len() as u64).collect::<Vec<_>>());
            assert!(entries.len() <= 10);
            let top: Vec<(String, i64)> = entries
                .iter()
                .map(|e| {
                    (
                        e["player"].as_str().unwrap().to_string(),
                        e["score"].as_f64().unwrap() as i64,
                    )
                })
                .collect();
            if top.len() == got.len().min(10) && top.iter().all(|(p, s)| got.get(p) == Some(s)) {
                break;
            }
        }
    }
    // Metrics: every claim counted once, on the instance that handled it; the projection
    // measured its lag once per applied claim.
    let (mut ok, mut taken, mut lag) = (0.0, 0.0, 0.0);
    for i in &arena.instances {
        ok += i.metric("arena_claims_total{result=\"ok\"}").await;
        taken += i.metric("arena_claims_total{result=\"taken\"}").await;
        lag += i.metric("arena_leaderboard_lag_seconds_count").await;
    }
    assert_eq!(ok, tiles.len() as f64);
    assert_eq!(taken, (acks.len() - tiles.len()) as f64);
    assert_eq!(lag, tiles.len() as f64);
    let (_, body) = arena[0].get("/metrics").await;
    assert!(
        body.contains("arena_claim_duration_seconds_bucket"),
        "a histogram, not a summary"
    );
}

#[tokio::test]
async fn hunt_projection_survives_a_dead_consumer_and_rebuild_matches() {
    let redis = redis();
    let mut c = conn(&redis.url()).await;
    // Claims logged before any instance runs: 5 maps x 40 tiles, 5 players.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for map in 100..105u64 {
        let treasures: Vec<(u32, i64)> = (0..40).map(|t| (t, (t % 7 + 1) as i64)).collect();
        store_map(&mut c, map, &treasures, 120_000).await;
        for t in 0..40i64 {
            let player = format!("p{}", (map as i64 + t) % 5);
            let out = claim_direct(&mut c, map, t, &player).await;
            assert!(matches!(out, ClaimOutcome::Claimed { .. }));
            *expected.entry(player).or_default() += t % 7 + 1;
        }
    }
    // A consumer reads part of every partition and dies without acking; it even applied
    // some of its entries before dying (applied, never acked).
    projection::ensure_groups(&mut c, PARTITIONS).await.unwrap();
    let mut ghost_entries = 0;
    for p in 0..PARTITIONS {
        let opts = StreamReadOptions::default()
            .group(projection::GROUP, "ghost")
            .count(25);
        let r: Option<StreamReadReply> = c
            .xread_options(&[keys::hunt_claims(p)], &[">"], &opts)
            .await
            .unwrap();
        for k in r.map(|r| r.keys).unwrap_or_default() {
            for (i, e) in k.ids.iter().enumerate() {
                ghost_entries += 1;
                if i % 3 == 0 {
                    let entry = ClaimEntry::parse(e).unwrap();
                    assert!(projection::apply_entry(&mut c, &entry, 3600).await.unwrap());
                    // Applying the same entry twice changes nothing.
                    assert!(!projection::apply_entry(&mut c, &entry, 3600).await.unwrap());
                }
            }
        }
    }
    assert_eq!(ghost_entries, 25 * PARTITIONS as usize);
    assert_eq!(pending_total(&mut c).await, ghost_entries);

    // Live consumers start, take over the ghost's entries and project everything once.
    let arena = Arena::spawn_with(&redis.url(), 2, tweak).await;
    eventually(WAIT, "the board to hold every claim once", || {
        let mut c = c.clone();
        let expected = expected.clone();
        async move {
            (board(&mut c).await == expected && pending_total(&mut c).await == 0).then_some(())
        }
    })
    .await;
    // Stays put (nothing is counted twice later).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(board(&mut c).await, expected);
    let mut dead = 0.0;
    for i in &arena.instances {
        dead += i.metric("arena_dead_letters_total").await;
    }
    assert_eq!(dead, 0.0);

    // The rebuild from the log equals the live board.
    let live = board(&mut c).await;
    let report = arena::modes::hunt::board::rebuild(&mut c, PARTITIONS)
        .await
        .unwrap();
    assert_eq!(report.claims, 200);
    assert_eq!(report.total, expected.values().sum::<i64>());
    assert_eq!(board(&mut c).await, live);

    // The projection keeps working after a rebuild: a new claim over a socket is counted.
    store_map(&mut c, 200, &[(3, 50)], 60_000).await;
    let client = arena[0].client("p0").await;
    let ack = client.claim(200, 3).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    *expected.get_mut("p0").unwrap() += 50;
    eventually(WAIT, "the new claim on the board", || {
        let mut c = c.clone();
        let expected = expected.clone();
        async move { (board(&mut c).await == expected).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn hunt_poison_entries_are_dead_lettered_and_counted() {
    let redis = redis();
    let mut c = conn(&redis.url()).await;
    let arena = Arena::spawn_with(&redis.url(), 2, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.hunt_max_deliveries = 2;
    })
    .await;
    // Wait for the groups, then log an entry no projection can apply.
    eventually(WAIT, "consumer groups", || {
        let mut c = c.clone();
        async move {
            let r: redis::RedisResult<redis::streams::StreamPendingReply> =
                c.xpending(keys::hunt_claims(0), projection::GROUP).await;
            r.ok().map(|_| ())
        }
    })
    .await;
    let _: String = c
        .xadd(keys::hunt_claims(0), "*", &[("mapId", "not-a-number")])
        .await
        .unwrap();
    // Well-formed fields whose apply-once bit would be another claim's (the claim id is
    // not the map and tile), and a tile beyond any map: both poison too.
    let entry = |tile: &'static str, claim_id: &'static str| {
        [
            ("mapId", "7"),
            ("tile", tile),
            ("player", "mallory"),
            ("value", "100"),
            ("claimId", claim_id),
            ("at", "1700000000000"),
        ]
    };
    for (tile, claim_id) in [("3", "7:4"), ("16777216", "7:16777216")] {
        let _: String = c
            .xadd(keys::hunt_claims(0), "*", &entry(tile, claim_id))
            .await
            .unwrap();
    }
    let dead = eventually(WAIT, "the poison entries in the dead-letter stream", || {
        let mut c = c.clone();
        async move {
            let r: StreamRangeReply = c.xrange_all(keys::hunt_dead_letters(0)).await.unwrap();
            (r.ids.len() >= 3).then_some(r.ids)
        }
    })
    .await;
    assert_eq!(dead.len(), 3);
    assert_eq!(
        dead[0].get::<String>("mapId").as_deref(),
        Some("not-a-number")
    );
    let mallory: Option<f64> = c.zscore(keys::lb_global(), "mallory").await.unwrap();
    assert_eq!(mallory, None, "a poison entry never reaches the board");
    eventually(WAIT, "no pending entries", || {
        let mut c = c.clone();
        async move { (pending_total(&mut c).await == 0).then_some(()) }
    })
    .await;
    let mut counted = 0.0;
    for i in &arena.instances {
        counted += i.metric("arena_dead_letters_total").await;
    }
    assert_eq!(counted, 3.0);
}

#[tokio::test]
async fn hunt_acknowledged_claims_survive_a_redis_sigkill() {
    crate::harness::init_logs();
    let mut redis = RedisServer::start(RedisOptions {
        appendonly: true,
        appendfsync: "always",
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let arena = Arena::spawn_with(&redis.url(), 1, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.claim_rate = 100_000;
    })
    .await;
    const MAP: u64 = 9;
    {
        let mut c = conn(&redis.url()).await;
        let treasures: Vec<(u32, i64)> = (0..256).map(|t| (t, 1 + (t % 100) as i64)).collect();
        store_map(&mut c, MAP, &treasures, 300_000).await;
    }
    // Two players claim tiles as fast as acks come back; Redis is SIGKILLed mid-stream.
    let a = Arc::new(arena[0].client("alice").await);
    let b = Arc::new(arena[0].client("bob").await);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(i64, String)>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for (client, player, offset) in [(a, "alice", 0i64), (b, "bob", 1)] {
        let acked = acked.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut tile = offset;
            while !stop.is_cancelled() && tile < 256 {
                let r = client.try_claim(MAP, tile, Duration::from_secs(2)).await;
                if let Ok(ack) = r
                    && ack["ok"] == json!(true)
                {
                    acked.lock().unwrap().push((tile, player.to_string()));
                }
                tile += 2;
            }
        }));
    }
    eventually(WAIT, "some acknowledged claims", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= 40).then_some(()) }
    })
    .await;
    redis.kill();
    let at_kill = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().expect("restart redis");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= at_kill && at_kill >= 40);

    let mut c = conn(&redis.url()).await;
    let owners = owners(&mut c, MAP).await;
    let logged: HashMap<String, ClaimEntry> = log(&mut c)
        .await
        .into_iter()
        .map(|e| (e.claim_id.clone(), e))
        .collect();
    for (tile, player) in &acked {
        assert_eq!(
            owners.get(&tile.to_string()),
            Some(player),
            "acknowledged claim of tile {tile} lost from the owners"
        );
        let e = logged
            .get(&format!("{MAP}:{tile}"))
            .unwrap_or_else(|| panic!("acknowledged claim of tile {tile} lost from the log"));
        assert_eq!(&e.player, player);
    }
    // And the log holds nothing the owners do not (the two are written in one step).
    assert_eq!(owners.len(), logged.len());
}

#[tokio::test]
async fn timing_hunt_exactly_one_map_per_period_across_three_instances() {
    const MAP_MS: u64 = 100;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 3, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.map_ms = MAP_MS;
        cfg.modes.hunt.hunt_key_ttl_s = 120;
    })
    .await;
    let mut watchers = Vec::new();
    for (i, inst) in arena.instances.iter().enumerate() {
        watchers.push(inst.client_in(&format!("w{i}"), "hunt").await);
    }
    let mut before = 0.0;
    for i in &arena.instances {
        before += i.metric("arena_maps_generated_total").await;
    }
    let first = unix_ms() / MAP_MS + 2;
    let last = first + 20;
    // Wait until period `last` is over, plus slack for the broadcast.
    tokio::time::sleep(Duration::from_millis((last + 1) * MAP_MS - unix_ms() + 300)).await;
    let mut after = 0.0;
    for i in &arena.instances {
        after += i.metric("arena_maps_generated_total").await;
    }
    for w in watchers.iter_mut() {
        let ids: Vec<u64> = w
            .collect("map_created", Duration::from_millis(100))
            .await
            .iter()
            .map(|m| m["mapId"].as_u64().unwrap())
            .filter(|id| (first..=last).contains(id))
            .collect();
        let expected: Vec<u64> = (first..=last).collect();
        assert_eq!(ids, expected, "one map_created per period, in order");
    }
    // Every map in the window exists once, with its own partition, and the generators
    // counted exactly one map per period overall.
    for id in [first, last] {
        let m = arena[2].get_json(&format!("/api/hunt/maps/{id}")).await;
        assert_eq!(m["mapId"], json!(id));
        assert_eq!(m["treasures"].as_object().unwrap().len(), 20);
    }
    let periods_elapsed = after - before;
    assert!(periods_elapsed >= 21.0, "maps generated {periods_elapsed}");
    let mut c = conn(&redis.url()).await;
    let fence: u64 = c
        .get(arena::redis::keys::period_last(keys::MAPGEN_RACE))
        .await
        .unwrap();
    assert!(fence >= last);
}

#[tokio::test]
async fn hunt_refusals_get_their_code_and_write_nothing() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.claim_rate = 5;
    })
    .await;
    let mut c = conn(&redis.url()).await;
    store_map(&mut c, 21, &[(1, 10), (2, 20)], 60_000).await;
    store_map(&mut c, 22, &[(1, 10)], -1).await;
    let client = arena[0].client("carol").await;
    // Malformed payloads go out raw: the typed `claim` cannot express them.
    let raw_claim = |payload: Value| {
        let client = &client;
        async move { client.emit_with_ack("claim", &payload, WAIT).await.unwrap() }
    };

    assert_eq!(code(&client.claim(22, 1).await), "map_expired");
    assert_eq!(code(&client.claim(21, 256).await), "invalid_tile");
    assert_eq!(code(&client.claim(21, -1).await), "invalid_tile");
    assert_eq!(code(&client.claim(999_999, 0).await), "unknown_map");
    for bad in [
        json!("x"),
        json!({}),
        json!([1, 2]),
        json!({"mapId": "21", "tile": 1}),
        json!({"mapId": 21, "tile": 1.5}),
        json!({"mapId": -21, "tile": 1}),
    ] {
        let ack = raw_claim(bad.clone()).await;
        assert_eq!(code(&ack), "bad_request", "{bad}: {ack}");
    }
    let ack = client.request(r#"["claim"]"#, "claim", WAIT).await.unwrap();
    assert_eq!(code(&ack), "bad_request", "{ack}");
    assert!(
        log(&mut c).await.is_empty(),
        "refused claims wrote to the log"
    );
    assert!(owners(&mut c, 21).await.is_empty());
    assert!(owners(&mut c, 22).await.is_empty());

    // Over the rate limit (5/s, burst 5): refused with rate_limited, nothing written.
    let spammer = Arc::new(arena[0].client("spammer").await);
    let mut tasks = Vec::new();
    for tile in 100..130i64 {
        let s = spammer.clone();
        tasks.push(tokio::spawn(async move {
            let ack = s.claim(21, tile).await;
            (tile, ack)
        }));
    }
    let mut ok = HashSet::new();
    let mut limited = HashSet::new();
    for t in tasks {
        let (tile, ack) = t.await.unwrap();
        if ack["ok"] == json!(true) {
            assert_eq!(ack["value"], json!(0));
            ok.insert(tile);
        } else {
            assert_eq!(code(&ack), "rate_limited", "{ack}");
            limited.insert(tile);
        }
    }
    assert!(
        (5..=8).contains(&ok.len()),
        "{} claims passed a 5/s limit",
        ok.len()
    );
    let owners = owners(&mut c, 21).await;
    let owned: HashSet<i64> = owners.keys().map(|t| t.parse().unwrap()).collect();
    assert_eq!(owned, ok, "exactly the allowed claims own their tiles");
    assert_eq!(log(&mut c).await.len(), ok.len());
    let limited_n = limited.len() as f64;
    assert_eq!(
        arena[0]
            .metric("arena_rate_limited_total{action=\"claim\"}")
            .await,
        limited_n
    );
    assert_eq!(
        arena[0]
            .metric("arena_claims_total{result=\"rate_limited\"}")
            .await,
        limited_n
    );
    assert_eq!(
        arena[0]
            .metric("arena_claims_total{result=\"bad_request\"}")
            .await,
        7.0
    );
    assert_eq!(
        arena[0]
            .metric("arena_claims_total{result=\"expired\"}")
            .await,
        1.0
    );
    assert_eq!(
        arena[0]
            .metric("arena_claims_total{result=\"invalid\"}")
            .await,
        3.0
    );

    // HTTP reads: unknown map 404, bad limit 400.
    assert_eq!(arena[0].get("/api/hunt/maps/424242").await.0, 404);
    assert_eq!(arena[0].get("/api/hunt/maps/abc").await.0, 400);
    assert_eq!(arena[0].get("/api/hunt/leaderboard?limit=0").await.0, 400);
    assert_eq!(arena[0].get("/api/hunt/leaderboard?limit=x").await.0, 400);
}

/// A map whose stored tile value is not an integer (a corrupted or foreign write) makes
/// the claim script fail before it writes anything: no owner, no log entry, no
/// `tile_claimed` with a malformed body. The tile's other claims are unaffected.
#[tokio::test]
async fn hunt_claim_of_a_tile_with_a_corrupt_value_is_an_error_and_writes_nothing() {
    let redis = redis();
    let mut c = conn(&redis.url()).await;
    store_map(&mut c, 31, &[(1, 10)], 60_000).await;
    let map_key = keys::hunt_map(keys::partition_of(31, PARTITIONS), 31);
    for (tile, bad) in [(2i64, "1.5"), (3, "abc"), (4, "7}")] {
        let _: () = c.hset(&map_key, format!("v:{tile}"), bad).await.unwrap();
        let err = try_claim_direct(&mut c, 31, tile, "mallory")
            .await
            .expect_err("a corrupt tile value must not be claimed")
            .to_string();
        assert!(err.contains("has no integer value"), "{err}");
    }
    assert!(
        owners(&mut c, 31).await.is_empty(),
        "a failed claim set an owner"
    );
    assert!(
        log(&mut c).await.is_empty(),
        "a failed claim reached the log"
    );
    let out = claim_direct(&mut c, 31, 1, "mallory").await;
    assert!(
        matches!(out, ClaimOutcome::Claimed { value: 10, .. }),
        "{out:?}"
    );
    let entries = log(&mut c).await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].tile, entries[0].value), (1, 10));
}

#[tokio::test]
async fn hunt_claim_limit_in_the_claim_script_holds_across_instances() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.claim_rate = 10;
    })
    .await;
    let mut c = conn(&redis.url()).await;
    // Maps 31 and 32 are in different partitions (3 and 0 of 4).
    store_map(&mut c, 31, &[], 60_000).await;
    store_map(&mut c, 32, &[], 60_000).await;
    // One player with a socket on each instance: the limit is the player's, not the
    // socket's or the instance's.
    let sockets = [
        Arc::new(arena[0].client("dora").await),
        Arc::new(arena[1].client("dora").await),
    ];

    // A burst of 40 over both instances at once: the burst (10) passes, the rest is
    // refused with rate_limited and writes nothing.
    let mut tasks = Vec::new();
    for tile in 0..40i64 {
        let s = sockets[tile as usize % 2].clone();
        tasks.push(tokio::spawn(async move { (tile, s.claim(31, tile).await) }));
    }
    let mut ok = HashSet::new();
    let mut limited = 0usize;
    for t in tasks {
        let (tile, ack) = t.await.unwrap();
        if ack["ok"] == json!(true) {
            ok.insert(tile);
        } else {
            assert_eq!(code(&ack), "rate_limited", "{ack}");
            limited += 1;
        }
    }
    assert!(
        (10..=13).contains(&ok.len()),
        "{} claims passed a 10/s limit (burst 10) across two instances",
        ok.len()
    );
    let owned: HashSet<i64> = owners(&mut c, 31)
        .await
        .keys()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(owned, ok, "exactly the allowed claims own their tiles");
    assert_eq!(log(&mut c).await.len(), ok.len());
    let mut counted = 0.0;
    for i in &arena.instances {
        counted += i.metric("arena_rate_limited_total{action=\"claim\"}").await;
    }
    assert_eq!(counted, limited as f64);

    // The documented price of one slot per claim: another partition has its own budget.
    let ack = sockets[1].claim(32, 0).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");

    // Once the budget has refilled, claims within the rate (5/s, alternating instances)
    // are all accepted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for tile in 100..110i64 {
        let ack = sockets[tile as usize % 2].claim(31, tile).await;
        assert_eq!(ack["ok"], json!(true), "tile {tile}: {ack}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(owners(&mut c, 31).await.len(), ok.len() + 10);
}

#[tokio::test]
async fn hunt_projection_readers_per_partition_group_apply_batches_once() {
    let redis = redis();
    let mut c = conn(&redis.url()).await;
    // 4 maps (one per partition) x 64 tiles, logged before any instance runs.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_map: BTreeMap<u64, BTreeMap<String, i64>> = BTreeMap::new();
    for map in 300..304u64 {
        let treasures: Vec<(u32, i64)> = (0..64).map(|t| (t, (t % 5 + 1) as i64)).collect();
        store_map(&mut c, map, &treasures, 120_000).await;
        for t in 0..64i64 {
            let player = format!("q{}", (map as i64 * 3 + t) % 7);
            let out = claim_direct(&mut c, map, t, &player).await;
            assert!(matches!(out, ClaimOutcome::Claimed { .. }));
            *expected.entry(player.clone()).or_default() += t % 5 + 1;
            *per_map.entry(map).or_default().entry(player).or_default() += t % 5 + 1;
        }
    }
    let entries = log(&mut c).await;
    assert_eq!(entries.len(), 256);
    // A batch applies each claim once, even one named twice in the same batch.
    let (a, b) = (&entries[0], &entries[1]);
    let flags = projection::apply_batch(&mut c, &[a, b, a], 3600)
        .await
        .unwrap();
    assert_eq!(flags, vec![true, true, false]);
    let flags = projection::apply_batch(&mut c, &[b, a], 3600)
        .await
        .unwrap();
    assert_eq!(flags, vec![false, false]);
    assert!(
        projection::apply_batch(&mut c, &[], 3600)
            .await
            .unwrap()
            .is_empty()
    );

    // Two instances with one reader per partition (4 each) project the rest exactly once.
    let arena = Arena::spawn_with(&redis.url(), 2, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.hunt_projection_partitions = 1;
    })
    .await;
    eventually(WAIT, "the board to hold every claim once", || {
        let mut c = c.clone();
        let expected = expected.clone();
        async move {
            (board(&mut c).await == expected && pending_total(&mut c).await == 0).then_some(())
        }
    })
    .await;
    for (map, want) in &per_map {
        let rows: Vec<(String, f64)> = c
            .zrange_withscores(keys::lb_map(*map), 0, -1)
            .await
            .unwrap();
        let got: BTreeMap<String, i64> = rows.into_iter().map(|(p, s)| (p, s as i64)).collect();
        assert_eq!(&got, want, "board of map {map}");
    }
    // Every claim the instances applied had its lag measured once (the two applied above
    // were not theirs to apply).
    let mut lag = 0.0;
    for i in &arena.instances {
        lag += i.metric("arena_leaderboard_lag_seconds_count").await;
    }
    assert_eq!(lag, 254.0);
    // New claims over sockets reach the board through the per-partition readers.
    let client = arena[1].client("q0").await;
    for map in 300..304u64 {
        store_map(&mut c, map + 100, &[(5, 1000)], 60_000).await;
        let ack = client.claim(map + 100, 5).await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
    *expected.entry("q0".into()).or_default() += 4000;
    eventually(WAIT, "the new claims on the board", || {
        let mut c = c.clone();
        let expected = expected.clone();
        async move { (board(&mut c).await == expected).then_some(()) }
    })
    .await;
    // The apply-once markers: one bitmap per map (bit = tile), with the boards' TTL; no
    // key per claim.
    let mut markers: Vec<String> = redis::cmd("KEYS")
        .arg("arena:{lb}:applied:*")
        .query_async(&mut c)
        .await
        .unwrap();
    markers.sort();
    let want: Vec<String> = (300..304u64)
        .chain(400..404)
        .map(keys::lb_applied)
        .collect();
    assert_eq!(markers, want);
    for m in &markers {
        let (len, ttl): (u64, i64) = redis::pipe()
            .strlen(m)
            .ttl(m)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(len <= 8 && ttl > 0, "{m}: {len} bytes, ttl {ttl}");
    }
}

#[tokio::test]
async fn hunt_map_size_setting_shapes_new_maps_to_their_far_corner() {
    const W: u32 = 1000;
    const H: u32 = 300;
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |cfg| {
        tweak(cfg);
        cfg.modes.hunt.map_ms = 200;
        cfg.modes.hunt.hunt_key_ttl_s = 120;
        cfg.modes.hunt.hunt_map_width = W;
        cfg.modes.hunt.hunt_map_height = H;
        cfg.modes.hunt.hunt_map_treasures = 7;
    })
    .await;
    let mut c = arena[0].client_in("corner", "hunt").await;
    let map = c.next_event("map_created", WAIT).await.unwrap();
    assert_eq!(
        (map["width"].as_u64(), map["height"].as_u64()),
        (Some(W.into()), Some(H.into()))
    );
    let treasures = map["treasures"].as_object().unwrap();
    assert_eq!(treasures.len(), 7, "{map}");
    assert!(treasures.keys().all(|t| t.parse::<u32>().unwrap() < W * H));
    let id = map["mapId"].as_u64().unwrap();
    // The map as stored is the map as announced.
    let stored = arena[0].get_json(&format!("/api/hunt/maps/{id}")).await;
    assert_eq!(stored["width"], json!(W));
    assert_eq!(stored["height"], json!(H));
    // The far corner (x = W-1, y = H-1) is on the map; one past it and below 0 are not.
    let corner = i64::from(W * H) - 1;
    let ack = c.claim(id, corner).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    for off in [i64::from(W * H), -1] {
        let ack = c.claim(id, off).await;
        assert_eq!(code(&ack), "invalid_tile", "tile {off}: {ack}");
    }
    let mut r = conn(&redis.url()).await;
    let logged: Vec<ClaimEntry> = log(&mut r)
        .await
        .into_iter()
        .filter(|e| e.map_id == id)
        .collect();
    assert_eq!(
        logged.len(),
        1,
        "only the corner reached the log: {logged:?}"
    );
    assert_eq!(i64::from(logged[0].tile), corner);
}
