//! What a failed room broadcast means for the client's ack: `unavailable` when nothing
//! was done (the driver refused or Redis refused, so no instance got the event, this one
//! included) and `timeout` when the outcome is unknown (the PUBLISH was sent and not
//! answered in time, or the connection failed while it was in flight; other instances
//! may still get the event).
//!
//! socketioxide wraps the driver's error twice (`BroadcastError::Adapter(AdapterError(
//! Box<socketioxide_redis::Error::Driver(DriverError)>))`), and neither wrapper names its
//! cause as `source()`, so [`driver_error`] downcasts the box to see through them.

use socketioxide::{AdapterError, BroadcastError};

use super::adapter::{DriverError, ReconnectingDriver};
use crate::base::error::{AckError, ErrorCode};
use crate::services::metrics::Metrics;

/// The adapter error as socketioxide-redis builds it over our driver.
type RedisAdapterError = socketioxide_redis::Error<ReconnectingDriver>;

/// The driver's error inside an adapter error, if that is what it holds.
pub fn driver_error(e: &AdapterError) -> Option<&DriverError> {
    match e.0.downcast_ref::<RedisAdapterError>()? {
        RedisAdapterError::Driver(d) => Some(d),
        _ => None,
    }
}

/// The ack of a broadcast whose adapter failed.
pub fn adapter_ack_error(e: &AdapterError) -> AckError {
    match driver_error(e) {
        Some(d) if !d.nothing_done() => AckError::new(
            ErrorCode::TIMEOUT,
            "outcome unknown: redis did not answer in time and may still deliver it; \
             retry only with the same id",
        ),
        // Refused before sending, refused by Redis, or not even encoded: nothing was done.
        _ => AckError::unavailable(),
    }
}

/// The outcome of a room broadcast, as the sender's ack: local receivers whose queues
/// were full are skipped and counted in `arena_client_send_dropped_total` (never
/// awaited); an adapter failure is `unavailable` when nothing was done and `timeout`
/// when the outcome is unknown; any other failure means it did not go out.
pub fn broadcast(
    metrics: &Metrics,
    what: &'static str,
    r: Result<(), BroadcastError>,
) -> Result<(), AckError> {
    match r {
        Ok(()) => Ok(()),
        Err(BroadcastError::Socket(errs)) => {
            metrics.client_send_dropped.increment(errs.len() as u64);
            Ok(())
        }
        Err(BroadcastError::Adapter(e)) => {
            let ack = adapter_ack_error(&e);
            tracing::warn!(error = %e, what, code = ack.code.as_str(), "broadcast failed");
            Err(ack)
        }
        Err(e) => {
            tracing::warn!(error = %e, what, "broadcast failed");
            Err(AckError::unavailable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::realtime::health::Refusal;

    fn wrap(d: DriverError) -> AdapterError {
        AdapterError::from(RedisAdapterError::Driver(d))
    }

    #[test]
    fn refused_is_unavailable_and_timed_out_is_timeout() {
        let refused = adapter_ack_error(&wrap(DriverError::Refused(Refusal::SubscriberDown)));
        assert_eq!(refused.code, ErrorCode::UNAVAILABLE);
        let unheard = adapter_ack_error(&wrap(DriverError::Unheard));
        assert_eq!(unheard.code, ErrorCode::UNAVAILABLE);
        let timed_out = adapter_ack_error(&wrap(DriverError::Timeout(
            std::time::Duration::from_millis(500),
        )));
        assert_eq!(timed_out.code, ErrorCode::TIMEOUT);
        let dropped = adapter_ack_error(&wrap(DriverError::from(redis::RedisError::from(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))));
        assert_eq!(dropped.code, ErrorCode::TIMEOUT);
        let refused_conn = adapter_ack_error(&wrap(DriverError::from(redis::RedisError::from(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))));
        assert_eq!(refused_conn.code, ErrorCode::UNAVAILABLE);
    }

    #[test]
    fn the_error_goes_through_the_broadcast_error() {
        let e = BroadcastError::Adapter(wrap(DriverError::Timeout(
            std::time::Duration::from_millis(1),
        )));
        let r = broadcast(&Metrics::new(), "test", Err(e));
        assert_eq!(r.unwrap_err().code, ErrorCode::TIMEOUT);
    }
}
