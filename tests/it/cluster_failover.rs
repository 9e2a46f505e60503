//! Failover without loss: `CLAIM_DURABILITY=replica` on one Redis with and without a
//! replica, and kill -9 of a Redis Cluster master (with a replica) in the middle of
//! durable claims: every claim acked `durable: true` is found afterwards, claims, ticks
//! and broadcasts come back on their own, and every claim in the new master's log reaches
//! a watcher as `tile_claimed` (what was published while its instance re-subscribed comes
//! from the claim stream). Each cluster test starts its own 3+3
//! cluster (it kills a node).
//!
//! A room's replay across a master's kill is not tested here: `cluster_rooms.rs` has the
//! replay, killed subscriber connections and a slot migration; attacks crossing
//! instances after a kill are in `cluster::cluster_ticks_and_attacks_resume_after_a_master_is_killed`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena::modes::hunt::{Durability, keys};
use arena::redis::{Conn, Endpoint, command_connection};
use arena::tools::client::Client;
use redis::AsyncCommands;
use serde_json::json;

use crate::harness::cluster::{self, cli};
use crate::harness::hunt::{self as hunt_h, HuntClient, PARTITIONS, store_map};
use crate::harness::{Arena, RedisOptions, RedisServer, eventually};

const WAIT: Duration = Duration::from_secs(10);
/// How soon after the kill claims and ticks must work again (the failover itself takes
/// ~2 s with `cluster-node-timeout 500`; the rest is slack for a loaded host).
const RESUME_WITHIN: Duration = Duration::from_secs(10);

fn conn(url: &str) -> Conn {
    command_connection(&Endpoint::plain(url), Duration::from_secs(2)).unwrap()
}

