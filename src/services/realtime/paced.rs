//! Emitting to one socket whose queue may be full: wait for room instead of dropping.
//!
//! A live broadcast drops a frame for a socket whose queue (`CLIENT_BUFFER`) is full and
//! counts it; that is the price of one slow reader not holding up a room. A replay is
//! different: it sends a burst of what a client missed, often more than its queue holds,
//! and each of those frames is owed. So replays go socket by socket, each frame when the
//! socket's queue has room, giving up on a socket that takes nothing for `patience`.

use std::time::Duration;

use serde::Serialize;

use super::Socket;

/// Why a paced emit gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paced {
    /// The socket is gone.
    Closed,
    /// Its queue stayed full for the whole patience.
    Slow,
}

/// Emit once the socket's queue has room, waiting at most `patience`.
pub async fn emit_paced<T: Serialize + ?Sized>(
    s: &Socket,
    event: &str,
    data: &T,
    patience: Duration,
) -> Result<(), Paced> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut wait = Duration::from_millis(1);
    loop {
        match emit_now(s, event, data) {
            Err(Paced::Slow) => {
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(Paced::Slow);
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(50));
            }
            done => return done,
        }
    }
}

/// Emit without waiting: `Slow` when the socket's queue is full (the frame is not sent).
pub fn emit_now<T: Serialize + ?Sized>(s: &Socket, event: &str, data: &T) -> Result<(), Paced> {
    match s.emit(event, data) {
        Ok(()) => Ok(()),
        Err(socketioxide::SendError::Socket(socketioxide::SocketError::InternalChannelFull)) => {
            Err(Paced::Slow)
        }
        Err(_) => Err(Paced::Closed),
    }
}
