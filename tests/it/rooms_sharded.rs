//! Per-room sharded fan-out and missed-event recovery (`services/realtime/room_*.rs`):
//! a room's attacks travel on its own shard channel, which only instances with members in
//! the room subscribe to; every attack has a position `{epoch, offset}` in the room's
//! history, and a client that rejoins with the last position it saw gets what it missed.

use std::time::Duration;

use arena::services::realtime::room_channel::Partitions;
use arena::tools::client::Client;
use serde_json::{Value, json};

use crate::harness::rooms::until_attacks_cross;
use crate::harness::{Arena, RoomsClient, ack, eventually, redis, redis_conn};

const WAIT: Duration = Duration::from_secs(5);

/// The room's shard channel, as every instance computes it (default partitions).
fn channel(room: &str) -> String {
    Partitions::new(arena::modes::rooms::settings::ROOM_PARTITIONS)
        .room(room)
        .channel
}

/// `PUBSUB SHARDNUMSUB chan`: how many connections subscribe to the room's channel.
async fn shard_subscribers(conn: &mut redis::aio::MultiplexedConnection, room: &str) -> u64 {
    let (_, n): (String, u64) = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg(channel(room))
        .query_async(conn)
        .await
        .unwrap();
    n
}

/// `join_room` with a position.
async fn rejoin(c: &Client, room: &str, epoch: &Value, offset: &Value) -> Value {
    ack(
        c,
        "join_room",
        &json!({"room": room, "epoch": epoch, "offset": offset}),
        WAIT,
    )
    .await
}

#[tokio::test]
async fn members_on_two_instances_get_every_attack_once_and_in_order() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    every_attack_once_and_in_order(&arena).await;
}

#[tokio::test]
async fn with_a_write_window_every_attack_still_arrives_once_and_in_order() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.modes.rooms.room_write_delay_ms = 20;
    })
    .await;
    every_attack_once_and_in_order(&arena).await;

    // A join while a window holds live events: the ack's position is what the socket
    // has, and it gets each later event once, in order (window or not).
    let sender = arena[0].client_in("s2", "w2").await;
    let _early = arena[1].client_in("e2", "w2").await;
    sender.attacks("w2", "x", 5).await;
    let ((), (mut late, joined)) = tokio::join!(sender.attacks("w2", "y", 30), async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let late = arena[1].client("late").await;
        let joined = ack_of(&late, json!({"room": "w2"})).await;
        (late, joined)
    });
    assert_eq!(joined["ok"], json!(true), "{joined}");
    let from = joined["offset"].as_u64().unwrap_or(0);
    for offset in from + 1..=35 {
        let e = late.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["offset"], json!(offset), "{e}");
    }
    assert!(
        late.collect("attack", Duration::from_millis(300))
            .await
            .is_empty(),
        "a duplicate"
    );

    // And a rejoin with a position replays what was missed, then goes on live.
    let mut back = arena[0].client("back").await;
    let ack = rejoin(&back, "w2", &joined["epoch"], &json!(30)).await;
    assert_eq!(ack["replayed"], json!(5), "{ack}");
    for offset in 31..=35 {
        let e = back.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["offset"], json!(offset), "{e}");
    }
}

/// Two receivers (one per instance) and two senders (one per instance) in room `war`:
/// every attack reaches both receivers once, with consecutive offsets, each sender's in
/// the order sent, and both receivers see one order.
async fn every_attack_once_and_in_order(arena: &Arena) {
    let mut recv = [
        arena[0].client_in("r0", "war").await,
        arena[1].client_in("r1", "war").await,
    ];
    let senders = [
        arena[0].client_in("s0", "war").await,
        arena[1].client_in("s1", "war").await,
    ];
    let n = 40;
    let (a, b) = tokio::join!(
        senders[0].attacks("war", "a", n),
        senders[1].attacks("war", "b", n)
    );
    let _ = (a, b);
    let mut sequences = Vec::new();
    for r in &mut recv {
        let mut got = Vec::new();
        for _ in 0..2 * n {
            got.push(r.next_event("attack", WAIT).await.unwrap());
        }
        assert!(
            r.collect("attack", Duration::from_millis(300))
                .await
                .is_empty(),
            "a duplicate"
        );
        // Offsets count the room's events: consecutive, one epoch.
        let epoch = got[0]["epoch"].clone();
        assert!(epoch.as_str().is_some_and(|e| e.len() == 16), "{epoch}");
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e["offset"], json!(i + 1), "{e}");
            assert_eq!(e["epoch"], epoch);
        }
        // Each sender's attacks in the order sent.
        for p in ["a", "b"] {
            let ids: Vec<String> = got
                .iter()
                .filter_map(|e| e["eventId"].as_str())
                .filter(|id| id.starts_with(p))
                .map(str::to_string)
                .collect();
            let want: Vec<String> = (0..n).map(|i| format!("{p}-{i}")).collect();
            assert_eq!(ids, want);
        }
        sequences.push(got.iter().map(|e| e["eventId"].clone()).collect::<Vec<_>>());
    }
    assert_eq!(sequences[0], sequences[1], "both instances, one order");
}

