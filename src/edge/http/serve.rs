//! The accept loop and one task per connection: HTTP/1 with a header read timeout and an
//! idle timeout, upgrades (Socket.IO's WebSocket), the peer address in every request's
//! extensions, and a graceful stop.
//!
//! `axum::serve` cannot bound how long a client takes to send its headers, so a client
//! that trickles bytes would hold its connection (and a file descriptor) forever; this
//! serves each connection with hyper directly instead.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::activity::{Activity, Busy, Watched, WatchedBody};
use super::limits::HttpLimits;

/// Serve `router` on `listener` until `stop` resolves; then stop accepting, ask every
/// open connection to finish its request and close, and return when all have.
///
/// Dropping the returned future drops every connection at once (the shutdown fuse).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stop: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    let draining = CancellationToken::new();
    let mut stop = pin!(stop);
    let mut refusals = Refusals::default();
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                refusals.wait(e).await;
                continue;
            }
        };
        // Small frames must not wait for Nagle + delayed ACK (~40 ms per hop otherwise).
        let _ = tcp.set_nodelay(true);
        connections.spawn(connection(
            tcp,
            peer,
            router.clone(),
            limits.clone(),
            draining.clone(),
        ));
    }
    drop(listener);
    draining.cancel();
    while connections.join_next().await.is_some() {}
}

/// One connection: HTTP/1 (with upgrades) until it closes, goes idle, or drains.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    draining: CancellationToken,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(tcp, activity.clone()));
    let service = ConnService {
        router,
        peer,
        activity: activity.clone(),
    };
    // hyper's HTTP/1 directly rather than hyper-util's auto builder: the auto builder
    // first reads a few bytes to tell HTTP/1 from HTTP/2 with no timeout, so a client
    // that connects and sends nothing would escape the header timeout. Here the header
    // timer runs from the first moment (and again after each response).
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades();
    let mut conn = pin!(conn);
    let mut drain = pin!(draining.cancelled());
    let mut draining = false;
    let idle = activity.idle_for(limits.idle_timeout);
    let mut idle = pin!(idle);
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    // A client that went away or timed out sending headers: not our error.
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            () = &mut drain, if !draining => {
                draining = true;
                // Finish the request in flight (if any), then close.
                conn.as_mut().graceful_shutdown();
            }
            () = &mut idle => {
                tracing::debug!(%peer, limit = ?limits.idle_timeout, "closing an idle connection");
                return;
            }
        }
    }
}

/// The router as one connection's hyper service: the request head gets memory of its own
/// ([`own_request_head`]), the peer address goes into every request's extensions (`ConnectInfo<SocketAddr>`, also in Socket.IO's `req_parts()`
/// on every transport), and the request is followed for the idle clock.
struct ConnService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        own_request_head(&mut parts);
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = WatchedBody::new(body, self.activity.clone());
        let req = Request::from_parts(parts, axum::body::Body::new(body));
        let busy = Busy::start(self.activity.clone());
        let mut router = self.router.clone();
        Box::pin(async move {
            let response = tower_service::Service::call(&mut router, req).await;
            drop(busy);
            response
        })
    }
}

/// Give the request head its own memory. hyper parses the URI and the header values as
/// slices of the connection's read buffer (8–16 KiB), and engineioxide keeps each
/// socket's request parts for the socket's whole life: one retained slice pinned the whole
/// buffer of every WebSocket connection (a heap profile of 1,000 idle clients: 8.2 MB
/// held by hyper's read buffers; after this copy, 0.8 MB of copied heads). A few hundred
/// bytes copied per request; a value that would not re-parse keeps its slice.
fn own_request_head(parts: &mut Parts) {
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in parts.headers.iter() {
        let owned = match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(mut v) => {
                v.set_sensitive(value.is_sensitive());
                v
            }
            Err(_) => value.clone(),
        };
        headers.append(name.clone(), owned);
    }
    parts.headers = headers;
    if let Ok(uri) = Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
}

