//! arena on a Redis Cluster (`REDIS_URL=redis+cluster://…`): the rooms, ticks, battles
//! and claims tests run against the shared 3-master cluster (`harness/cluster.rs`), plus
//! what only a cluster has: slots computed here match the cluster's, a script survives
//! `SCRIPT FLUSH` on the node that runs it, a script whose keys span two slots is refused
//! before it is sent, and `arena doctor` sees full slot coverage.
//!
//! The hunt's projection reads all its partitions in one XREADGROUP (CROSSSLOT on a
//! cluster for more than one partition) until it reads per partition, so the end-to-end
//! test here runs it with one partition; the battles' outbox reads per partition
//! (`services::streams::read_new`).

use std::time::Duration;

use arena::redis::{Conn, Endpoint, command_connection, slot::key_slot};
use redis::AsyncCommands;
use serde_json::json;

use crate::harness::cluster::{self, cli};
use crate::harness::hunt::{PARTITIONS, store_map};
use crate::harness::records::{Backend, TestDb};
use crate::harness::{Arena, BattleClient, HuntClient, RoomsClient, eventually, redis};

const WAIT: Duration = Duration::from_secs(10);
/// How soon after kill -9 of a master with a replica arena must work again: the failover
/// itself takes ~2 s with `cluster-node-timeout 500`; the rest is slack for a loaded host.
const RESUME_WITHIN: Duration = Duration::from_secs(10);

fn conn(url: &str) -> Conn {
    command_connection(&Endpoint::plain(url), Duration::from_secs(2)).unwrap()
}

#[tokio::test]
async fn cluster_rooms_attacks_cross_instances() {
    let lease = cluster::shared().await;
    crate::rooms::attacks_cross_instances_and_stay_in_the_room_on(&lease.cluster.url()).await;
}

#[tokio::test]
async fn cluster_ticks_once_per_interval() {
    let lease = cluster::shared().await;
    crate::ticks::check_exactly_one_per_interval_on(&lease.cluster.url(), 2).await;
}

#[tokio::test]
async fn cluster_fifty_concurrent_starts_create_one_battle() {
    let lease = cluster::shared().await;
    crate::battles::fifty_concurrent_starts_on(&lease.cluster.url(), 0).await;
}

#[tokio::test]
async fn cluster_runs_rooms_ticks_battles_and_claims() {
    let lease = cluster::shared().await;
    let url = lease.cluster.url();
    let arena = Arena::spawn_with(&url, 2, |c| {
        c.modes.rooms.tick_ms = 300;
        c.services.lock_ttl_ms = 200;
        // Several partitions, on several slots: the projection reads each on its own.
        c.modes.hunt.hunt_partitions = PARTITIONS;
        c.modes.hunt.map_ms = 600_000;
    })
    .await;
    let mut a = arena[0].client_in("alice", "r1").await;
    let mut b = arena[1].client_in("bob", "r1").await;
    assert_eq!(a.attack("r1", 7).await, json!({"ok": true}));
    for c in [&mut a, &mut b] {
        let got = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(got["from"], "alice", "{got}");
    }
    let tick = b.next_event("server_tick", WAIT).await.unwrap();
    assert!(tick["tick"].as_u64().is_some(), "{tick}");

    // Battles: the pairing lock (Redlock on the cluster as its one master), the record
    // on its partition's slot, readable from the other instance.
    let ack = a.start_battle(&["alice", "bob"]).await;
    assert_eq!(ack["created"], json!(true), "{ack}");
    let id = ack["battleId"].as_str().unwrap().to_string();
    let got = arena[1].get_json(&format!("/api/battles/{id}")).await;
    assert_eq!(got["state"], "active", "{got}");
    assert_eq!(b.end_battle(&id).await, json!({"ok": true, "battleId": id}));

    // Claims on map 8 (partition 0 of PARTITIONS); the projection reads every partition.
    assert_eq!(8 % PARTITIONS, 0);
    let mut c = conn(&url);
    store_map(&mut c, 8, &[(3, 40)], 120_000).await;
    let claim = b.claim(8, 3).await;
    assert_eq!(claim["ok"], json!(true), "{claim}");
    let lost = a.claim(8, 3).await;
    assert_eq!(lost["error"]["code"], "tile_taken", "{lost}");
    eventually(WAIT, "the claim on the leaderboard", || async {
        let board = arena[0].get_json("/api/hunt/leaderboard").await;
        let top = &board["entries"][0];
        (top["player"] == "bob" && top["score"].as_f64() == Some(40.0)).then_some(())
    })
    .await;
    eventually(WAIT, "both instances in the fleet registry", || async {
        let fleet = arena[0].get_json("/api/admin/instances").await;
        (fleet["totals"]["instances"] == 2).then_some(())
    })
    .await;
    for inst in &arena.instances {
        assert_eq!(inst.get_json("/ready").await["status"], "ready");
    }
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}

