//! Per-room sharded fan-out on a Redis Cluster (`services/realtime/room_subscriber.rs`,
//! `room_shard.rs`): each room channel is SSUBSCRIBEd on the master serving its slot, one
//! pub/sub connection per master, and the supervisor brings subscriptions back after a
//! slot moves to another master or a subscriber connection is killed, with the history
//! filling what was missed meanwhile.
//!
//! The shared 3-master cluster serves the tests that leave its slots where they are; the
//! slot migration test starts its own cluster.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arena::redis::slot::key_slot;
use arena::services::realtime::room_channel::Partitions;
use arena::tools::client::Client;
use serde_json::{Value, json};

use crate::harness::cluster::{self, Cluster, cli};
use crate::harness::{Arena, RoomsClient, ack};

const WAIT: Duration = Duration::from_secs(10);

/// The room's shard channel, as every instance computes it (default partitions).
fn channel(room: &str) -> String {
    Partitions::new(arena::modes::rooms::settings::ROOM_PARTITIONS)
        .room(room)
        .channel
}

/// `PUBSUB SHARDNUMSUB chan` on the node at `port`: its subscribers there.
fn shard_subscribers(port: u16, chan: &str) -> u64 {
    let out = cli(port, &["PUBSUB", "SHARDNUMSUB", chan]).unwrap();
    out.lines()
        .last()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("PUBSUB SHARDNUMSUB: {out}"))
}

/// One room named `<prefix>-<i>` per master of `c`, as (room, master port).
fn room_per_master(c: &Cluster, prefix: &str) -> Vec<(String, u16)> {
    let masters = c.master_ports();
    let mut found: Vec<(String, u16)> = Vec::new();
    for i in 0.. {
        let room = format!("{prefix}-{i}");
        let port = c.master_of(&channel(&room));
        if !found.iter().any(|(_, p)| *p == port) {
            found.push((room, port));
        }
        if found.len() == masters.len() {
            break;
        }
    }
    found
}

/// Every attack `c` gets until none comes for `quiet`.
async fn drain(c: &mut Client, quiet: Duration) -> Vec<Value> {
    let mut got = Vec::new();
    while let Ok(e) = c.next_event("attack", quiet).await {
        got.push(e);
    }
    got
}

/// Offsets 1..=n in order, one epoch: nothing missed, nothing twice.
fn assert_consecutive(got: &[Value], what: &str) {
    let offsets: Vec<u64> = got.iter().filter_map(|e| e["offset"].as_u64()).collect();
    let want: Vec<u64> = (1..=got.len() as u64).collect();
    assert_eq!(offsets, want, "{what}: offsets");
    let epochs: BTreeSet<String> = got
        .iter()
        .filter_map(|e| e["epoch"].as_str().map(str::to_string))
        .collect();
    assert_eq!(epochs.len(), 1, "{what}: one epoch");
}

#[tokio::test]
async fn rooms_on_every_master_deliver_across_two_instances() {
    let lease = cluster::shared().await;
    let c = lease.cluster;
    let rooms = room_per_master(c, "spread");
    assert_eq!(rooms.len(), 3, "{rooms:?}");
    let arena = Arena::spawn(&c.url(), 2).await;
    let mut members = Vec::new();
    for (room, _) in &rooms {
        let a = arena[0].client_in(&format!("a-{room}"), room).await;
        let b = arena[1].client_in(&format!("b-{room}"), room).await;
        members.push((a, b));
    }
    // Each channel is held on its own master, by both instances, and nowhere else.
    for (room, port) in &rooms {
        let chan = channel(room);
        assert_eq!(shard_subscribers(*port, &chan), 2, "{room} on {port}");
        for other in c.master_ports().into_iter().filter(|p| p != port) {
            assert_eq!(shard_subscribers(other, &chan), 0, "{room} on {other}");
        }
    }
    for inst in [&arena[0], &arena[1]] {
        assert_eq!(inst.metric("arena_room_channels_subscribed").await, 3.0);
    }
    for ((room, _), (a, b)) in rooms.iter().zip(&members) {
        a.attacks(room, "a", 3).await;
        b.attacks(room, "b", 3).await;
    }
    for ((room, _), (a, b)) in rooms.iter().zip(&mut members) {
        for (who, m) in [("instance 0", a), ("instance 1", b)] {
            let got = drain(m, Duration::from_millis(700)).await;
            assert_eq!(got.len(), 6, "{room} at {who}: {got:?}");
            assert_consecutive(&got, room);
            assert!(got.iter().all(|e| e["room"] == json!(room)), "{got:?}");
        }
    }
}