/// Accept errors: a connection that died in the backlog is skipped; running out of file
/// descriptors (or memory) pauses accepting briefly, logged at most every 5 s.
#[derive(Default)]
struct Refusals {
    last_logged: Option<tokio::time::Instant>,
    since: u64,
}

impl Refusals {
    const PAUSE: Duration = Duration::from_millis(50);
    const LOG_EVERY: Duration = Duration::from_secs(5);

    async fn wait(&mut self, e: std::io::Error) {
        use std::io::ErrorKind::*;
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
        ) {
            return;
        }
        self.since += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= Self::LOG_EVERY)
        {
            tracing::warn!(error = %e, refused = self.since, "cannot accept connections; retrying");
            self.last_logged = Some(now);
            self.since = 0;
        }
        tokio::time::sleep(Self::PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use futures_util::{SinkExt, StreamExt};
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;

    #[test]
    fn an_owned_head_says_what_the_parsed_one_said() {
        let req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&x=%20y")
            .header("host", "127.0.0.1:3000")
            .header("x-custom", "a\tb")
            .header("cookie", "one=1")
            .header("cookie", "two=2")
            .body(())
            .unwrap();
        let (mut parts, ()) = req.into_parts();
        let mut sensitive = HeaderValue::from_static("Bearer x");
        sensitive.set_sensitive(true);
        parts.headers.insert("authorization", sensitive);
        let before = parts.clone();
        own_request_head(&mut parts);
        assert_eq!(parts.uri, before.uri);
        assert_eq!(parts.headers, before.headers);
        assert_eq!(parts.headers.get_all("cookie").iter().count(), 2);
        assert!(parts.headers["authorization"].is_sensitive());
    }

    /// A server whose namespace emits `peer`: the address it finds in `req_parts()`.
    async fn start() -> SocketAddr {
        let (layer, io) = SocketIo::new_layer();
        io.ns("/", async |s: SocketRef| {
            let peer = s
                .req_parts()
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string());
            let _ = s.emit("peer", &peer);
        });
        let router = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(a): ConnectInfo<SocketAddr>| async move { a.to_string() }),
            )
            .layer(layer);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = HttpLimits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(2),
        };
        tokio::spawn(serve(listener, router, limits, std::future::pending()));
        addr
    }

    /// One request on its own connection: (the client's address, the response body).
    async fn exchange(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> (SocketAddr, String) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let me = s.local_addr().unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let (_, body) = out.split_once("\r\n\r\n").unwrap();
        (me, body.to_string())
    }

    #[tokio::test]
    async fn the_peer_address_reaches_routes_and_both_socket_io_transports() {
        let addr = start().await;
        let (me, body) = exchange(addr, "GET", "/peer", "").await;
        assert_eq!(body, me.to_string());

        // WebSocket: the address of the upgraded connection.
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.next().await.unwrap().unwrap(); // engine.io open
        ws.send(Message::text("40")).await.unwrap();
        let mut peer = None;
        while peer.is_none() {
            let msg = ws.next().await.unwrap().unwrap().into_text().unwrap();
            if let Some(event) = msg.strip_prefix("42") {
                peer = Some(event.to_string());
            }
        }
        let peer = peer.unwrap();
        assert!(peer.starts_with(r#"["peer","127.0.0.1:"#), "{peer}");

        // Polling: the address of the handshake request, kept for the session.
        let (me, open) = exchange(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        let open: serde_json::Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
        let sid = open["sid"].as_str().unwrap();
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let (_, ok) = exchange(addr, "POST", &path, "40").await;
        assert_eq!(ok, "ok");
        let mut got = String::new();
        for _ in 0..3 {
            let (_, packets) = exchange(addr, "GET", &path, "").await;
            got.push_str(&packets);
            if got.contains("42[") {
                break;
            }
        }
        assert!(
            got.contains(&format!(r#"42["peer","{me}"]"#)),
            "{got} (handshake from {me})"
        );
    }
}
