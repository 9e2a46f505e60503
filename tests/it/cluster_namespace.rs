//! Whole-namespace traffic on a Redis Cluster (issue 12 item 4): the Socket.IO adapter's
//! channels (ticks, mode broadcasts such as the hunt's `leaderboard`, admin requests and
//! their answers across instances) live on one node, the master of the pub/sub slot.
//! kill -9 of that master (it has a replica): every instance follows the slot to the
//! promoted replica, and ticks and cross-instance requests come back on their own, while
//! the hunt's `tile_claimed` (on its partition's shard channel, another master) goes on
//! across instances. Its own 3+3 cluster (it kills a node).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena::modes::hunt::keys;
use arena::redis::{Endpoint, PUBSUB_SLOT, command_connection};
use arena::tools::client::Client;
use arena::tools::http_client::http_request;
use serde_json::{Value, json};

use crate::harness::cluster::{self, cli};
use crate::harness::hunt::{self as hunt_h, HuntClient, PARTITIONS, store_map};
use crate::harness::{Arena, RedisServer, eventually};

const WAIT: Duration = Duration::from_secs(10);
/// How soon after the kill namespace traffic must flow again (Redis's failover takes
/// ~2 s with `cluster-node-timeout 500`; the rest is slack for a loaded host).
const RESUME_WITHIN: Duration = Duration::from_secs(15);
/// The channel every instance subscribes for the namespace's broadcasts.
const REQUESTS: &str = "arena-request#/#";

/// Subscribers of the namespace's request channel on the node at `port`.
fn numsub(port: u16) -> Option<u64> {
    let out = cli(port, &["PUBSUB", "NUMSUB", REQUESTS]).ok()?;
    out.lines().nth(1)?.trim().parse().ok()
}

async fn request(addr: &str, method: &str, path: &str) -> (u16, Value) {
    let (status, body) = http_request(addr, method, path, None, &[]).await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The first `server_tick` of an interval after `after`, within what is left of
/// [`RESUME_WITHIN`] since `killed`; its delay after the kill.
async fn tick_back(c: &mut Client, after: u64, killed: Instant) -> Duration {
    loop {
        let left = RESUME_WITHIN.saturating_sub(killed.elapsed());
        let tick = c
            .next_event("server_tick", left)
            .await
            .unwrap_or_else(|e| panic!("no tick within {RESUME_WITHIN:?} of the kill: {e}"));
        if tick["tick"].as_u64().unwrap() > after {
            return killed.elapsed();
        }
    }
}

#[tokio::test]
async fn namespace_broadcasts_ticks_and_requests_resume_after_the_pubsub_master_is_killed() {
    let mut cluster = cluster::own(3, 1).await;
    let victim = cluster.master_of(&cluster::key_in_slot(PUBSUB_SLOT));
    // The victim is the first seed too: where pub/sub went before it followed the slot.
    let url = cluster.url_from(victim);
    let arena = Arena::spawn_with(&url, 2, |c| {
        hunt_h::tweak(c);
        c.modes.hunt.claim_rate = 100_000;
        c.modes.rooms.tick_ms = 300;
        c.services.lock_ttl_ms = 200;
    })
    .await;
    // Both instances' pub/sub on the victim.
    eventually(
        WAIT,
        "both instances subscribed on the pub/sub master",
        || async { (numsub(victim) == Some(2)).then_some(()) },
    )
    .await;

    // Claims in a partition the kill leaves alone: the claims themselves go on throughout.
    let map = (0..u64::from(PARTITIONS))
        .find(|&m| {
            cluster.master_of(&keys::hunt_claims(keys::partition_of(m, PARTITIONS))) != victim
        })
        .unwrap();
    let mut r = command_connection(&Endpoint::plain(url.clone()), Duration::from_secs(2)).unwrap();
    store_map(&mut r, map, &[], 120_000).await;
    let mut watcher = arena[1].client_in("watcher", "hunt").await;
    let mut t0 = arena[0].client("t0").await;
    let mut t1 = arena[1].client("t1").await;
    let bob = arena[1].client("bob").await;
    let a0 = arena[0].addr.to_string();

    // alice on instance 0 claims one tile every 50 ms; the send time of each is kept.
    let alice = arena[0].client("alice").await;
    let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let claimer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            for tile in 0..256 {
                let pace = tokio::time::sleep(Duration::from_millis(50));
                sent.lock().unwrap().insert(tile, Instant::now());
                // An ack may be missing or an error while Redis fails over: not asserted.
                let _ = alice.try_claim(map, tile, Duration::from_secs(3)).await;
                pace.await;
            }
        })
    };
    let first = watcher.next_event("tile_claimed", WAIT).await.unwrap();
    assert_eq!(first["player"], "alice", "{first}");

    let masters = cluster.master_ports();
    let replicas: Vec<u16> = cluster
        .nodes
        .iter()
        .map(RedisServer::port)
        .filter(|p| !masters.contains(p))
        .collect();
    cluster.kill(victim);
    let killed = Instant::now();
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
    let after = arena::base::clock::unix_ms() / 300 + 1;

    // (a) a claim on instance 0 sent after the kill reaches instance 1 as `tile_claimed`
    // (it does not ride the namespace channel: the kill must not stop it either).
    let broadcast = async {
        loop {
            let left = RESUME_WITHIN.saturating_sub(killed.elapsed());
            let ev = watcher
                .next_event("tile_claimed", left)
                .await
                .unwrap_or_else(|e| {
                    panic!("no tile_claimed from the other instance within {RESUME_WITHIN:?} of the kill: {e}")
                });
            let tile = ev["tile"].as_i64().unwrap();
            let at = sent.lock().unwrap().get(&tile).copied().unwrap();
            if at > killed {
                return killed.elapsed();
            }
        }
    };
    // (b) ticks on both instances.
    let (broadcast_back, tick0, tick1) = tokio::join!(
        broadcast,
        tick_back(&mut t0, after, killed),
        tick_back(&mut t1, after, killed)
    );
    let promoted = promoted.await.unwrap().expect("a replica promoted");
    eprintln!(
        "pub/sub master killed: replica promoted after {promoted:?}; first tile_claimed across instances {broadcast_back:?}; ticks back {tick0:?} (instance 0), {tick1:?} (instance 1)"
    );
    claimer.abort();

    // Both instances moved to the master that serves the pub/sub slot now.
    let now = cluster.master_of(&cluster::key_in_slot(PUBSUB_SLOT));
    assert_ne!(now, victim);
    eventually(
        WAIT,
        "both instances subscribed on the new master",
        || async { (numsub(now) == Some(2)).then_some(()) },
    )
    .await;

    // (c) requests across instances: bob (instance 1) found and disconnected from
    // instance 0.
    let found = eventually(
        WAIT,
        "bob's socket found from the other instance",
        || async {
            let (status, v) = request(&a0, "GET", "/api/admin/players/bob/sockets").await;
            (status == 200 && v["sockets"].as_array().is_some_and(|s| s.len() == 1)).then_some(v)
        },
    )
    .await;
    assert_eq!(
        found["sockets"][0]["id"],
        json!(bob.sid.as_str()),
        "{found}"
    );
    let (status, v) = request(&a0, "POST", "/api/admin/players/bob/disconnect").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["disconnected"], 1, "{v}");
    eventually(WAIT, "bob's socket on instance 1 closed", || async {
        bob.is_closed().then_some(())
    })
    .await;
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}