#[tokio::test]
async fn a_rejoin_with_a_position_replays_on_a_cluster() {
    let lease = cluster::shared().await;
    let arena = Arena::spawn(&lease.cluster.url(), 2).await;
    let room = "replay-c";
    let sender = arena[1].client_in("s", room).await;
    let mut c = arena[0].client_in("c", room).await;
    sender.attacks(room, "seen", 3).await;
    let seen = drain(&mut c, Duration::from_millis(700)).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    let last = &seen[2];
    let (epoch, offset) = (last["epoch"].clone(), last["offset"].clone());
    drop(c);
    sender.attacks(room, "missed", 4).await;

    let mut c = arena[0].client("c").await;
    let ack = ack(
        &c,
        "join_room",
        &json!({"room": room, "epoch": epoch, "offset": offset}),
        WAIT,
    )
    .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack["replayed"], json!(4), "{ack}");
    assert_eq!(ack["offset"], json!(7), "{ack}");
    for i in 0..4 {
        let e = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["eventId"], format!("missed-{i}"), "{e}");
        assert_eq!(e["offset"], json!(4 + i), "{e}");
    }
    sender.attacks(room, "live", 1).await;
    let e = c.next_event("attack", WAIT).await.unwrap();
    assert_eq!(e["eventId"], "live-0", "{e}");
    assert!(drain(&mut c, Duration::from_millis(300)).await.is_empty());
}

#[tokio::test]
async fn delivery_resumes_after_the_subscriber_connections_of_a_master_are_killed() {
    let lease = cluster::shared().await;
    let c = lease.cluster;
    let arena = Arena::spawn(&c.url(), 2).await;
    let (room, port) = room_per_master(c, "kill").swap_remove(1);
    let sender = arena[0].client_in("s", &room).await;
    let mut r0 = arena[0].client_in("r0", &room).await;
    let mut r1 = arena[1].client_in("r1", &room).await;
    sender.attacks(&room, "before", 3).await;

    let killed = cli(port, &["CLIENT", "KILL", "TYPE", "pubsub"]).unwrap();
    assert!(killed.trim().parse::<u32>().unwrap() >= 2, "{killed}");
    // Attacks go on; while an instance re-subscribes, its publishes are refused
    // (unavailable), so the sender tries again.
    let deadline = Instant::now() + WAIT;
    let mut acked = Vec::new();
    for i in 0..10 {
        loop {
            assert!(Instant::now() < deadline, "attacks not accepted again");
            let id = format!("after-{i}");
            if sender.attack_with(&room, 1, &json!({"id": id})).await["ok"] == json!(true) {
                acked.push(id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for (who, r) in [("instance 0", &mut r0), ("instance 1", &mut r1)] {
        let got = drain(r, Duration::from_millis(1500)).await;
        assert_consecutive(&got, who);
        let ids: BTreeSet<&str> = got.iter().filter_map(|e| e["eventId"].as_str()).collect();
        for id in &acked {
            assert!(ids.contains(id.as_str()), "{who} lacks {id}: {ids:?}");
        }
    }
    assert_eq!(shard_subscribers(port, &channel(&room)), 2);
    for inst in [&arena[0], &arena[1]] {
        assert!(inst.metric("arena_pubsub_reconnects_total").await >= 1.0);
        assert!(inst.metric("arena_room_resubscribes_total").await >= 1.0);
    }
}

/// Move `slot` from the master on `from` to the one on `to`, keys and all, as
/// `redis-cli --cluster reshard` does: IMPORTING, MIGRATING, MIGRATE, then NODE on
/// every master.
fn migrate_slot(masters: &[u16], slot: u16, from: u16, to: u16) {
    let id = |port: u16| cli(port, &["CLUSTER", "MYID"]).unwrap().trim().to_string();
    let (from_id, to_id) = (id(from), id(to));
    let slot = slot.to_string();
    cli(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]).unwrap();
    cli(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]).unwrap();
    loop {
        let keys = cli(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"]).unwrap();
        let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            break;
        }
        let to_port = to.to_string();
        let mut args = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
        args.extend(keys);
        let out = cli(from, &args).unwrap();
        assert!(
            out.trim() == "OK" || out.trim() == "NOKEY",
            "MIGRATE: {out}"
        );
    }
    cli(to, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]).unwrap();
    cli(from, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]).unwrap();
    for &port in masters {
        if port != from && port != to {
            cli(port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]).unwrap();
        }
    }
}

