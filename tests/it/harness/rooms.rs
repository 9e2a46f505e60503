//! Typed requests of the rooms mode (`src/modes/rooms/`): join, leave, attack.

use std::time::Duration;

use arena::tools::client::Client;
use serde_json::{Value, json};

use super::ack;

/// How long a rooms request waits for its ack.
const WAIT: Duration = Duration::from_secs(5);

/// The rooms mode's events as methods on a client. Each returns the ack (`{ok: true, ..}`
/// or `{ok: false, error}`) and panics naming the event when no ack comes within 5 s.
pub trait RoomsClient {
    /// `join_room {room}`.
    async fn join(&self, room: &str) -> Value;
    /// `leave_room {room}`.
    async fn leave(&self, room: &str) -> Value;
    /// `attack {room, damage}`.
    async fn attack(&self, room: &str, damage: u32) -> Value;
    /// `attack {room, damage, ..extras}`: the fields of the object `extras` ride along
    /// (the server forwards them to the room); `room` and `damage` win over theirs.
    async fn attack_with(&self, room: &str, damage: u32, extras: &Value) -> Value;
}

impl RoomsClient for Client {
    async fn join(&self, room: &str) -> Value {
        ack(self, "join_room", &json!({"room": room}), WAIT).await
    }

    async fn leave(&self, room: &str) -> Value {
        ack(self, "leave_room", &json!({"room": room}), WAIT).await
    }

    async fn attack(&self, room: &str, damage: u32) -> Value {
        ack(
            self,
            "attack",
            &json!({"room": room, "damage": damage}),
            WAIT,
        )
        .await
    }

    async fn attack_with(&self, room: &str, damage: u32, extras: &Value) -> Value {
        let mut payload = extras.clone();
        let fields = payload
            .as_object_mut()
            .unwrap_or_else(|| panic!("attack extras must be a JSON object, got {extras}"));
        fields.insert("room".into(), json!(room));
        fields.insert("damage".into(), json!(damage));
        ack(self, "attack", &payload, WAIT).await
    }
}

/// A raw WebSocket client of `inst`, playing `stuck`, that joins `room` and then never
/// reads again: the slow client of the fault tests. With `recv_buffer`, its socket's
/// receive buffer is fixed at that size, so loopback autotuning cannot absorb megabytes.
pub async fn stuck_reader(
    inst: &super::Instance,
    room: &str,
    recv_buffer: Option<u32>,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = arena::tools::client::socket_url(&inst.url).unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        tcp.set_recv_buffer_size(size).unwrap();
    }
    let tcp = tcp.connect(inst.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    ws.next().await.unwrap().unwrap(); // open
    ws.send(Message::text(r#"40{"player":"stuck"}"#))
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap(); // connect
    let join = format!(r#"421["join_room",{{"room":"{room}"}}]"#);
    ws.send(Message::text(join)).await.unwrap();
    // Read until the join is acked (so it is surely in the room), then never again.
    let acked = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().is_ok_and(|t| t.starts_with("431")) {
                return m.to_text().is_ok_and(|t| t.contains(r#""ok":true"#));
            }
        }
        false
    })
    .await;
    assert_eq!(
        acked,
        Ok(true),
        "the stuck reader's join_room {room} was not acked ok"
    );
    ws
}
