//! The Socket.IO plumbing every mode shares: the layer with its cross-instance adapter,
//! the round-trip probe, the player identity of a socket, and the one wrapper every event
//! handler goes through (`events`).
//!
//! What one connection may ask is bounded: `admission` caps connections per instance and
//! per client address at the handshake, `intake` caps each connection's event rate and
//! running handlers, and the WebSocket transport refuses a frame or message over the
//! engine cap before buffering it.
//!
//! Follow an attack: `modes::rooms::events::attack` validates it, then
//! `within(room).emit` publishes it through `adapter::ReconnectingDriver` to every other
//! instance, which emits it to its local members of the room.

pub mod adapter;
pub mod admission;
pub mod drops;
pub mod events;
pub mod health;
pub mod intake;
pub mod outcome;
pub mod paced;
pub mod probe;
pub mod room_bus;
pub mod room_channel;
pub mod room_history;
pub mod room_shard;
pub mod shard_subscriber;

use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use adapter::ReconnectingDriver;

use crate::base::ids::PlayerId;
use crate::services::Settings;

/// The adapter type: socketioxide-redis over our reconnecting driver.
pub type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, ReconnectingDriver>;
/// The Socket.IO server handle.
pub type Io = SocketIo<Adapter>;
/// A connected socket.
pub type Socket = SocketRef<Adapter>;

/// Prefix of the socketioxide-redis channels.
pub const ADAPTER_PREFIX: &str = "arena";

/// Build the Socket.IO layer over `driver`; the edge registers the namespace on `Io`.
pub fn layer(settings: &Settings, driver: ReconnectingDriver) -> (SocketIoLayer<Adapter>, Io) {
    let adapter = RedisAdapterCtr::new_with_driver(
        driver,
        RedisAdapterConfig::new()
            .with_prefix(ADAPTER_PREFIX)
            .with_stream_buffer(settings.pubsub_buffer),
    );
    // The largest Engine.IO packet or WebSocket message accepted.
    let engine_cap = settings.max_payload_bytes.saturating_mul(4);
    SocketIo::builder()
        // Bounded per-client queue: a slow client's packets are dropped, never awaited.
        .max_buffer_size(settings.client_buffer)
        // Engine-level cap well above the event limit, so an oversized event gets a
        // `payload_too_large` ack from the handler instead of a closed connection.
        .max_payload(engine_cap as u64)
        // The same cap on WebSocket frames and (fragmented) messages: tungstenite refuses
        // a frame by its header and a message as soon as its fragments pass the cap, so
        // neither is buffered whole; the connection is closed (counted in
        // `arena_disconnects_total{reason="transport_error"}`). Without these a 15 MB
        // frame or a 60 MB fragmented message was read into memory before being refused.
        .ws_max_message_size(engine_cap)
        .ws_max_frame_size(engine_cap)
        // Small read buffer: most of an idle client's memory otherwise (tungstenite's
        // default is 128 KiB). 256 bytes hold a few game events' frames; a larger frame's
        // buffer grows to its length once its header is read, so it costs no extra reads.
        // 1024 -> 256 took 0.75 KB off every idle client with no CPU change measured
        // (BENCHMARKS.md, "Memory per idle client").
        .ws_read_buffer_size(256)
        .with_adapter::<Adapter>(adapter)
        .build_layer()
}

/// The player a socket authenticated as (set by the handshake in `edge::socket`).
pub fn player_of(s: &Socket) -> PlayerId {
    // The handshake always inserts it; the fallback only guards a future refactor.
    s.extensions
        .get::<PlayerId>()
        .unwrap_or_else(|| PlayerId::guest(&s.id))
}