#[tokio::test]
async fn an_instance_subscribes_only_rooms_with_members_there_and_drops_them_when_the_last_leaves()
{
    let redis = redis();
    let mut conn = redis_conn(&redis.url()).await;
    let arena = Arena::spawn(&redis.url(), 2).await;
    let a1 = arena[0].client_in("a1", "alpha").await;
    let a2 = arena[0].client_in("a2", "alpha").await;
    let mut b = arena[1].client_in("b", "beta").await;
    // One subscriber each: instance 1 does not receive alpha's traffic at all.
    assert_eq!(shard_subscribers(&mut conn, "alpha").await, 1);
    assert_eq!(shard_subscribers(&mut conn, "beta").await, 1);
    for inst in [&arena[0], &arena[1]] {
        assert_eq!(inst.metric("arena_room_channels_subscribed").await, 1.0);
    }
    a1.attacks("alpha", "x", 5).await;
    assert!(
        b.collect("attack", Duration::from_millis(300))
            .await
            .is_empty()
    );

    // The last member leaving (by leave_room, then by disconnecting) drops the channel.
    a1.leave("alpha").await;
    assert_eq!(
        shard_subscribers(&mut conn, "alpha").await,
        1,
        "a2 is still in"
    );
    drop(a2);
    eventually(WAIT, "alpha's channel to be dropped", || {
        let mut conn = conn.clone();
        async move { (shard_subscribers(&mut conn, "alpha").await == 0).then_some(()) }
    })
    .await;
    assert_eq!(arena[0].metric("arena_room_channels_subscribed").await, 0.0);
    // Joining again subscribes again.
    let _a3 = arena[0].client_in("a3", "alpha").await;
    assert_eq!(shard_subscribers(&mut conn, "alpha").await, 1);
}

#[tokio::test]
async fn delivery_resumes_after_a_redis_restart() {
    let mut redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let a = arena[0].client_in("a", "r").await;
    let mut b = arena[1].client_in("b", "r").await;
    a.attacks("r", "before", 1).await;
    b.next_event("attack", WAIT).await.unwrap();

    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().expect("restart redis");
    until_attacks_cross(
        &a,
        &mut b,
        "r",
        Duration::from_secs(15),
        "attacks did not cross again after the restart",
    )
    .await;
    let mut conn = redis_conn(&redis.url()).await;
    assert_eq!(shard_subscribers(&mut conn, "r").await, 2);
    assert!(arena[1].metric("arena_room_resubscribes_total").await >= 1.0);
}

#[tokio::test]
async fn a_client_whose_instance_died_gets_what_it_missed_on_the_other() {
    let redis = redis();
    let mut arena = Arena::spawn(&redis.url(), 2).await;
    let sender = arena[1].client_in("s", "r").await;
    let mut c = arena[0].client_in("c", "r").await;
    sender.attacks("r", "seen", 3).await;
    let mut last = Value::Null;
    for _ in 0..3 {
        last = c.next_event("attack", WAIT).await.unwrap();
    }
    let (epoch, offset) = (last["epoch"].clone(), last["offset"].clone());
    assert_eq!(offset, json!(3));

    // Instance 0 goes away with the client on it; the room goes on without it.
    let gone = arena.instances.remove(0);
    gone.stop().await.ok();
    drop(c);
    sender.attacks("r", "missed", 4).await;

    let mut c = arena[0].client("c").await;
    let ack = rejoin(&c, "r", &epoch, &offset).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack["replayed"], json!(4), "{ack}");
    assert_eq!(ack["resync"], json!(false), "{ack}");
    assert_eq!(ack["offset"], json!(7), "{ack}");
    for i in 0..4 {
        let e = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["eventId"], format!("missed-{i}"), "{e}");
        assert_eq!(e["offset"], json!(4 + i), "{e}");
    }
    // Then live, with nothing twice.
    sender.attacks("r", "live", 1).await;
    let e = c.next_event("attack", WAIT).await.unwrap();
    assert_eq!(e["eventId"], "live-0", "{e}");
    assert_eq!(e["offset"], json!(8));
    assert!(
        c.collect("attack", Duration::from_millis(300))
            .await
            .is_empty()
    );
    assert!(arena[0].metric("arena_room_replayed_total").await >= 4.0);
}

