//! A lean Socket.IO connection for load: raw frames, no JSON trees on the hot path.
//!
//! The full `crate::tools::client::Client` parses every event into a `serde_json::Value`; at
//! hundreds of thousands of deliveries per second that would make the bench the
//! bottleneck, so receivers here only scan each frame for the fields they time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::common::BenchError;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The bench's own WebSockets read small frames: tungstenite's default 128 KiB read
/// buffer per connection is 12 GiB of address space (and one mmap each, past the
/// kernel's map count) at 100k clients.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// A connected, handshaken Socket.IO session.
pub struct Wire {
    ws: Ws,
}

impl Wire {
    /// Connect to `base` (http://host:port) with the handshake `auth` (JSON text, see
    /// `common::Handshake`) and finish the Socket.IO handshake.
    pub async fn connect(base: &str, auth: &str) -> Result<Wire, BenchError> {
        Self::connect_from(base, auth, None).await
    }

    /// [`Wire::connect`] from the local address `source` (None: the system's choice).
    /// One source address reaches one server port from at most ~28k ephemeral ports, so
    /// 100k clients over loopback spread over several 127.0.0.x sources.
    pub async fn connect_from(
        base: &str,
        auth: &str,
        source: Option<IpAddr>,
    ) -> Result<Wire, BenchError> {
        let url = crate::tools::client::socket_url(base)
            .map_err(|e| BenchError::Connect(base.into(), e.to_string()))?;
        let failed = |e: &dyn std::fmt::Display| BenchError::Connect(base.into(), e.to_string());
        let fut = async {
            let ws = match source {
                None => {
                    tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
                        .await
                        .map_err(|e| failed(&e))?
                        .0
                }
                Some(ip) => {
                    let host = base.trim_start_matches("http://").trim_end_matches('/');
                    let dest = tokio::net::lookup_host(host)
                        .await
                        .map_err(|e| failed(&e))?
                        .find(|a| a.is_ipv4() == ip.is_ipv4())
                        .ok_or_else(|| failed(&"no address of the source's family"))?;
                    let socket = if ip.is_ipv4() {
                        TcpSocket::new_v4()
                    } else {
                        TcpSocket::new_v6()
                    }
                    .map_err(|e| failed(&e))?;
                    socket
                        .bind(SocketAddr::new(ip, 0))
                        .map_err(|e| failed(&format!("bind {ip}: {e}")))?;
                    let tcp = socket.connect(dest).await.map_err(|e| failed(&e))?;
                    let _ = tcp.set_nodelay(true);
                    tokio_tungstenite::client_async_with_config(
                        url,
                        MaybeTlsStream::Plain(tcp),
                        Some(ws_config()),
                    )
                    .await
                    .map_err(|e| failed(&e))?
                    .0
                }
            };
            let mut w = Wire { ws };
            w.expect_prefix("0").await?;
            w.send(format!("40{auth}")).await?;
            w.expect_prefix("40").await?;
            Ok(w)
        };
        tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .map_err(|_| BenchError::Connect(base.into(), "handshake timed out".into()))?
    }

    async fn send(&mut self, text: String) -> Result<(), BenchError> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| BenchError::Protocol(e.to_string()))
    }

    /// Read frames (answering pings) until one starts with `prefix`; return it.
    async fn expect_prefix(&mut self, prefix: &str) -> Result<String, BenchError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let t = t.as_str();
                    if t == "2" {
                        self.send("3".into()).await?;
                    } else if t.starts_with(prefix) {
                        return Ok(t.to_string());
                    } else if t.starts_with("44") {
                        return Err(BenchError::Protocol(format!("refused: {t}")));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(BenchError::Protocol(e.to_string())),
                None => return Err(BenchError::Protocol("connection closed".into())),
            }
        }
    }

    /// Join `room` and wait for the ack.
    pub async fn join(&mut self, room: &str) -> Result<(), BenchError> {
        self.send(format!(r#"420["join_room",{{"room":"{room}"}}]"#))
            .await?;
        let ack = tokio::time::timeout(Duration::from_secs(10), self.expect_prefix("430"))
            .await
            .map_err(|_| BenchError::Protocol(format!("join_room {room}: no ack within 10 s")))??;
        if ack.contains(r#""ok":true"#) {
            Ok(())
        } else {
            Err(BenchError::Protocol(format!("join_room {room}: {ack}")))
        }
    }

    /// Split into a writer handle (a queue feeding the socket) and a frame reader that
    /// answers pings itself.
    pub fn split(self) -> (Writer, Reader) {
        let (sink, stream) = self.ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(sink, rx));
        (Writer { tx: tx.clone() }, Reader { stream, pong: tx })
    }
}

async fn write_loop(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(m) = rx.recv().await {
        if sink.send(m).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// Queues frames to one connection.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Message>,
}

impl Writer {
    /// Queue a Socket.IO event frame `42<json array>`.
    pub fn event(&self, array_json: &str) -> bool {
        self.tx
            .send(Message::text(format!("42{array_json}")))
            .is_ok()
    }

    /// Queue an event that asks for ack `id`: `42<id><json array>`.
    pub fn request(&self, id: u64, array_json: &str) -> bool {
        self.tx
            .send(Message::text(format!("42{id}{array_json}")))
            .is_ok()
    }

    /// Close the connection.
    pub fn close(&self) {
        let _ = self.tx.send(Message::Close(None));
    }
}

/// A Socket.IO packet a bench cares about.
#[derive(Debug)]
pub enum Packet {
    /// An event: the JSON array after `42`.
    Event(String),
    /// An ack: its id and the JSON array after `43<id>`.
    Ack(u64, String),
}

/// Reads frames from one connection.
pub struct Reader {
    stream: SplitStream<Ws>,
    pong: mpsc::UnboundedSender<Message>,
}

impl Reader {
    /// The next event or ack, `None` when the connection ends.
    pub async fn next_packet(&mut self) -> Option<Packet> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Text(t)) => {
                    let t = t.as_str();
                    if t == "2" {
                        let _ = self.pong.send(Message::text("3"));
                    } else if let Some(ev) = t.strip_prefix("42") {
                        return Some(Packet::Event(ev.to_string()));
                    } else if let Some(rest) = t.strip_prefix("43") {
                        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                        if let Ok(id) = rest[..digits].parse() {
                            return Some(Packet::Ack(id, rest[digits..].to_string()));
                        }
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next Socket.IO event frame (the text after `42`), `None` when the connection ends.
    pub async fn next_event(&mut self) -> Option<String> {
        loop {
            if let Packet::Event(ev) = self.next_packet().await? {
                return Some(ev);
            }
        }
    }
}

/// The unsigned integer value of `"key":` in a JSON text, found by scanning (no parse).
pub fn scan_u64(text: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let start = text.find(&pat)? + pat.len();
    let digits: &str = &text[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The string value of `"key":"..."` (no escapes expected), found by scanning.
pub fn scan_str<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = text.find(&pat)? + pat.len();
    let end = text[start..].find('"')?;
    Some(&text[start..start + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_fields() {
        let t =
            r#"["attack",{"damage":1,"from":"p1","instanceId":"arena-0","room":"r3","t":12345}]"#;
        assert_eq!(scan_u64(t, "t"), Some(12345));
        assert_eq!(scan_u64(t, "damage"), Some(1));
        assert_eq!(scan_str(t, "instanceId"), Some("arena-0"));
        assert_eq!(scan_u64(t, "missing"), None);
    }
}