#[tokio::test]
async fn cluster_slots_match_cluster_keyslot_and_spread_over_masters() {
    let lease = cluster::shared().await;
    let port = lease.cluster.nodes[0].port();
    for key in [
        "foo",
        "arena:{p0}:claims",
        "arena:{b3}:outbox",
        "{tick}",
        "a{}b",
    ] {
        let theirs: u16 = cli(port, &["CLUSTER", "KEYSLOT", key])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(key_slot(key.as_bytes()), theirs, "{key}");
    }
    // The hunt's partitions land on more than one master: keys of one script stay on one.
    let masters: std::collections::BTreeSet<u16> = (0..16)
        .map(|p| lease.cluster.master_of(&format!("arena:{{p{p}}}:claims")))
        .collect();
    assert!(masters.len() > 1, "{masters:?}");
}

#[tokio::test]
async fn cluster_script_survives_script_flush_on_its_node() {
    let lease = cluster::shared().await;
    let mut c = conn(&lease.cluster.url());
    let script = redis::Script::new("return redis.call('INCR', KEYS[1])");
    let key = "arena:{flush}:n";
    let n: i64 = script.key(key).invoke_async(&mut c).await.unwrap();
    assert_eq!(n, 1);
    let node = lease.cluster.master_of(key);
    assert_eq!(cli(node, &["SCRIPT", "FLUSH"]).unwrap().trim(), "OK");
    let exists = cli(node, &["SCRIPT", "EXISTS", script.get_hash()]).unwrap();
    assert_eq!(exists.trim(), "0", "the flush took the script away");
    // EVALSHA answers NOSCRIPT; redis-rs loads the script (on every node) and retries.
    let n: i64 = script.key(key).invoke_async(&mut c).await.unwrap();
    assert_eq!(n, 2);

    // And arena's own scripts: the tick race keeps ticking after every node's flush.
    let url = lease.cluster.url();
    let arena = Arena::spawn_with(&url, 1, |c| {
        c.modes.rooms.tick_ms = 200;
        c.services.lock_ttl_ms = 150;
    })
    .await;
    let mut w = arena[0].client("watcher").await;
    w.next_event("server_tick", WAIT).await.unwrap();
    for port in lease.cluster.master_ports() {
        cli(port, &["SCRIPT", "FLUSH"]).unwrap();
    }
    let before = arena[0].metric("arena_ticks_acquired_total").await;
    eventually(WAIT, "ticks after SCRIPT FLUSH", || async {
        (arena[0].metric("arena_ticks_acquired_total").await >= before + 3.0).then_some(())
    })
    .await;
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_cross_slot_script_is_refused_before_it_is_sent() {
    let script = redis::Script::new("return redis.call('SET', KEYS[1], 1)");
    // On a standalone Redis, which would have run it.
    let r = redis();
    let mut c = conn(&r.url());
    let e = script
        .key("arena:{a}:x")
        .key("arena:{b}:x")
        .invoke_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("span two cluster slots"), "{e}");
    let keys: Vec<String> = c.keys("*").await.unwrap();
    assert!(keys.is_empty(), "nothing ran: {keys:?}");
    // On the cluster.
    let lease = cluster::shared().await;
    let mut c = conn(&lease.cluster.url());
    let e = script
        .key("arena:{a}:x")
        .key("arena:{b}:x")
        .invoke_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("span two cluster slots"), "{e}");
}