#[tokio::test]
async fn a_member_who_comes_back_to_an_instance_the_room_left_gets_what_it_missed() {
    // Instance 0 has the room, loses its last member (its channel is dropped, it hears
    // nothing more), and the member comes back later: what instance 0 delivered before
    // says nothing about the events since, so they come from the history, not `resync`.
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let sender = arena[1].client_in("s", "r").await;
    let mut c = arena[0].client_in("c", "r").await;
    sender.attacks("r", "seen", 2).await;
    let mut last = Value::Null;
    for _ in 0..2 {
        last = c.next_event("attack", WAIT).await.unwrap();
    }
    let (epoch, offset) = (last["epoch"].clone(), last["offset"].clone());
    drop(c);
    // Wait until instance 0 has dropped the room's channel (no member left there).
    let deadline = std::time::Instant::now() + WAIT;
    while arena[0].metric("arena_room_channels_subscribed").await > 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "instance 0 kept the channel"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sender.attacks("r", "missed", 3).await;
    let mut c = arena[0].client("c").await;
    let ack = rejoin(&c, "r", &epoch, &offset).await;
    assert_eq!(ack["resync"], json!(false), "{ack}");
    assert_eq!(ack["replayed"], json!(3), "{ack}");
    assert_eq!(ack["offset"], json!(5), "{ack}");
    for i in 0..3 {
        let e = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["offset"], json!(3 + i), "{e}");
    }
    sender.attacks("r", "live", 1).await;
    let e = c.next_event("attack", WAIT).await.unwrap();
    assert_eq!(e["offset"], json!(6), "{e}");
}

#[tokio::test]
async fn a_replay_longer_than_the_clients_queue_arrives_whole_and_in_order() {
    // The client's queue holds 8 packets; it missed 60 attacks. The replay waits for the
    // client to read instead of dropping what does not fit, and the ack counts what it
    // really sent.
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.client_buffer = 8;
        c.services.limits.socket_event_rate = 100_000;
        c.services.limits.socket_event_burst = 100_000;
    })
    .await;
    let sender = arena[1].client_in("s", "r").await;
    let mut c = arena[0].client_in("c", "r").await;
    sender.attacks("r", "seen", 1).await;
    let first = c.next_event("attack", WAIT).await.unwrap();
    let (epoch, offset) = (first["epoch"].clone(), first["offset"].clone());
    drop(c);
    sender.attacks("r", "missed", 60).await;
    let mut c = arena[0].client("c").await;
    let ack = rejoin(&c, "r", &epoch, &offset).await;
    assert_eq!(ack["resync"], json!(false), "{ack}");
    assert_eq!(ack["replayed"], json!(60), "{ack}");
    assert_eq!(ack["offset"], json!(61), "{ack}");
    for i in 0..60 {
        let e = c.next_event("attack", WAIT).await.unwrap();
        assert_eq!(e["offset"], json!(2 + i), "{e}");
    }
    sender.attacks("r", "live", 1).await;
    let e = c.next_event("attack", WAIT).await.unwrap();
    assert_eq!(e["offset"], json!(62), "{e}");
}

#[tokio::test]
async fn a_position_the_history_no_longer_covers_gets_resync() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.modes.rooms.room_history_len = 5;
        c.services.limits.socket_event_rate = 100_000;
        c.services.limits.socket_event_burst = 100_000;
    })
    .await;
    let sender = arena[0].client_in("s", "r").await;
    // Trimming is approximate (whole stream nodes of 100): send well past one node.
    sender.attacks("r", "x", 250).await;
    let c = arena[0].client("c").await;
    let first = rejoin(&c, "r", &json!("0000000000000000"), &json!(1)).await;
    assert_eq!(first["ok"], json!(true), "{first}");
    assert_eq!(first["resync"], json!(true), "another epoch: {first}");
    let epoch = first["epoch"].clone();
    assert_eq!(first["offset"], json!(250));

    let mut old = arena[0].client("old").await;
    let ack = rejoin(&old, "r", &epoch, &json!(1)).await;
    assert_eq!(ack["resync"], json!(true), "trimmed: {ack}");
    assert_eq!(ack["replayed"], json!(0));
    let r = old.next_event("resync", WAIT).await.unwrap();
    assert_eq!(r, json!({"room": "r", "epoch": epoch, "offset": 250}));
    assert!(
        old.collect("attack", Duration::from_millis(200))
            .await
            .is_empty()
    );

    // A recent position is still covered.
    let mut recent = arena[0].client("recent").await;
    let ack = rejoin(&recent, "r", &epoch, &json!(248)).await;
    assert_eq!(ack["replayed"], json!(2), "{ack}");
    let e = recent.next_event("attack", WAIT).await.unwrap();
    assert_eq!(e["offset"], json!(249));
    // Half a position is refused.
    let bad = ack_of(&recent, json!({"room": "r", "offset": 3})).await;
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    assert!(arena[0].metric("arena_room_resyncs_total").await >= 2.0);
}

async fn ack_of(c: &Client, payload: Value) -> Value {
    ack(c, "join_room", &payload, WAIT).await
}
