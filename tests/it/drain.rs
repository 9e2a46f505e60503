//! Drain on deploy (issue 14 item 8): on stop, `/ready` turns 503 at once, new sessions
//! are refused, clients stay connected for the drain wait and are then let go in batches
//! spread over the window, and the instance stops cleanly.

use std::time::{Duration, Instant};

use arena::tools::client::Client;
use serde_json::json;

use crate::harness::{Arena, redis};

#[tokio::test]
async fn a_stopping_instance_drains_then_lets_clients_go_in_batches() {
    let redis = redis();
    let mut arena = Arena::spawn_with(&redis.url(), 1, |c| {
        c.drain_ms = 800;
        c.drain_spread_ms = 600;
    })
    .await;
    let i = arena.instances.pop().unwrap();
    let mut clients = Vec::new();
    for n in 0..12 {
        clients.push(i.client(&format!("p{n}")).await);
    }
    assert_eq!(i.get("/ready").await.0, 200);

    let t0 = Instant::now();
    i.begin_stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = i.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("draining"), "{body}");
    match Client::connect(&i.url, json!({"player": "late"})).await {
        Ok(_) => panic!("a new connection was accepted while draining"),
        Err(e) => assert!(e.to_string().contains("503"), "{e}"),
    }
    // During the drain wait everyone is still connected.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        clients.iter().all(|c| !c.is_closed()),
        "closed during the wait"
    );

    let mut closed_at = vec![None; clients.len()];
    while closed_at.iter().any(Option::is_none) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "clients were not let go"
        );
        for (k, c) in clients.iter().enumerate() {
            if closed_at[k].is_none() && c.is_closed() {
                closed_at[k] = Some(t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let times: Vec<Duration> = closed_at.into_iter().flatten().collect();
    let first = *times.iter().min().unwrap();
    let last = *times.iter().max().unwrap();
    assert!(
        first >= Duration::from_millis(750),
        "first let go at {first:?}"
    );
    assert!(
        last - first >= Duration::from_millis(300),
        "not spread: {first:?}..{last:?}"
    );
    i.stop().await.unwrap();
}
