//! Measures the Redis pub/sub round trip (`arena_redis_pubsub_roundtrip_seconds`): publish a
//! timestamp on this instance's own probe channel, time its arrival back. A message that
//! was published and never came back puts the subscriber in doubt: the driver refuses
//! publishes until it has re-subscribed (`adapter::ReconnectingDriver::subscriber_suspect`).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use socketioxide_redis::drivers::Driver;
use tokio_util::sync::CancellationToken;

use super::adapter::ReconnectingDriver;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::services::metrics::Metrics;

/// Probes every `every` until `shutdown`.
pub async fn run(
    driver: ReconnectingDriver,
    uid: String,
    metrics: Metrics,
    every: Duration,
    shutdown: CancellationToken,
) {
    let chan = crate::redis::keys::probe_channel(&uid);
    let mut stream = match driver.subscribe(chan.clone(), 16).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "pub/sub probe disabled: cannot subscribe");
            return;
        }
    };
    let base = Instant::now();
    let mut seq: u64 = 0;
    loop {
        if !sleep_unless_cancelled(every, &shutdown).await {
            break;
        }
        seq += 1;
        let sent = base.elapsed();
        let payload = format!("{seq}:{}", sent.as_nanos()).into_bytes();
        if driver.publish(chan.clone(), payload).await.is_err() {
            // Redis is away or the path is recovering (the driver's watchdog brings it
            // back); /ready says so.
            continue;
        }
        let wait = tokio::time::timeout(every * 2, async {
            while let Some((_, msg)) = stream.next().await {
                if msg.split(|b| *b == b':').next() == Some(seq.to_string().as_bytes()) {
                    return true;
                }
            }
            false
        });
        match wait.await {
            Ok(true) => metrics.pubsub_roundtrip.record(base.elapsed() - sent),
            _ => {
                // Published, yet not received: our subscriptions are in doubt even if no
                // disconnection was seen (a half-open connection says nothing).
                tracing::warn!("pub/sub probe message did not come back in time");
                driver.subscriber_suspect();
                let _ = driver.ping_subscriber().await;
            }
        }
    }
    let _ = driver.unsubscribe(chan).await;
}
