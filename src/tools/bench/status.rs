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
    /// The server's process id (read from `/proc` with `--proc-cpu`; 0 when not given).
    #[serde(default)]
    pub pid: u32,
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

/// CPU seconds (user + system, every thread) of process `pid` from `/proc/<pid>/stat`,
/// read from outside the process: one method for servers that count their own CPU
/// differently (arena and the Node stack in `scripts/bench.sh side-by-side`).
pub fn proc_cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let bad = |why: String| BenchError::Protocol(format!("{path}: {why}"));
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let ticks = parse_stat_ticks(&text).ok_or_else(|| bad("unexpected format".into()))?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .ok_or_else(|| bad("no CLK_TCK".into()))?;
    Ok(ticks as f64 / hz as f64)
}

/// `utime + stime` (clock ticks) of a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces and parentheses, so fields count from the last `)`.
fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 (state) is index 0
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Replace each status's `cpu_seconds` with its process's figure from `/proc`.
pub fn with_proc_cpu(mut statuses: Vec<ServerStatus>) -> Result<Vec<ServerStatus>, BenchError> {
    for s in &mut statuses {
        if s.pid == 0 {
            return Err(BenchError::Status(
                s.instance_id.clone(),
                "--proc-cpu needs the pid in /status".into(),
            ));
        }
        s.cpu_seconds = proc_cpu_seconds(s.pid)?;
    }
    Ok(statuses)
}

/// Total server CPU seconds used between two `/status` snapshots.
pub fn cpu_between(before: &[ServerStatus], after: &[ServerStatus]) -> f64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.cpu_seconds - b.cpu_seconds)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_user_plus_system_ticks() {
        let line =
            "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 42 1000 200";
        assert_eq!(parse_stat_ticks(line), Some(325));
        assert_eq!(parse_stat_ticks("1234 (x) S 1"), None);
        assert_eq!(parse_stat_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_has_a_cpu_figure() {
        assert!(proc_cpu_seconds(std::process::id()).is_ok_and(|s| s >= 0.0));
        assert!(proc_cpu_seconds(u32::MAX).is_err());
    }
}
