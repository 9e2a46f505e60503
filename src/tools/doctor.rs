//! `arena doctor`: checks a Redis (standalone or a Cluster node) for the settings and
//! states that break a fleet like arena's, and prints one verdict per line.
//!
//! The pitfalls come from real outages: an eviction policy that can evict a lock or a
//! claim stream, no persistence under exactly-once claims, scripts that stall a shard,
//! streams that grow without bound or consumers that died with entries pending, a
//! Cluster with uncovered slots, and "max number of clients reached".

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::redis::Conn;
use redis::{AsyncCommands, RedisError};

use crate::base::config::redact_url;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Ok,
    Info,
    Warning,
    /// `arena doctor` exits non-zero when any line is critical.
    Critical,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    pub check: &'static str,
    pub value: String,
    pub verdict: Verdict,
    /// What to do about it (empty when fine).
    pub advice: String,
}

/// Thresholds of the checks.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// The Redis to check (any node of a Cluster); a user that may run INFO, CONFIG GET
    /// and SLOWLOG (arena's own ACL user may not).
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = crate::services::settings::REDIS_URL,
        hide_env_values = true
    )]
    pub redis_url: String,
    /// TLS files for a `rediss://` URL.
    #[command(flatten)]
    pub tls: crate::services::settings::RedisTls,
    /// A stream longer than this many entries is reported (arena trims claim streams at
    /// HUNT_STREAM_MAXLEN).
    #[arg(long, default_value_t = crate::modes::hunt::STREAM_MAXLEN)]
    pub stream_max: u64,
    /// Pending entries per consumer group above this are reported.
    #[arg(long, default_value_t = 1000)]
    pub pending_max: u64,
    /// A script slower than this many milliseconds in the slow log stalls the shard.
    #[arg(long, default_value_t = 5)]
    pub script_ms: u64,
}

/// Why the doctor could not examine the server at all.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("cannot reach Redis at {url}: {source}")]
    Connect { url: String, source: RedisError },
    #[error(transparent)]
    Config(#[from] crate::base::config::ConfigError),
}

/// Run every check against `args.redis_url`.
pub async fn examine(args: &DoctorArgs) -> Result<Vec<Finding>, DoctorError> {
    let url = redact_url(&args.redis_url);
    let connect = |source| DoctorError::Connect {
        url: url.clone(),
        source,
    };
    // A cluster URL: examine its first reachable seed (a node's INFO, CONFIG and SLOWLOG
    // are its own; CLUSTER INFO and NODES describe the whole cluster).
    let endpoint = args
        .tls
        .endpoint(&args.redis_url)?
        .first_node(Duration::from_secs(5))
        .await
        .map_err(connect)?;
    let mut conn =
        crate::redis::command_connection(&endpoint, Duration::from_secs(5)).map_err(connect)?;
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query_async(&mut conn)
        .await
        .map_err(connect)?;
    let info = parse_info(&info);
    let mut out = Vec::new();
    version(&info, &mut out);
    persistence(&mut conn, &mut out).await;
    eviction(&mut conn, &mut out).await;
    clients(&mut conn, &info, &mut out).await;
    if info.get("cluster_enabled").map(String::as_str) == Some("1") {
        cluster(&mut conn, &mut out).await;
    } else {
        out.push(finding(
            "cluster",
            "standalone",
            Verdict::Info,
            "Redlock masters must be independent servers (REDLOCK_URLS), not Cluster masters",
        ));
    }
    streams(&mut conn, args, &mut out).await;
    slowlog(&mut conn, args, &mut out).await;
    Ok(out)
}

fn finding(
    check: &'static str,
    value: impl Into<String>,
    verdict: Verdict,
    advice: &str,
) -> Finding {
    Finding {
        check,
        value: value.into(),
        verdict,
        advice: advice.to_string(),
    }
}

/// `INFO` as a map of `field -> value` (section headers and blank lines skipped).
fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

async fn config_get(conn: &mut Conn, name: &str) -> Option<String> {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .ok()?;
    pair.get(1).cloned()
}

fn version(info: &HashMap<String, String>, out: &mut Vec<Finding>) {
    let v = info.get("redis_version").cloned().unwrap_or_default();
    let major: u32 = v
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    out.push(if major >= 7 {
        finding("redis version", v, Verdict::Ok, "")
    } else {
        finding(
            "redis version",
            v,
            Verdict::Warning,
            "Redis 7 or later is needed for sharded pub/sub (SSUBSCRIBE)",
        )
    });
}

