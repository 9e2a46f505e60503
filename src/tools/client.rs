//! A small Socket.IO v4 client over WebSocket, for tests and `arena bench`.
//!
//! Engine.IO v4 framing (open `0`, ping `2` -> pong `3`, message `4`) and Socket.IO
//! packets on the default namespace (connect `40`, event `42`, ack `43`, connect error
//! `44`). WebSocket transport only; no binary attachments. Events that a caller is not
//! waiting for yet are buffered, so `next_event("x")` never loses a `y`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad url {0:?}: expected http://host:port or ws://host:port")]
    BadUrl(String),
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("connection refused by the server: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("connection closed")]
    Closed,
}

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// One connected Socket.IO client.
pub struct Client {
    out: mpsc::UnboundedSender<Message>,
    events: mpsc::UnboundedReceiver<(String, Value)>,
    pending: VecDeque<(String, Value)>,
    acks: Acks,
    next_ack: AtomicU64,
    /// The Socket.IO session id the server assigned.
    pub sid: String,
    tasks: [JoinHandle<()>; 2],
}

/// `http://h:p` or `ws://h:p` (with or without a trailing slash) -> the Engine.IO URL.
pub fn socket_url(base: &str) -> Result<String, ClientError> {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .ok_or_else(|| ClientError::BadUrl(base.to_string()))?;
    Ok(format!("ws://{rest}/socket.io/?EIO=4&transport=websocket"))
}

impl Client {
    /// Connect to `base` (e.g. `http://127.0.0.1:3000`) with the handshake `auth` payload.
    pub async fn connect(base: &str, auth: Value) -> Result<Client, ClientError> {
        Self::connect_from(base, auth, None).await
    }

    /// Connect as a browser page from `origin` would (the `Origin` header set).
    pub async fn connect_from(
        base: &str,
        auth: Value,
        origin: Option<&str>,
    ) -> Result<Client, ClientError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderValue;
        let mut request = socket_url(base)?.into_client_request()?;
        if let Some(o) = origin {
            let value = HeaderValue::from_str(o)
                .map_err(|e| ClientError::BadUrl(format!("origin {o:?}: {e}")))?;
            request.headers_mut().insert("origin", value);
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
        let (mut sink, mut stream) = ws.split();
        // Engine.IO open packet.
        match next_text(&mut stream).await? {
            t if t.starts_with('0') => {}
            t => {
                return Err(ClientError::Protocol(format!(
                    "expected open packet, got {t:?}"
                )));
            }
        }
        sink.send(Message::text(format!("40{auth}"))).await?;
        let sid = loop {
            let t = next_text(&mut stream).await?;
            if t == "2" {
                sink.send(Message::text("3")).await?;
            } else if let Some(body) = t.strip_prefix("40") {
                let v: Value =
                    serde_json::from_str(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
                break v["sid"].as_str().unwrap_or_default().to_string();
            } else if let Some(body) = t.strip_prefix("44") {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                let msg = v["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| body.to_string());
                return Err(ClientError::Refused(msg));
            }
        };
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let acks: Acks = Arc::default();
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader = tokio::spawn(read_loop(stream, out.clone(), ev_tx, acks.clone()));
        Ok(Client {
            out,
            events,
            pending: VecDeque::new(),
            acks,
            next_ack: AtomicU64::new(1),
            sid,
            tasks: [reader, writer],
        })
    }

    /// Emit an event without an ack.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), ClientError> {
        let body = serde_json::to_string(&(event, data))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.out
            .send(Message::text(format!("42{body}")))
            .map_err(|_| ClientError::Closed)
    }

    /// Send a raw Socket.IO packet (after the `4` of Engine.IO), e.g. `42["x",1,2]`.
    pub fn send_raw(&self, packet: &str) -> Result<(), ClientError> {
        self.out
            .send(Message::text(format!("4{packet}")))
            .map_err(|_| ClientError::Closed)
    }

    /// Emit an event and wait for its ack's first argument.
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let body = serde_json::to_string(&(event, data))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.request(&body, event, timeout).await
    }

    /// Send `42<id><body>` where `body` is a raw JSON array, and wait for the ack.
    pub async fn request(
        &self,
        body: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        self.out
            .send(Message::text(format!("42{id}{body}")))
            .map_err(|_| ClientError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                self.acks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                Err(ClientError::Timeout(format!("ack of {what}")))
            }
        }
    }

    /// The next event named `name` (earlier buffered ones first), within `timeout`.
    pub async fn next_event(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        if let Some(i) = self.pending.iter().position(|(n, _)| n == name) {
            return Ok(self
                .pending
                .remove(i)
                .map(|(_, v)| v)
                .unwrap_or(Value::Null));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((n, v))) if n == name => return Ok(v),
                Ok(Some(other)) => self.pending.push_back(other),
                Ok(None) => return Err(ClientError::Closed),
                Err(_) => return Err(ClientError::Timeout(format!("event {name:?}"))),
            }
        }
    }

    /// Every event named `name` that arrives within `window` (plus buffered ones).
    pub async fn collect(&mut self, name: &str, window: Duration) -> Vec<Value> {
        let mut got = Vec::new();
        while let Ok(v) = self.next_event(name, window).await {
            got.push(v);
        }
        got
    }

    /// Receive the next event of any name, within `timeout`.
    pub async fn next_any(&mut self, timeout: Duration) -> Result<(String, Value), ClientError> {
        if let Some(e) = self.pending.pop_front() {
            return Ok(e);
        }
        match tokio::time::timeout(timeout, self.events.recv()).await {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout("any event".into())),
        }
    }

    /// Has the connection ended (the reader stopped)?
    pub fn is_closed(&self) -> bool {
        self.tasks[0].is_finished()
    }

    /// Close the connection (the server sees a transport close).
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn next_text<S>(stream: &mut S) -> Result<String, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

async fn read_loop<S>(
    mut stream: S,
    out: mpsc::UnboundedSender<Message>,
    events: mpsc::UnboundedSender<(String, Value)>,
    acks: Acks,
) where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Ok(t) = next_text(&mut stream).await {
        if t == "2" {
            let _ = out.send(Message::text("3"));
            continue;
        }
        let Some(packet) = t.strip_prefix('4') else {
            continue;
        };
        match packet.as_bytes().first() {
            Some(b'2') => {
                // 2[<event>, <data>...] or 2<id>[...]: an id here would ask us for an ack.
                let body = packet[1..].trim_start_matches(|c: char| c.is_ascii_digit());
                if let Ok(Value::Array(mut a)) = serde_json::from_str::<Value>(body)
                    && let Some(Value::String(name)) = a.first().cloned()
                {
                    let data = if a.len() > 1 {
                        a.swap_remove(1)
                    } else {
                        Value::Null
                    };
                    let _ = events.send((name, data));
                }
            }
            Some(b'3') => {
                let rest = &packet[1..];
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let Ok(id) = rest[..digits].parse::<u64>() else {
                    continue;
                };
                let v = match serde_json::from_str::<Value>(&rest[digits..]) {
                    Ok(Value::Array(mut a)) if !a.is_empty() => a.swap_remove(0),
                    Ok(v) => v,
                    Err(_) => Value::Null,
                };
                if let Some(tx) = acks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
                    let _ = tx.send(v);
                }
            }
            Some(b'1') => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        assert_eq!(
            super::socket_url("http://127.0.0.1:3000/").unwrap(),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert!(super::socket_url("ftp://x").is_err());
    }
}
