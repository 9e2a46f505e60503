//! Bad input: every malformed event gets the right error ack, reaches nobody else, and the
//! same connection keeps working.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Arena, RoomsClient, redis};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn bad_payloads_get_typed_errors_and_the_connection_survives() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let c = arena[0].client_in("mallory", "r").await;
    let mut watcher = arena[1].client_in("walter", "r").await;

    let big = "x".repeat(100 * 1024);
    // (raw Socket.IO event array, expected code)
    let cases: Vec<(String, &str)> = vec![
        (r#"["attack","not an object"]"#.into(), "bad_request"),
        (r#"["attack",42]"#.into(), "bad_request"),
        (r#"["attack"]"#.into(), "bad_request"),
        (r#"["attack",{"damage":5}]"#.into(), "bad_request"),
        (r#"["attack",{"room":"r"}]"#.into(), "bad_request"),
        (
            r#"["attack",{"room":"r","damage":5000}]"#.into(),
            "bad_request",
        ),
        (
            r#"["attack",{"room":"r","damage":-1}]"#.into(),
            "bad_request",
        ),
        (
            r#"["attack",{"room":"r","damage":"7"}]"#.into(),
            "bad_request",
        ),
        (
            r#"["attack",{"room":"bad room!","damage":1}]"#.into(),
            "bad_request",
        ),
        (
            r#"["attack",{"room":"elsewhere","damage":1}]"#.into(),
            "not_in_room",
        ),
        (
            format!(r#"["attack",{{"room":"r","damage":1,"blob":"{big}"}}]"#),
            "payload_too_large",
        ),
        (r#"["join_room","lobby"]"#.into(), "bad_request"),
        (r#"["join_room",{"room":""}]"#.into(), "bad_request"),
        (
            r#"["join_room",{"room":"has space"}]"#.into(),
            "bad_request",
        ),
        (
            format!(r#"["join_room",{{"room":"{}"}}]"#, "y".repeat(65)),
            "bad_request",
        ),
        (r#"["leave_room",{}]"#.into(), "bad_request"),
    ];
    for (raw, code) in &cases {
        let ack = c.request(raw, "bad event", WAIT).await.unwrap();
        assert_eq!(ack["ok"], json!(false), "{raw:.80}: {ack}");
        assert_eq!(ack["error"]["code"], json!(code), "{raw:.80}: {ack}");
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        // The same connection still works.
        let ok = c.join("r").await;
        assert_eq!(ok["ok"], json!(true));
    }
    let ok = c.attack("r", 1).await;
    assert_eq!(ok, json!({"ok": true}));
    // Only the one valid attack reached the other client.
    let got = watcher.collect("attack", Duration::from_millis(500)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let errors = arena[0]
        .metric(r#"arena_event_errors_total{code="bad_request"}"#)
        .await;
    assert_eq!(errors, 14.0);
}

/// A packet that is not valid Socket.IO at all (broken JSON, a non-string event name) ends
/// that one connection, as the Socket.IO protocol prescribes; nobody else notices and the
/// client can reconnect at once.
#[tokio::test]
async fn unparsable_packets_close_only_that_connection() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let mut bystander = arena[0].client_in("bystander", "r").await;
    for raw in ["2[not json", r#"2[{"a":1}]"#, "9zzz"] {
        let bad = arena[0].client_in("bad", "r").await;
        bad.send_raw(raw).unwrap();
        crate::harness::eventually(WAIT, "the bad connection to close", || {
            let closed = bad.is_closed();
            async move { closed.then_some(()) }
        })
        .await;
        drop(bad);
        let ack = bystander.attack("r", 1).await;
        assert_eq!(ack, json!({"ok": true}), "after {raw:?}");
        bystander.next_event("attack", WAIT).await.unwrap();
    }
    assert_eq!(arena[0].get("/health").await.0, 200);
    let again = arena[0].client_in("bad", "r").await;
    drop(again);
}
