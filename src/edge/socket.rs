//! The Socket.IO namespace: the handshake (the player id, the connection caps), the
//! `welcome`, and every socket event registration. Each mode registers its own events in
//! its `on_connect`, listed in `modes::Settings::build`; an event none registered gets
//! `unknown_event`. This file is the twin of the HTTP router (`edge::http`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::header::ORIGIN;
use metrics::Histogram;
use serde::{Deserialize, Serialize};
use socketioxide::extract::TryData;
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;

use crate::base::clock::unix_ms;
use crate::services::AppState;
use crate::services::auth::Authenticator;
use crate::services::auth::authenticator::HandshakeAuth;
use crate::services::auth::identity::Identity;
use crate::services::metrics::{DISCONNECT_REASONS, DISCONNECTS_TOTAL, Metrics};
use crate::services::mode::Mode;
use crate::services::realtime::admission::{Admission, Slot};
use crate::services::realtime::events::{self, UNKNOWN_EVENT};
use crate::services::realtime::intake::{self, Limits, Policy};
use crate::services::realtime::{Io, Socket, player_of};

/// Errors while registering the namespace.
#[derive(Debug, thiserror::Error)]
#[error("socket.io namespace: {0}")]
pub struct NamespaceError(String);

/// Sent once on connect.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub instance_id: String,
    pub socket_id: String,
    pub player: String,
    /// The display name from the token, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a handshake was refused (sent to the client as a connect error; a refusal by a
/// cap has a message that starts with its code, e.g. `server_full: ...`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(String);

/// Register the default namespace: every connection is authenticated and given a slot
/// under the connection caps, then welcomed and handed to every mode.
pub async fn register(
    io: &Io,
    app: AppState,
    modes: Arc<[Arc<dyn Mode>]>,
) -> Result<(), NamespaceError> {
    let connect_duration = app.metrics.handler("connect");
    let limits = &app.settings.limits;
    let policy = Policy::new(Limits::new(limits), &app.metrics);
    let admission = Admission::new(limits, &app.metrics);
    app.metrics.declare_codes(&[UNKNOWN_EVENT]);
    for reason in DISCONNECT_REASONS {
        let _ = app
            .metrics
            .counter_with(DISCONNECTS_TOTAL, "reason", reason);
    }
    // The events are registered in the handshake middleware, once it accepts, because
    // that runs before socketioxide queues the connect packet. The connect handler runs
    // only after the packet is queued (and marked connected): another thread can send
    // it, and the client's first event can arrive, before that handler has run; an
    // event with no handler yet is dropped without a word (under load, a client's
    // `join_room` sent right after connecting went unanswered).
    let authenticator = app.auth.clone();
    let draining = app.draining.clone();
    let welcome_app = app.clone();
    let on_connect = move |s: Socket| {
        welcome(&s, &welcome_app, &connect_duration);
        std::future::ready(())
    };
    let handshake = move |s: Socket, TryData(auth): TryData<Option<HandshakeAuth>>| {
        let admission = admission.clone();
        let authenticator = authenticator.clone();
        let draining = draining.is_cancelled();
        let (app, modes, policy) = (app.clone(), modes.clone(), policy.clone());
        async move {
            if draining {
                return Err(AuthError(
                    "draining: this instance is shutting down; connect to another one".into(),
                ));
            }
            authenticate(s.clone(), auth, &authenticator, &admission)?;
            attach(&s, &app, &modes, &policy);
            Ok(())
        }
    };
    io.ns("/", on_connect.with(handshake))
        .await
        .map_err(|e| NamespaceError(e.to_string()))
}

