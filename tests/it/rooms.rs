//! Rooms across instances: attacks reach every member on every instance, and only them.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Arena, RoomsClient, redis};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn attacks_cross_instances_with_extras_and_stay_in_the_room() {
    let redis = redis();
    attacks_cross_instances_and_stay_in_the_room_on(&redis.url()).await;
}

/// The body, against the Redis at `url` (also run on a cluster, `cluster.rs`).
pub(crate) async fn attacks_cross_instances_and_stay_in_the_room_on(url: &str) {
    let arena = Arena::spawn(url, 2).await;
    let mut a = arena[0].client_in("alice", "r1").await;
    let mut b = arena[1].client_in("bob", "r1").await;
    let mut outsider = arena[1].client("carol").await;
    let mut other_room = arena[0].client_in("dave", "r2").await;

    let extras = json!({"combo": [1, 2], "note": "hi", "nested": {"x": 1}});
    let ack = a.attack_with("r1", 7, &extras).await;
    assert_eq!(ack, json!({"ok": true}));
    let ack = b.attack("r1", 0).await;
    assert_eq!(ack, json!({"ok": true}));

    for (who, c) in [("alice", &mut a), ("bob", &mut b)] {
        // Attacks from different instances may interleave: order by sender.
        let mut got = [
            c.next_event("attack", WAIT).await.unwrap(),
            c.next_event("attack", WAIT).await.unwrap(),
        ];
        got.sort_by_key(|v| v["from"].as_str().unwrap_or_default().to_string());
        let (first, second) = (&got[0], &got[1]);
        assert_eq!(first["from"], "alice", "{who} got {first}");
        assert_eq!(first["instanceId"], "i0");
        assert_eq!(first["room"], "r1", "{who}: field room changed: {first}");
        assert_eq!(first["damage"], 7, "{who}: field damage changed: {first}");
        for k in ["combo", "note", "nested"] {
            assert_eq!(first[k], extras[k], "{who}: field {k} changed: {first}");
        }
        assert_eq!(second["from"], "bob");
        assert_eq!(second["instanceId"], "i1");
    }
    assert!(
        outsider
            .collect("attack", Duration::from_millis(400))
            .await
            .is_empty()
    );
    assert!(
        other_room
            .collect("attack", Duration::from_millis(50))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn leaving_a_room_stops_delivery() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let a = arena[0].client_in("alice", "r").await;
    let mut b = arena[1].client_in("bob", "r").await;
    let ack = b.leave("r").await;
    assert_eq!(ack, json!({"ok": true, "room": "r"}));
    a.attack("r", 1).await;
    assert!(
        b.collect("attack", Duration::from_millis(400))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn welcome_names_instance_and_socket() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let mut c = arena[0].client("zoe").await;
    let w = c.next_event("welcome", WAIT).await.unwrap();
    assert_eq!(w["instanceId"], "i0");
    assert_eq!(w["socketId"], c.sid.as_str());
    assert_eq!(w["player"], "zoe");
}

#[tokio::test]
async fn handshake_with_a_bad_player_id_is_refused() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let r =
        arena::tools::client::Client::connect(&arena[0].url, json!({"player": "bad id!"})).await;
    match r {
        Err(arena::tools::client::ClientError::Refused(m)) => assert!(m.contains("player"), "{m}"),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    }
    // No auth at all: a guest.
    let mut g = arena::tools::client::Client::connect(&arena[0].url, json!(null))
        .await
        .unwrap();
    let w = g.next_event("welcome", WAIT).await.unwrap();
    assert!(w["player"].as_str().unwrap().starts_with("guest-"), "{w}");
}