#[tokio::test]
async fn doctor_on_the_cluster_sees_every_slot_covered() {
    let lease = cluster::shared().await;
    let url = lease.cluster.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(["doctor", "--redis-url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("cluster slots"))
        .unwrap_or_else(|| panic!("no slot coverage line:\n{text}"));
    assert!(line.contains("state ok, 16384/16384 ok"), "{line}");
    assert!(!text.contains("CRITICAL"), "{text}");
}

#[tokio::test]
async fn redlock_urls_refuse_a_cluster() {
    let mut c = crate::harness::app::config("redis://127.0.0.1:1", |_| {});
    c.services.redlock_urls = Some("redis+cluster://127.0.0.1:1,127.0.0.1:2".into());
    let e = c.services.validate().unwrap_err().to_string();
    assert!(e.contains("REDLOCK_URLS") && e.contains("cluster"), "{e}");
}

#[tokio::test]
async fn cluster_battle_records_reach_sql_from_every_outbox_partition() {
    // The default 8 outbox partitions lie on several masters: each is read on its own.
    let lease = cluster::shared().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let arena = Arena::spawn_with(&lease.cluster.url(), 2, |c| {
        c.services.store = db.settings();
        c.services.lock_ttl_ms = 300;
    })
    .await;
    // Battles of new pairings until their outboxes lie on two masters.
    let mut ids = Vec::new();
    let mut masters = std::collections::BTreeSet::new();
    for i in 0..16 {
        let (p, q) = (format!("p{i}"), format!("q{i}"));
        let c = arena[i % 2].client(&p).await;
        let ack = c.start_battle(&[&p, &q]).await;
        assert_eq!(ack["created"], json!(true), "{ack}");
        let id = ack["battleId"].as_str().unwrap().to_string();
        assert_eq!(c.end_battle(&id).await["ok"], json!(true));
        let hash = id.split('-').next().unwrap();
        let part = arena::modes::battle::keys::partition_of(hash, 8);
        masters.insert(
            lease
                .cluster
                .master_of(&arena::modes::battle::keys::outbox(part)),
        );
        ids.push(id);
        if masters.len() > 1 {
            break;
        }
    }
    assert!(masters.len() > 1, "all outboxes on one master: {masters:?}");
    db.wait_count(
        &format!(
            "SELECT COUNT(*) FROM battles WHERE state = 'ended' AND id IN ({})",
            ids.iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        ids.len() as i64,
    )
    .await;
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}

// Kill -9 of the master that holds `{tick}` (a replica takes over its slots): the tick
// race and the attacks across instances come back on their own, within a bound. The
// fixture waits for every replica's first sync: a replica that never synced refuses to
// fail over, which is what once made this look like a client that never follows MOVED.
#[tokio::test]
async fn cluster_ticks_and_attacks_resume_after_a_master_is_killed() {
    // Its own 3 masters + 3 replicas: this test kills one.
    let mut cluster = cluster::own(3, 1).await;
    // The master of the tick race dies; the first seed is another master. (Pub/sub is on
    // the master of `PUBSUB_SLOT`, on a fresh cluster the same as `{tick}`'s: it moves too.)
    let victim = cluster.master_of("arena:{tick}:last");
    let pubsub = cluster
        .master_ports()
        .into_iter()
        .find(|&p| p != victim)
        .unwrap();
    let url = cluster.url_from(pubsub);
    let arena = Arena::spawn_with(&url, 2, |c| {
        c.modes.rooms.tick_ms = 300;
        c.services.lock_ttl_ms = 200;
    })
    .await;
    let a = arena[0].client_in("alice", "r1").await;
    let mut b = arena[1].client_in("bob", "r1").await;
    b.next_event("server_tick", WAIT).await.unwrap();

    cluster.kill(victim);
    let killed = std::time::Instant::now();
    // Ticks resume once a replica took over the slot (node timeout 500 ms + election):
    // a tick of an interval that began after the kill needs the new master.
    let after = arena::base::clock::unix_ms() / 300 + 1;
    loop {
        let left = RESUME_WITHIN.saturating_sub(killed.elapsed());
        let tick = b
            .next_event("server_tick", left)
            .await
            .unwrap_or_else(|e| panic!("no tick within {RESUME_WITHIN:?} of the kill: {e}"));
        if tick["tick"].as_u64().unwrap() > after {
            break;
        }
    }
    let ticks_back = killed.elapsed();
    eventually(Duration::from_secs(20), "a replica promoted", || async {
        (!cluster.master_ports().contains(&victim) && cluster.master_ports().len() == 3)
            .then_some(())
    })
    .await;
    // Attacks still cross instances, within the same bound. An attack answered
    // `unavailable` did nothing and is retried, as a client does (the room's slot may
    // have been on the killed master).
    loop {
        let ack = a.attack("r1", 3).await;
        if ack == json!({"ok": true}) {
            break;
        }
        assert_eq!(ack["error"]["code"], "unavailable", "{ack}");
        assert!(
            killed.elapsed() < RESUME_WITHIN,
            "no attack accepted: {ack}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = RESUME_WITHIN.saturating_sub(killed.elapsed());
    let got = b.next_event("attack", left).await.unwrap();
    assert_eq!(got["from"], "alice", "{got}");
    eprintln!("ticks back {ticks_back:?} after kill -9 of the tick race's master");
    for inst in arena.instances {
        inst.stop().await.unwrap();
    }
}