/// A receiver that records when each attack arrived, until `stop`.
async fn record(
    mut c: Client,
    stop: tokio_util::sync::CancellationToken,
) -> (Client, Vec<(Instant, Value)>) {
    let mut got = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            e = c.next_event("attack", Duration::from_millis(200)) => {
                if let Ok(e) = e {
                    got.push((Instant::now(), e));
                }
            }
        }
    }
    got.extend(
        drain(&mut c, Duration::from_millis(1500))
            .await
            .into_iter()
            .map(|e| (Instant::now(), e)),
    );
    (c, got)
}

#[tokio::test]
async fn a_slot_migration_mid_traffic_resumes_delivery_without_a_gap() {
    // Its own cluster: the move would change the shared one under other tests.
    let c = cluster::own(3, 0).await;
    let arena = Arena::spawn(&c.url(), 2).await;
    let room = "busy";
    let chan = channel(room);
    let slot = key_slot(chan.as_bytes());
    let from = c.master_of(&chan);
    let to = c
        .master_ports()
        .into_iter()
        .find(|&p| p != from)
        .expect("another master");
    let sender = arena[0].client_in("s", room).await;
    let r0 = arena[0].client_in("r0", room).await;
    let r1 = arena[1].client_in("r1", room).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let receivers = [
        tokio::spawn(record(r0, stop.clone())),
        tokio::spawn(record(r1, stop.clone())),
    ];
    // An attack every 20 ms; the ids acked ok.
    let sending = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.is_cancelled() {
                let id = format!("m-{i}");
                i += 1;
                if sender.attack_with(room, 1, &json!({"id": id})).await["ok"] == json!(true) {
                    acked.push(id);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let masters = c.master_ports();
    let began = Instant::now();
    let moved_at = tokio::task::spawn_blocking(move || {
        migrate_slot(&masters, slot, from, to);
        Instant::now()
    })
    .await
    .unwrap();
    assert_eq!(c.master_of(&chan), to, "the slot moved");
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    let acked = sending.await.unwrap();
    assert!(acked.len() > 50, "the sender kept going: {}", acked.len());

    for (i, r) in receivers.into_iter().enumerate() {
        let (_client, got) = r.await.unwrap();
        let events: Vec<Value> = got.iter().map(|(_, e)| e.clone()).collect();
        let who = format!("instance {i}");
        assert_consecutive(&events, &who);
        let ids: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| e["eventId"].as_str())
            .collect();
        for id in &acked {
            assert!(ids.contains(id.as_str()), "{who} lacks {id}");
        }
        // The longest pause in delivery, and the first delivery after the move.
        let (gap, gap_at) = got
            .windows(2)
            .map(|w| (w[1].0.duration_since(w[0].0), w[0].0))
            .max()
            .unwrap_or((Duration::ZERO, began));
        // Where the longest pause began, from the start of the migration (negative:
        // before it), and how long the migration took.
        let gap_from = gap_at.saturating_duration_since(began).as_secs_f64()
            - began.saturating_duration_since(gap_at).as_secs_f64();
        let took = moved_at.duration_since(began);
        let resumed = got
            .iter()
            .find(|(t, _)| *t > moved_at)
            .map(|(t, _)| t.duration_since(moved_at));
        eprintln!(
            "slot migration ({took:?}), {who}: longest delivery gap {gap:?} from {gap_from:.3} s, \
             first delivery {resumed:?} after SETSLOT NODE"
        );
        assert!(gap < WAIT, "{who}: delivery paused {gap:?}");
    }
    // Both instances hold the channel on its new master now.
    assert_eq!(shard_subscribers(to, &chan), 2);
    assert_eq!(shard_subscribers(from, &chan), 0);
    for inst in [&arena[0], &arena[1]] {
        assert!(inst.metric("arena_room_resubscribes_total").await >= 1.0);
    }
}