/// Hand an accepted socket to every mode (its events, under the connection's intake
/// limits), answer the rest with `unknown_event`, and clean up on disconnect.
fn attach(s: &Socket, app: &AppState, modes: &[Arc<dyn Mode>], policy: &Arc<Policy>) {
    intake::attach(s, policy);
    for mode in modes.iter() {
        mode.on_connect(s);
    }
    events::on_unknown(s, &app.metrics);
    let metrics = app.metrics.clone();
    let modes = modes.to_vec();
    s.on_disconnect(move |s: Socket, reason: DisconnectReason| async move {
        for mode in modes.iter() {
            mode.on_disconnect(&s);
        }
        if let Some(slot) = s.extensions.get::<Arc<Slot>>() {
            slot.release();
        }
        count_disconnect(&metrics, reason);
        metrics.client_disconnected();
    });
}

/// Count the client and send `welcome` (the socket is connected now); a token's display
/// name goes to the records in the background (a slow database never holds a handshake).
fn welcome(s: &Socket, app: &AppState, connect_duration: &Histogram) {
    let start = Instant::now();
    app.metrics.client_connected();
    let player = player_of(s);
    let name = s
        .extensions
        .get::<Arc<Identity>>()
        .and_then(|i| i.name.clone());
    let _ = s.emit(
        "welcome",
        &Welcome {
            instance_id: app.instance_id.to_string(),
            socket_id: s.id.to_string(),
            player: player.as_str().to_string(),
            name: name.as_ref().map(|n| n.as_str().to_string()),
        },
    );
    if let Some(name) = name {
        let store = app.store.clone();
        tokio::spawn(async move {
            let now = i64::try_from(unix_ms()).unwrap_or(i64::MAX);
            if let Err(e) = store.name_player(&player, &name, now).await {
                tracing::warn!(player = player.as_str(), "display name not recorded: {e}");
            }
        });
    }
    connect_duration.record(start.elapsed());
}

/// `arena_disconnects_total{reason}`: a closed set of labels (`DISCONNECT_REASONS`).
fn count_disconnect(metrics: &Metrics, reason: DisconnectReason) {
    let label = match reason {
        DisconnectReason::TransportClose => "transport_close",
        DisconnectReason::TransportError => "transport_error",
        DisconnectReason::PacketParsingError => "packet_parsing_error",
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
        DisconnectReason::MultipleHttpPollingError => "multiple_http_polling",
        DisconnectReason::ClientNSDisconnect => "client_disconnect",
        DisconnectReason::ServerNSDisconnect => "server_disconnect",
        DisconnectReason::ClosingServer => "closing_server",
    };
    metrics
        .counter_with(DISCONNECTS_TOTAL, "reason", label)
        .increment(1);
}

/// The client's address, when the server put it in the request (`ConnectInfo`).
fn peer_ip(s: &Socket) -> Option<IpAddr> {
    s.req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Handshake middleware: the caller must prove who it is (a valid token in `token`
/// mode; `auth.player` or nothing in `dev` mode), come from an allowed origin, and fit
/// under `MAX_CONNECTIONS` and `MAX_CONNECTIONS_PER_IP`.
///
/// A refusal's message starts with its code (`unauthorized: ...`, `token_expired: ...`,
/// `forbidden_origin: ...`, `server_full: ...`): socketioxide 0.18 sends a connect error
/// as `{message}` only, with no `data` object, so the code cannot travel in `data.code`.
fn authenticate(
    s: Socket,
    auth: Result<Option<HandshakeAuth>, socketioxide::ParserError>,
    authenticator: &Authenticator,
    admission: &Arc<Admission>,
) -> Result<(), AuthError> {
    let auth = match auth {
        Ok(a) => a.unwrap_or_default(),
        Err(_) => {
            return Err(AuthError(
                "unauthorized: auth must be an object like {\"token\": \"...\"}".into(),
            ));
        }
    };
    let origin = s
        .req_parts()
        .headers
        .get(ORIGIN)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    let identity = authenticator
        .handshake(&auth, origin, &s.id)
        .map_err(|f| AuthError(f.to_string()))?;
    let slot = admission
        .open(peer_ip(&s))
        .map_err(|e| AuthError(e.to_string()))?;
    s.extensions.insert(Arc::new(slot));
    s.extensions.insert(identity.player.clone());
    s.extensions.insert(Arc::new(identity));
    Ok(())
}
