//! Faults: Redis killed and restarted, slow clients.

use std::time::Duration;

use serde_json::json;

use crate::harness::rooms::{stuck_reader, until_attacks_cross};
use crate::harness::{Arena, RoomsClient, eventually, redis};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn ready_follows_redis_and_broadcasts_resume_after_a_restart() {
    let mut redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let a = arena[0].client_in("a", "r").await;
    let mut b = arena[1].client_in("b", "r").await;
    assert_eq!(arena[0].get("/ready").await.0, 200);

    redis.kill();
    eventually(WAIT, "/ready to turn 503", || async {
        (arena[0].get("/ready").await.0 == 503).then_some(())
    })
    .await;
    assert_eq!(
        arena[0].get("/health").await.0,
        200,
        "liveness does not depend on Redis"
    );
    // While Redis is down an attack is refused as unavailable, not lost silently.
    let ack = a.attack("r", 1).await;
    assert_eq!(ack["error"]["code"], "unavailable", "{ack}");

    redis.restart().expect("restart redis");
    eventually(Duration::from_secs(10), "/ready to turn 200", || async {
        (arena[0].get("/ready").await.0 == 200).then_some(())
    })
    .await;
    // Broadcasts flow again across instances within a few seconds, without restarting arena.
    until_attacks_cross(
        &a,
        &mut b,
        "r",
        Duration::from_secs(10),
        "attacks did not cross instances after the restart",
    )
    .await;
    assert!(arena[1].metric("arena_pubsub_reconnects_total").await >= 1.0);
}

#[tokio::test]
async fn a_client_that_stops_reading_never_slows_the_room() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.services.client_buffer = 16;
        // 600 attacks back to back: past the default per-connection event rate.
        c.services.limits.socket_event_rate = 100_000;
        c.services.limits.socket_event_burst = 100_000;
    })
    .await;
    // A raw client that joins, then never reads again. Its receive buffer is fixed small,
    // so the kernel cannot absorb the 9.6 MB below by autotuning and its queue overflows.
    let stuck = stuck_reader(&arena[0], "r", Some(4096)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let sender = arena[0].client_in("s", "r").await;
    let mut fast = arena[0].client_in("f", "r").await;
    let pad = "p".repeat(16 * 1024);
    let n = 600;
    let started = std::time::Instant::now();
    for i in 0..n {
        let ack = sender
            .attack_with("r", 1, &json!({"i": i, "pad": pad}))
            .await;
        assert_eq!(ack["ok"], json!(true));
    }
    for i in 0..n {
        let got = fast.next_event("attack", WAIT).await.unwrap();
        assert_eq!(
            got["i"],
            json!(i),
            "the fast client gets everything, in order"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // The stuck client's queue overflowed and was counted, not awaited.
    assert!(arena[0].metric("arena_client_send_dropped_total").await > 0.0);
    drop(stuck);
}

#[tokio::test]
async fn graceful_stop_with_connected_clients() {
    let redis = redis();
    let mut arena = Arena::spawn(&redis.url(), 1).await;
    let mut c = arena[0].client_in("a", "r").await;
    let inst = arena.instances.remove(0);
    let stopped = tokio::time::timeout(Duration::from_secs(10), inst.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    // The client saw its connection end.
    let end = c.next_any(Duration::from_secs(5)).await;
    assert!(
        end.is_err() || end.as_ref().is_ok_and(|(n, _)| n == "welcome"),
        "{end:?}"
    );
}
