//! The Socket.IO namespace: the handshake, the `welcome`, and every socket event
//! registration. Each mode registers its own events in its `on_connect`, listed in
//! `modes::Settings::build`; this file is the twin of the HTTP router (`edge::http`).

use std::sync::Arc;
use std::time::Instant;

use metrics::Histogram;
use serde::{Deserialize, Serialize};
use socketioxide::extract::TryData;
use socketioxide::handler::ConnectHandler;

use crate::base::ids::PlayerId;
use crate::services::AppState;
use crate::services::mode::Mode;
use crate::services::realtime::{Io, Socket, player_of};

/// Errors while registering the namespace.
#[derive(Debug, thiserror::Error)]
#[error("socket.io namespace: {0}")]
pub struct NamespaceError(String);

/// The handshake payload: `auth: {player}`.
#[derive(Debug, Deserialize, Default)]
pub struct Auth {
    pub player: Option<String>,
}

/// Sent once on connect.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub instance_id: String,
    pub socket_id: String,
    pub player: String,
}

/// Why a handshake was refused (sent to the client as a connect error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(String);

/// Register the default namespace: every connection is authenticated, welcomed, and
/// handed to every mode.
pub async fn register(
    io: &Io,
    app: AppState,
    modes: Arc<[Arc<dyn Mode>]>,
) -> Result<(), NamespaceError> {
    let connect_duration = app.metrics.handler("connect");
    // An async closure: socketioxide takes only async connect handlers.
    let on_connect = move |s: Socket| {
        let (app, modes, connect_duration) = (app.clone(), modes.clone(), connect_duration.clone());
        async move { welcome(s, app, &modes, connect_duration) }
    };
    io.ns("/", on_connect.with(authenticate))
        .await
        .map_err(|e| NamespaceError(e.to_string()))
}

/// Count the client, send `welcome`, let every mode register its events.
fn welcome(s: Socket, app: AppState, modes: &[Arc<dyn Mode>], connect_duration: Histogram) {
    let start = Instant::now();
    app.metrics.client_connected();
    let _ = s.emit(
        "welcome",
        &Welcome {
            instance_id: app.instance_id.to_string(),
            socket_id: s.id.to_string(),
            player: player_of(&s).as_str().to_string(),
        },
    );
    for mode in modes.iter() {
        mode.on_connect(&s);
    }
    let metrics = app.metrics.clone();
    s.on_disconnect(move || async move { metrics.client_disconnected() });
    connect_duration.record(start.elapsed());
}

/// Handshake middleware: `auth.player` must be a valid id; no auth at all gets a guest id.
async fn authenticate(s: Socket, TryData(auth): TryData<Option<Auth>>) -> Result<(), AuthError> {
    let player = match auth {
        Ok(Some(Auth { player: Some(p) })) => {
            PlayerId::parse(&p).map_err(|e| AuthError(format!("auth.player: {}", e.message)))?
        }
        Ok(_) => PlayerId::guest(&s.id),
        Err(_) => {
            return Err(AuthError(
                "auth must be an object like {\"player\": \"id\"}".into(),
            ));
        }
    };
    s.extensions.insert(player);
    Ok(())
}
