//! The servers' own view of a run: their `/status` (memory, CPU, clients), read before
//! and after a scenario. Its own file as the one place the bench talks HTTP to a server.

use serde::Deserialize;

use super::common::BenchError;
use crate::tools::http_client::http_get;

/// What `/status` says about a server's resource use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub instance_id: String,
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    #[serde(default)]
    pub connected_clients: i64,
    #[serde(default)]
    pub tick_ms: u64,
}

/// `/status` of every target, in order.
pub async fn statuses(addrs: &[String]) -> Result<Vec<ServerStatus>, BenchError> {
    let mut out = Vec::new();
    for a in addrs {
        let (code, body) = http_get(a, "/status")
            .await
            .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?;
        if code != 200 {
            return Err(BenchError::Status(a.clone(), format!("HTTP {code}")));
        }
        out.push(
            serde_json::from_str(&body)
                .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?,
        );
    }
    Ok(out)
}

/// Total server CPU seconds used between two `/status` snapshots.
pub fn cpu_between(before: &[ServerStatus], after: &[ServerStatus]) -> f64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.cpu_seconds - b.cpu_seconds)
        .sum()
}
