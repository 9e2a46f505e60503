//! The Socket.IO gateway: the layer, the default namespace, cross-instance rooms.
//!
//! Follow an attack: `handlers::attack` validates it (`protocol::Attack::parse`), then
//! `within(room).emit` publishes it through `adapter::ReconnectingDriver` to every other
//! instance, which emits it to its local members of the room.

pub mod adapter;
pub mod handlers;
pub mod probe;
pub mod protocol;

use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use adapter::ReconnectingDriver;

use crate::config::Config;
use crate::state::AppState;

/// The adapter type: socketioxide-redis over our reconnecting driver.
pub type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, ReconnectingDriver>;
/// The Socket.IO server handle.
pub type Io = SocketIo<Adapter>;

/// Errors while setting up the gateway.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("socket.io adapter: {0}")]
    Adapter(String),
}

/// Build the Socket.IO layer and register the namespace.
pub async fn build(
    config: &Config,
    state: AppState,
    driver: ReconnectingDriver,
) -> Result<(SocketIoLayer<Adapter>, Io), RealtimeError> {
    let adapter = RedisAdapterCtr::new_with_driver(
        driver,
        RedisAdapterConfig::new()
            .with_prefix(crate::redis::keys::ADAPTER_PREFIX)
            .with_stream_buffer(config.pubsub_buffer),
    );
    let (layer, io) = SocketIo::builder()
        .with_state(state)
        // Bounded per-client queue: a slow client's packets are dropped, never awaited.
        .max_buffer_size(config.client_buffer)
        // Engine-level cap well above the event limit, so an oversized event gets a
        // `payload_too_large` ack from the handler instead of a closed connection.
        .max_payload((config.max_payload_bytes as u64).saturating_mul(4))
        // Small read buffer: most of an idle client's memory otherwise.
        .ws_read_buffer_size(1024)
        .with_adapter::<Adapter>(adapter)
        .build_layer();
    handlers::register(&io).await?;
    Ok((layer, io))
}
