//! Fuzzing the wire: arbitrary Engine.IO and Socket.IO frames, made by proptest, sent over
//! real WebSockets to a real instance. Whatever a hostile client sends, the instance keeps
//! serving: /health answers and a bystander's events are still acked and delivered.
//! Bounded: a fixed number of generated connections and frames, deterministic seed.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Arena, RoomsClient, redis};

const WAIT: Duration = Duration::from_secs(5);
const CONNECTIONS: usize = 100;

/// Any JSON value a few levels deep, with our events' field names mixed in.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(json!({"_placeholder": true, "num": 0})),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        let key = prop_oneof![
            Just("room".to_string()),
            Just("damage".to_string()),
            Just("mapId".to_string()),
            Just("tile".to_string()),
            Just("players".to_string()),
            Just("battleId".to_string()),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One frame: an Engine.IO text packet (type digit + payload), usually carrying a
/// Socket.IO packet (type, optional attachments, namespace and ack id, JSON data), or a
/// binary frame, or plain garbage.
fn frame() -> impl Strategy<Value = Message> {
    let event = prop_oneof![
        Just("attack"),
        Just("join_room"),
        Just("leave_room"),
        Just("claim"),
        Just("start_battle"),
        Just("end_battle"),
        Just("nope"),
        Just(""),
    ];
    let data = (event, prop::collection::vec(json_value(), 0..3)).prop_map(|(e, rest)| {
        let mut a = vec![json!(e)];
        a.extend(rest);
        Value::Array(a).to_string()
    });
    // Weighted toward well-formed events, so most frames reach a handler; the rest probe
    // the engine's and the parser's edges (other packet types, attachments, namespaces,
    // huge ack ids, broken JSON).
    let socket_io = (
        prop_oneof![8 => Just("2"), 1 => Just("0"), 1 => Just("1"), 1 => Just("3"), 1 => Just("5"), 1 => Just("9")],
        prop_oneof![8 => Just(""), 1 => Just("1-"), 1 => Just("99999999999999999999-")],
        prop_oneof![8 => Just(""), 1 => Just("/admin,"), 1 => Just("/x,")],
        prop_oneof![4 => Just(""), 4 => Just("1"), 1 => Just("18446744073709551616")],
        prop_oneof![8 => data, 1 => json_value().prop_map(|v| v.to_string()), 1 => ".{0,20}"],
    )
        .prop_map(|(t, att, ns, id, d)| Message::text(format!("4{t}{att}{ns}{id}{d}")));
    prop_oneof![
        12 => socket_io,
        1 => "[0-9]{0,2}.{0,30}".prop_map(Message::text),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Message::binary),
        1 => Just(Message::text("2")),
        1 => Just(Message::text("5")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_frames_never_take_the_instance_down() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 2).await;
    let base = arena[0].url.clone();
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base.replacen("http", "ws", 1)
    );
    let bystander = arena[0].client_in("bystander", "r").await;
    let mut watcher = arena[1].client_in("watcher", "r").await;

    let mut runner = TestRunner::new(Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    let frames = prop::collection::vec(frame(), 1..8);
    let mut sent = 0;
    for _ in 0..CONNECTIONS {
        let case = frames.new_tree(&mut runner).unwrap().current();
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&ws_url).await else {
            panic!("instance stopped accepting WebSockets after {sent} frames");
        };
        // The Engine.IO open packet, then a Socket.IO connect to the default namespace.
        let _ = tokio::time::timeout(WAIT, ws.next()).await;
        let _ = ws.send(Message::text(r#"40{"player":"fuzz"}"#)).await;
        let connected = tokio::time::timeout(WAIT, async {
            while let Some(Ok(m)) = ws.next().await {
                if m.to_text().is_ok_and(|t| t.starts_with("40")) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            connected,
            Ok(true),
            "no Socket.IO connect after {sent} frames"
        );
        for m in case {
            sent += 1;
            if ws.send(m).await.is_err() {
                break; // the server closed this connection: allowed
            }
        }
        // Read whatever comes back for a moment, then drop the connection.
        let _ = tokio::time::timeout(Duration::from_millis(50), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
    assert_eq!(arena[0].get("/health").await.0, 200);
    // The frames reached the event handlers (not only the engine's parser).
    let refused = arena[0]
        .metric(r#"arena_event_errors_total{code="bad_request"}"#)
        .await;
    assert!(
        refused > 0.0,
        "no fuzzed event reached a handler ({sent} frames)"
    );
    let ack = bystander.attack("r", 1).await;
    assert_eq!(ack, json!({"ok": true}), "after {sent} fuzzed frames");
    watcher.next_event("attack", WAIT).await.unwrap();
}
