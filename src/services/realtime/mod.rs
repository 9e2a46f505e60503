//! The Socket.IO plumbing every mode shares: the layer with its cross-instance adapter,
//! the round-trip probe, the player identity of a socket, and the one wrapper every event
//! handler goes through (`events`).
//!
//! Follow an attack: `modes::rooms::events::attack` validates it, then
//! `within(room).emit` publishes it through `adapter::ReconnectingDriver` to every other
//! instance, which emits it to its local members of the room.

pub mod adapter;
pub mod drops;
pub mod events;
pub mod health;
pub mod outcome;
pub mod probe;

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
    SocketIo::builder()
        // Bounded per-client queue: a slow client's packets are dropped, never awaited.
        .max_buffer_size(settings.client_buffer)
        // Engine-level cap well above the event limit, so an oversized event gets a
        // `payload_too_large` ack from the handler instead of a closed connection.
        .max_payload((settings.max_payload_bytes as u64).saturating_mul(4))
        // Small read buffer: most of an idle client's memory otherwise.
        .ws_read_buffer_size(1024)
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