async fn persistence(conn: &mut Conn, out: &mut Vec<Finding>) {
    let aof = config_get(conn, "appendonly").await.unwrap_or_default();
    let fsync = config_get(conn, "appendfsync").await.unwrap_or_default();
    out.push(match aof.as_str() {
        "yes" if fsync == "no" => finding(
            "persistence",
            format!("appendonly yes, appendfsync {fsync}"),
            Verdict::Warning,
            "appendfsync no can lose seconds of acknowledged claims on a crash: use everysec or always",
        ),
        "yes" => finding("persistence", format!("appendonly yes, appendfsync {fsync}"), Verdict::Ok, ""),
        _ => finding(
            "persistence",
            format!("appendonly {aof}, save \"{}\"", config_get(conn, "save").await.unwrap_or_default()),
            Verdict::Warning,
            "without AOF a restart loses acknowledged claims, fencing counters and battles: set appendonly yes",
        ),
    });
}

async fn eviction(conn: &mut Conn, out: &mut Vec<Finding>) {
    let policy = config_get(conn, "maxmemory-policy")
        .await
        .unwrap_or_default();
    let max = config_get(conn, "maxmemory").await.unwrap_or_default();
    let evicts = policy.starts_with("allkeys") || policy.starts_with("volatile");
    out.push(if evicts {
        finding(
            "maxmemory-policy",
            format!("{policy} (maxmemory {max})"),
            Verdict::Critical,
            "eviction can drop a lock, a fence, a claim stream or an owner hash: use noeviction",
        )
    } else {
        finding(
            "maxmemory-policy",
            format!("{policy} (maxmemory {max})"),
            Verdict::Ok,
            "",
        )
    });
}

async fn clients(conn: &mut Conn, info: &HashMap<String, String>, out: &mut Vec<Finding>) {
    let connected: u64 = info
        .get("connected_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: u64 = config_get(conn, "maxclients")
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let share = if max == 0 {
        0.0
    } else {
        connected as f64 / max as f64
    };
    let value = format!("{connected} of maxclients {max}");
    out.push(if share >= 0.95 {
        finding(
            "clients",
            value,
            Verdict::Critical,
            "almost at maxclients: new connections fail with \"max number of clients reached\"",
        )
    } else if share >= 0.8 {
        finding(
            "clients",
            value,
            Verdict::Warning,
            "raise maxclients or pool connections",
        )
    } else {
        finding("clients", value, Verdict::Ok, "")
    });
}

async fn cluster(conn: &mut Conn, out: &mut Vec<Finding>) {
    let text: String = match redis::cmd("CLUSTER").arg("INFO").query_async(conn).await {
        Ok(t) => t,
        Err(e) => {
            out.push(finding(
                "cluster",
                format!("CLUSTER INFO failed: {e}"),
                Verdict::Critical,
                "",
            ));
            return;
        }
    };
    let info = parse_info(&text);
    let state = info.get("cluster_state").cloned().unwrap_or_default();
    let ok_slots: u64 = info
        .get("cluster_slots_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    out.push(if state == "ok" && ok_slots == 16384 {
        finding(
            "cluster slots",
            format!("state {state}, {ok_slots}/16384 ok"),
            Verdict::Ok,
            "",
        )
    } else {
        finding(
            "cluster slots",
            format!("state {state}, {ok_slots}/16384 ok"),
            Verdict::Critical,
            "slots are not all served: keys in them fail with CLUSTERDOWN",
        )
    });
    let timeout = config_get(conn, "cluster-node-timeout")
        .await
        .unwrap_or_default();
    let ms: u64 = timeout.parse().unwrap_or(0);
    out.push(if ms > 5000 {
        finding(
            "cluster-node-timeout",
            format!("{ms} ms"),
            Verdict::Warning,
            "a failover takes about this long plus an election: broadcasts and claims stall meanwhile",
        )
    } else {
        finding("cluster-node-timeout", format!("{ms} ms"), Verdict::Ok, "")
    });
    let full = config_get(conn, "cluster-require-full-coverage")
        .await
        .unwrap_or_default();
    out.push(finding(
        "cluster-require-full-coverage",
        full.clone(),
        if full == "yes" {
            Verdict::Info
        } else {
            Verdict::Ok
        },
        if full == "yes" {
            "with yes, one uncovered slot stops the whole cluster"
        } else {
            ""
        },
    ));
}

