//! `arena doctor` against real Redis servers: a sane one passes (exit 0, no critical
//! line); one that may evict keys, or is nearly out of client slots, fails naming why.

use std::process::Command;

use crate::harness::{RedisOptions, RedisServer, redis};

fn doctor(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["doctor", "--redis-url", url])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_sane_redis_passes_and_an_evicting_one_fails() {
    let good = RedisServer::start(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    })
    .unwrap();
    let (ok, text) = doctor(&good.url());
    assert!(ok, "{text}");
    assert!(!text.contains("CRITICAL"), "{text}");
    assert!(text.contains("appendonly yes"), "{text}");

    let evicting = RedisServer::start(RedisOptions {
        extra: vec!["--maxmemory-policy".into(), "allkeys-lru".into()],
        ..RedisOptions::default()
    })
    .unwrap();
    let (ok, text) = doctor(&evicting.url());
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("maxmemory-policy"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("allkeys-lru") && line.contains("CRITICAL"),
        "{line}"
    );
    assert!(text.contains("critical finding"), "{text}");
    // Without AOF the persistence line warns (not critical).
    assert!(
        text.lines()
            .any(|l| l.starts_with("persistence") && l.contains("WARNING")),
        "{text}"
    );
}

#[test]
fn nearly_out_of_client_slots_is_critical() {
    let r = redis();
    let mut c = redis::Client::open(r.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(2)
        .query(&mut c)
        .unwrap();
    let (ok, text) = doctor(&r.url());
    assert!(!ok, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("clients") && l.contains("CRITICAL")),
        "{text}"
    );
}

#[test]
fn an_unreachable_redis_is_one_clear_line() {
    let (ok, text) = doctor("redis://127.0.0.1:1");
    assert!(!ok);
    assert!(
        text.contains("cannot reach Redis at redis://127.0.0.1:1"),
        "{text}"
    );
}