/// A standalone Redis that syncs a new replica at once (no 5 s diskless-sync delay).
fn master() -> RedisServer {
    crate::harness::init_logs();
    RedisServer::start(RedisOptions {
        extra: ["--repl-diskless-sync-delay", "0"]
            .map(String::from)
            .to_vec(),
        ..RedisOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn claim_ack_says_durable_only_when_a_replica_confirmed() {
    let m = master();
    let arena = Arena::spawn_with(&m.url(), 1, |c| {
        hunt_h::tweak(c);
        c.modes.hunt.claim_durability = Durability::Replica;
        // Long enough for a replica on a loaded host (a confirmation comes in well under
        // a millisecond on a quiet one); without a replica each claim waits all of it.
        c.modes.hunt.claim_wait_ms = 1000;
    })
    .await;
    let mut r = conn(&m.url());
    store_map(&mut r, 8, &[(3, 40)], 120_000).await;
    let a = arena[0].client("alice").await;

    // No replica: the claim stands (its owner and stream entry are written), unconfirmed.
    let ack = a.claim(8, 3).await;
    assert_eq!(ack, json!({"ok": true, "value": 40, "durable": false}));
    assert_eq!(hunt_h::owners(&mut r, 8).await["3"], "alice");
    assert_eq!(arena[0].metric("arena_claims_not_durable_total").await, 1.0);
    // A refusal carries no durability: it wrote nothing to confirm.
    let taken = a.claim(8, 3).await;
    assert_eq!(taken["error"]["code"], "tile_taken", "{taken}");
    // The partition found no replica: its next claims skip the wait for a while.
    let ack = a.claim(8, 6).await;
    assert_eq!(ack, json!({"ok": true, "value": 0, "durable": false}));

    // With a synced replica: confirmed.
    let replica = RedisServer::start(RedisOptions {
        extra: vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            m.port().to_string(),
        ],
        ..RedisOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eventually(WAIT, "the replica's first sync", || async {
        cli(replica.port(), &["INFO", "replication"])
            .ok()
            .filter(|i| i.contains("master_link_status:up"))
    })
    .await;
    // Once the partition's pause is over, a claim waits again and is confirmed.
    let mut tile = 10;
    eventually(WAIT, "a claim confirmed by the replica", || {
        tile += 1;
        let t = tile;
        let a = &a;
        async move {
            let ack = a.claim(8, t).await;
            assert_eq!(ack["ok"], json!(true), "{ack}");
            (ack["durable"] == json!(true)).then_some(())
        }
    })
    .await;
    let ack = a.claim(8, 4).await;
    assert_eq!(ack, json!({"ok": true, "value": 0, "durable": true}));
    let mut rr = conn(&replica.url());
    let on_replica: Option<String> = rr
        .hget(keys::hunt_owners(8 % PARTITIONS, 8), "4")
        .await
        .unwrap();
    assert_eq!(
        on_replica.as_deref(),
        Some("alice"),
        "the replica has the claim"
    );

    // SCRIPT FLUSH: the claim and its WAIT go in one pipeline; its NOSCRIPT loads the
    // script and the claim runs once.
    assert_eq!(cli(m.port(), &["SCRIPT", "FLUSH"]).unwrap().trim(), "OK");
    let ack = a.claim(8, 5).await;
    assert_eq!(ack, json!({"ok": true, "value": 0, "durable": true}));
    let entries = hunt_h::log(&mut r).await;
    assert_eq!(
        entries.iter().filter(|e| e.tile == 5).count(),
        1,
        "{entries:?}"
    );
    let unconfirmed = arena[0].metric("arena_claims_not_durable_total").await;
    assert!(unconfirmed >= 2.0, "{unconfirmed}");
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}

/// One claim's fate, as its client saw it.
#[derive(Debug, Clone)]
struct Acked {
    map: u64,
    tile: i64,
    player: String,
    durable: bool,
    sent: Instant,
    at: Instant,
}

/// Claim `tiles` (map, tile) one after another, one every 20 ms at most (each waits for
/// its ack, at most 3 s), until `stop` is set; every `{ok: true}` ack is recorded.
async fn claimer(
    c: Client,
    player: &'static str,
    tiles: Vec<(u64, i64)>,
    acked: Arc<Mutex<Vec<Acked>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    for (map, tile) in tiles {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let pace = tokio::time::sleep(Duration::from_millis(20));
        let sent = Instant::now();
        match c.try_claim(map, tile, Duration::from_secs(3)).await {
            Ok(ack) if ack["ok"] == json!(true) => {
                acked.lock().unwrap().push(Acked {
                    map,
                    tile,
                    player: player.into(),
                    durable: ack["durable"] == json!(true),
                    sent,
                    at: Instant::now(),
                });
            }
            // unavailable / timeout while the master is down: not acked, so not promised.
            Ok(_) | Err(_) => {}
        }
        pace.await;
    }
}

#[tokio::test]
async fn durable_claims_survive_kill_of_their_master_and_everything_resumes() {
    let mut cluster = cluster::own(3, 1).await;
    // Maps 3, 7, … live in partition 3, whose slot shares a master with `{tick}` (the
    // tick race) and `{lb}` (the leaderboard): that master dies, so one kill stops
    // claims, ticks and the projection. The first seed is another master; pub/sub is on
    // the master of `PUBSUB_SLOT`, on a fresh cluster this one too, and follows the slot.
    let maps: Vec<u64> = (0..4).map(|i| 3 + u64::from(PARTITIONS) * i).collect();
    let victim = cluster.master_of(&keys::hunt_claims(keys::partition_of(maps[0], PARTITIONS)));
    assert_eq!(victim, cluster.master_of("arena:{tick}:last"));
    assert_eq!(victim, cluster.master_of(keys::lb_global()));
    let pubsub = cluster
        .master_ports()
        .into_iter()
        .find(|&p| p != victim)
        .unwrap();
    let url = cluster.url_from(pubsub);
    let arena = Arena::spawn_with(&url, 2, |c| {
        hunt_h::tweak(c);
        c.modes.hunt.claim_durability = Durability::Replica;
        c.modes.hunt.claim_wait_ms = 100;
        c.modes.hunt.claim_rate = 100_000;
        c.modes.rooms.tick_ms = 300;
        c.services.lock_ttl_ms = 200;
    })
    .await;
    let mut r = conn(&url);
    // 16 x 16 tiles each, valid for the whole test; the first map has two treasures.
    for &m in &maps {
        assert_eq!(keys::partition_of(m, PARTITIONS), 3);
        let treasures: &[(u32, i64)] = if m == maps[0] { &[(1, 5), (2, 7)] } else { &[] };
        store_map(&mut r, m, treasures, 120_000).await;
    }
    let mut watcher = arena[1].client_in("watcher", "hunt").await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (player, inst, parity) in [("alice", 0, 0), ("bob", 1, 1)] {
        let c = arena[inst].client(player).await;
        let tiles: Vec<(u64, i64)> = maps
            .iter()
            .flat_map(|&m| (0..256).filter(|t| t % 2 == parity).map(move |t| (m, t)))
            .collect();
        tasks.push(tokio::spawn(claimer(
            c,
            player,
            tiles,
            acked.clone(),
            stop.clone(),
        )));
    }

    eventually(WAIT, "durable claims before the kill", || async {
        (acked.lock().unwrap().iter().filter(|a| a.durable).count() >= 20).then_some(())
    })
    .await;
    // Every tile_claimed the watcher gets, for the no-loss check at the end.
    let mut heard: Vec<(u64, i64)> = Vec::new();
    let first = watcher.next_event("tile_claimed", WAIT).await.unwrap();
    heard.push((
        first["mapId"].as_u64().unwrap(),
        first["tile"].as_i64().unwrap(),
    ));
    let masters = cluster.master_ports();
    let replicas: Vec<u16> = cluster
        .nodes
        .iter()
        .map(RedisServer::port)
        .filter(|p| !masters.contains(p))
        .collect();
    cluster.kill(victim);
    let killed = Instant::now();
    // When Redis itself has promoted a replica: the part of the gap arena cannot shorten.
    let promoted = tokio::task::spawn_blocking(move || {
        while killed.elapsed() < RESUME_WITHIN {
            let now = replicas
                .iter()
                .any(|&p| cli(p, &["ROLE"]).is_ok_and(|r| r.starts_with("master")));
            if now {
                return Some(killed.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    let tick_after = arena::base::clock::unix_ms() / 300 + 1;

    // Claims, ticks and the broadcasts of claims to the room on the other instance come
    // back on their own. Events are stamped as they arrive; a claim counts once it was
    // sent after the kill (one in flight at the kill may have reached the old master).
    let after_kill = |a: &Acked| a.sent > killed;
    let mut ticks_back = None;
    let mut claimed_arrivals: Vec<(u64, i64, Instant)> = Vec::new();
    let mut broadcasts_back = None;
    while ticks_back.is_none() || broadcasts_back.is_none() {
        assert!(
            killed.elapsed() < RESUME_WITHIN,
            "not back within {RESUME_WITHIN:?} of the kill: ticks {ticks_back:?}, \
             broadcasts {broadcasts_back:?}, claims {:?}",
            acked
                .lock()
                .unwrap()
                .iter()
                .find(|a| after_kill(a))
                .map(|a| a.at - killed)
        );
        if let Ok((name, v)) = watcher.next_any(Duration::from_millis(50)).await {
            let now = Instant::now();
            match name.as_str() {
                "server_tick" if v["tick"].as_u64().unwrap() > tick_after => {
                    ticks_back.get_or_insert(now - killed);
                }
                "tile_claimed" => {
                    let (m, t) = (v["mapId"].as_u64().unwrap(), v["tile"].as_i64().unwrap());
                    heard.push((m, t));
                    claimed_arrivals.push((m, t, now));
                }
                _ => {}
            }
        }
        // A claim's broadcast may arrive before its ack: look again on every turn.
        let acked_now = acked.lock().unwrap().clone();
        broadcasts_back = claimed_arrivals
            .iter()
            .filter(|(m, t, _)| {
                acked_now
                    .iter()
                    .any(|a| a.map == *m && a.tile == *t && after_kill(a))
            })
            .map(|(_, _, at)| *at - killed)
            .min();
    }
    let (ticks_back, broadcasts_back) = (ticks_back.unwrap(), broadcasts_back.unwrap());
    let claims_back = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|a| after_kill(a))
        .map(|a| a.at - killed)
        .min()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    eventually(WAIT, "a replica promoted", || async {
        (!cluster.master_ports().contains(&victim) && cluster.master_ports().len() == 3)
            .then_some(())
    })
    .await;

    // Every claim acked durable is on the new master: its owner and its stream entry.
    let acked = acked.lock().unwrap().clone();
    let mut owners = std::collections::HashMap::new();
    for &m in &maps {
        owners.insert(m, hunt_h::owners(&mut r, m).await);
    }
    let entries = hunt_h::log(&mut r).await;
    let durable: Vec<&Acked> = acked.iter().filter(|a| a.durable).collect();
    assert!(durable.len() >= 20, "{acked:?}");
    for a in &durable {
        assert_eq!(
            owners[&a.map].get(&a.tile.to_string()),
            Some(&a.player),
            "owner of {a:?}"
        );
        let n = entries
            .iter()
            .filter(|e| e.map_id == a.map && i64::from(e.tile) == a.tile)
            .count();
        assert_eq!(n, 1, "stream entries of {a:?}");
    }
    // No claim's tile_claimed is lost to the kill: every claim in the new master's log
    // reaches the watcher, live or, for what was published while its instance was not
    // subscribed, from the claim stream once it subscribed again.
    let logged: Vec<(u64, i64)> = entries
        .iter()
        .filter(|e| maps.contains(&e.map_id))
        .map(|e| (e.map_id, i64::from(e.tile)))
        .collect();
    let deadline = Instant::now() + WAIT;
    loop {
        let missing: Vec<&(u64, i64)> = logged.iter().filter(|c| !heard.contains(c)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} logged claims never reached the watcher as tile_claimed: {missing:?}",
            missing.len(),
            logged.len()
        );
        if let Ok(v) = watcher
            .next_event("tile_claimed", Duration::from_millis(200))
            .await
        {
            heard.push((v["mapId"].as_u64().unwrap(), v["tile"].as_i64().unwrap()));
        }
    }
    // And the leaderboard projection still runs on the new master: the treasures that
    // were claimed durably reach the board.
    let want: i64 = durable
        .iter()
        .filter(|a| a.map == maps[0] && (a.tile == 1 || a.tile == 2))
        .map(|a| if a.tile == 1 { 5 } else { 7 })
        .sum();
    eventually(WAIT, "the durable treasures on the board", || async {
        let board = hunt_h::board(&mut r.clone()).await;
        (board.values().sum::<i64>() >= want).then_some(())
    })
    .await;
    let not_durable = acked.len() - durable.len();
    let promoted = promoted.await.unwrap();
    eprintln!(
        "after kill -9 of the claims' master: replica promoted {promoted:?}, claims back \
         {claims_back:?}, ticks back {ticks_back:?}, claim broadcasts back \
         {broadcasts_back:?}; {} claims acked, {not_durable} of them durable: false",
        acked.len()
    );
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}