async fn streams(conn: &mut Conn, args: &DoctorArgs, out: &mut Vec<Finding>) {
    let mut keys: Vec<String> = Vec::new();
    let mut iter: redis::AsyncIter<String> = match conn.scan_match("arena:*").await {
        Ok(it) => it,
        Err(_) => return,
    };
    while let Some(k) = iter.next_item().await {
        if let Ok(k) = k {
            keys.push(k);
        }
        if keys.len() > 100_000 {
            break;
        }
    }
    drop(iter);
    let mut streams = 0;
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap_or_default();
        if kind != "stream" {
            continue;
        }
        streams += 1;
        let len: u64 = conn.xlen(&key).await.unwrap_or(0);
        if len > args.stream_max {
            out.push(finding(
                "stream length",
                format!("{key}: {len} entries"),
                Verdict::Warning,
                "longer than the configured cap: check that XADD trims (MAXLEN ~)",
            ));
        }
        let groups: redis::streams::StreamInfoGroupsReply = match conn.xinfo_groups(&key).await {
            Ok(g) => g,
            Err(_) => continue,
        };
        for g in groups.groups {
            if g.pending as u64 > args.pending_max {
                out.push(finding(
                    "pending entries",
                    format!("{key} group {}: {} pending", g.name, g.pending),
                    Verdict::Warning,
                    "a consumer died or stalls: entries wait for XAUTOCLAIM",
                ));
            }
            let consumers: redis::streams::StreamInfoConsumersReply =
                match conn.xinfo_consumers(&key, &g.name).await {
                    Ok(c) => c,
                    Err(_) => continue,
                };
            for c in consumers.consumers {
                if c.idle > 3_600_000 && c.pending > 0 {
                    out.push(finding(
                        "idle consumer",
                        format!("{key} {}: idle {} s, {} pending", c.name, c.idle / 1000, c.pending),
                        Verdict::Warning,
                        "an old consumer holds entries: delete it (XGROUP DELCONSUMER) once reclaimed",
                    ));
                }
            }
        }
    }
    out.push(finding(
        "streams",
        format!("{streams} arena streams"),
        Verdict::Ok,
        "",
    ));
}

async fn slowlog(conn: &mut Conn, args: &DoctorArgs, out: &mut Vec<Finding>) {
    // Each entry: [id, timestamp, duration µs, [command, args...], client, name].
    let entries: Vec<redis::Value> = match redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(128)
        .query_async(conn)
        .await
    {
        Ok(e) => e,
        Err(_) => return,
    };
    let mut slow = 0;
    let mut worst_us = 0i64;
    for e in &entries {
        let redis::Value::Array(fields) = e else {
            continue;
        };
        let (Some(redis::Value::Int(us)), Some(redis::Value::Array(cmd))) =
            (fields.get(2), fields.get(3))
        else {
            continue;
        };
        let name = match cmd.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).to_uppercase(),
            _ => continue,
        };
        if name.starts_with("EVAL") && *us > (args.script_ms * 1000) as i64 {
            slow += 1;
            worst_us = worst_us.max(*us);
        }
    }
    out.push(if slow > 0 {
        finding(
            "slow scripts",
            format!(
                "{slow} scripts over {} ms (worst {:.1} ms)",
                args.script_ms,
                worst_us as f64 / 1000.0
            ),
            Verdict::Warning,
            "a script that runs this long stalls every client of the shard",
        )
    } else {
        finding(
            "slow scripts",
            format!("none over {} ms", args.script_ms),
            Verdict::Ok,
            "",
        )
    });
}

/// The report as a table, one finding per line.
pub fn render(findings: &[Finding]) -> String {
    let w_check = findings
        .iter()
        .map(|f| f.check.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let w_value = findings
        .iter()
        .map(|f| f.value.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 60);
    let mut s = format!(
        "{:<w_check$}  {:<w_value$}  {:<8}  advice\n",
        "check", "value", "verdict"
    );
    for f in findings {
        s.push_str(&format!(
            "{:<w_check$}  {:<w_value$}  {:<8}  {}\n",
            f.check,
            f.value,
            f.verdict.to_string(),
            f.advice
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed_into_fields() {
        let m = parse_info(
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n",
        );
        assert_eq!(m["redis_version"], "7.0.15");
        assert_eq!(m["connected_clients"], "3");
    }

    #[test]
    fn verdicts_order_by_severity() {
        assert!(Verdict::Critical > Verdict::Warning);
        assert!(Verdict::Warning > Verdict::Info);
        let f = vec![finding("x", "y", Verdict::Critical, "fix it")];
        assert!(render(&f).contains("CRITICAL  fix it"));
    }
}
