//! The memory floor of the Socket.IO stack arena is built on: socketioxide with its local
//! adapter, arena's engine settings and nothing else (no handlers, no Redis, no limits),
//! with a `/status` that `arena bench connections` reads. What one idle client costs
//! here is what no change inside arena can go below (issue 13's memory goal; the figures
//! are in BENCHMARKS.md).
//!
//! ```text
//! cargo run --release --example socketio_floor -- 127.0.0.1:4690
//! arena bench connections --url http://127.0.0.1:4690 --clients 10000 --json
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::routing::get;
use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4690".into());
    let connected = Arc::new(AtomicI64::new(0));
    // arena's engine settings (src/services/realtime/mod.rs), so only the handlers and
    // arena's own per-socket state differ.
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(128)
        .ws_read_buffer_size(256)
        .build_layer();
    let count = connected.clone();
    io.ns("/", move |socket: SocketRef| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            socket.on_disconnect(move || async move {
                count.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    let app = axum::Router::new()
        .route(
            "/status",
            get(move || {
                let connected = connected.load(Ordering::Relaxed);
                async move { Json(status(connected)) }
            }),
        )
        .layer(layer)
        // As arena's server does: engineioxide keeps each socket's request head, whose
        // parts would otherwise be slices pinning hyper's whole read buffer.
        .layer(axum::middleware::map_request(own_head));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("socketio_floor on http://{addr}");
    // hyper's HTTP/1 per connection, as arena's server does (`axum::serve`'s auto
    // builder, which also speaks HTTP/2, holds more per connection).
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .with_upgrades();
            let _ = conn.await;
        });
    }
}

async fn own_head(mut req: Request) -> Request {
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let owned = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        headers.append(name.clone(), owned);
    }
    *req.headers_mut() = headers;
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        *req.uri_mut() = uri;
    }
    req
}

/// The fields of arena's `/status` that the bench reads.
fn status(connected: i64) -> serde_json::Value {
    let page = 4096u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    json!({
        "instanceId": "socketio-floor",
        "pid": std::process::id(),
        "rssBytes": rss,
        "cpuSeconds": 0.0,
        "connectedClients": connected,
    })
}
