//! Honest acks under Redis faults: an attack acked `ok` reached every instance, one acked
//! `unavailable` reached none (nothing was done), one whose outcome is unknown is acked
//! `timeout`; and every drop on the cross-instance path is counted.
//!
//! Two instances exchange attacks (a sender and a receiver on each) while Redis is
//! restarted or frozen; every attack carries its own `id`, and receivers count what they
//! got by `eventId`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use arena::tools::client::Client;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::harness::rooms::stuck_reader;
use crate::harness::{Arena, RoomsClient, eventually, redis};

const WAIT: Duration = Duration::from_secs(5);
/// Pause between two attacks of one sender (well under the per-connection event rate).
const PACE: Duration = Duration::from_millis(15);

/// One attack as its sender saw it: its id, the phase of the fault it was sent in, and
/// its ack's outcome (`ok` or the error code).
#[derive(Debug, Clone)]
struct Sent {
    id: String,
    phase: u8,
    code: String,
}

/// Senders attacking room `r` until stopped; the phase is set by the test.
struct Exchange {
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
    senders: Vec<JoinHandle<Vec<Sent>>>,
}

impl Exchange {
    fn start(senders: Vec<(Client, &'static str)>) -> Exchange {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicU8::new(0));
        let senders = senders
            .into_iter()
            .map(|(client, prefix)| {
                let (stop, phase) = (stop.clone(), phase.clone());
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let id = format!("{prefix}-{n}");
                        let at = phase.load(Ordering::Relaxed);
                        let ack = client.attack_with("r", 1, &json!({ "id": id })).await;
                        let code = if ack["ok"] == json!(true) {
                            "ok".to_string()
                        } else {
                            ack["error"]["code"].as_str().unwrap_or("?").to_string()
                        };
                        sent.push(Sent {
                            id,
                            phase: at,
                            code,
                        });
                        tokio::time::sleep(PACE).await;
                    }
                    sent
                })
            })
            .collect();
        Exchange {
            stop,
            phase,
            senders,
        }
    }

    fn phase(&self, p: u8) {
        self.phase.store(p, Ordering::Relaxed);
    }

    async fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for s in self.senders {
            all.extend(s.await.unwrap());
        }
        all
    }
}

/// The `eventId`s of every attack `c` received (waiting until none arrived for `quiet`).
async fn received(c: &mut Client, quiet: Duration) -> HashSet<String> {
    c.collect("attack", quiet)
        .await
        .iter()
        .filter_map(|v| v["eventId"].as_str().map(str::to_string))
        .collect()
}

/// Outcomes by (phase, code), for the failure message and the log.
fn tally(sent: &[Sent]) -> BTreeMap<(u8, String), usize> {
    let mut t = BTreeMap::new();
    for s in sent {
        *t.entry((s.phase, s.code.clone())).or_default() += 1;
    }
    t
}

fn count(sent: &[Sent], phases: &[u8], code: &str) -> usize {
    sent.iter()
        .filter(|s| phases.contains(&s.phase) && s.code == code)
        .count()
}

/// Two instances, each with a sender and a receiver in room `r`; an attack from each
/// side has crossed before this returns.
async fn two_sides(redis_url: &str) -> (Arena, [Client; 2], [Client; 2]) {
    let arena = Arena::spawn(redis_url, 2).await;
    let recv0 = arena[0].client_in("recv0", "r").await;
    let mut recv1 = arena[1].client_in("recv1", "r").await;
    let send0 = arena[0].client_in("send0", "r").await;
    let send1 = arena[1].client_in("send1", "r").await;
    // The id a client gives is the broadcast's eventId; without one the server makes one.
    let ack = send0.attack_with("r", 1, &json!({"id": "warm"})).await;
    assert_eq!(ack, json!({"ok": true}));
    let got = recv1.next_event("attack", WAIT).await.unwrap();
    assert_eq!(got["eventId"], "warm", "{got}");
    let ack = send1.attack("r", 1).await;
    assert_eq!(ack, json!({"ok": true}));
    let got = recv1.next_event("attack", WAIT).await.unwrap();
    let made = got["eventId"].as_str().unwrap_or_default();
    assert!(made.starts_with("s-"), "server-made eventId: {got}");
    let mut recv = [recv0, recv1];
    for r in &mut recv {
        r.collect("attack", Duration::from_millis(300)).await;
    }
    (arena, [send0, send1], recv)
}

#[tokio::test]
async fn every_ok_acked_attack_reaches_the_other_instance_across_a_redis_restart() {
    let mut redis = redis();
    let (arena, [send0, send1], [mut recv0, mut recv1]) = two_sides(&redis.url()).await;
    let ex = Exchange::start(vec![(send0, "a"), (send1, "b")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    ex.phase(1);
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    ex.phase(2);
    redis.restart().expect("restart redis");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sent = ex.finish().await;

    let quiet = Duration::from_millis(800);
    let at = [
        received(&mut recv0, quiet).await,
        received(&mut recv1, quiet).await,
    ];
    let t = tally(&sent);
    eprintln!("restart: outcomes by (phase, code): {t:?}");
    for s in &sent {
        // A sender on instance 0 sends "a-*"; the other instance is 1.
        let other = usize::from(s.id.starts_with('a'));
        match s.code.as_str() {
            "ok" => {
                assert!(
                    at[other].contains(&s.id),
                    "{} was acked ok but instance {other} never got it; {t:?}",
                    s.id
                );
                assert!(
                    at[1 - other].contains(&s.id),
                    "{} not delivered locally",
                    s.id
                );
            }
            "unavailable" | "rate_limited" => assert!(
                !at[0].contains(&s.id) && !at[1].contains(&s.id),
                "{} was acked {} (nothing was done) yet delivered; {t:?}",
                s.id,
                s.code
            ),
            _ => {}
        }
    }
    assert!(
        count(&sent, &[0], "ok") > 0,
        "no attack before the kill: {t:?}"
    );
    assert!(
        count(&sent, &[1, 2], "unavailable") > 0,
        "no attack was refused while Redis was away: {t:?}"
    );
    assert!(
        count(&sent, &[2], "ok") > 0,
        "attacks did not resume after the restart: {t:?}"
    );
    assert!(arena[1].metric("arena_pubsub_reconnects_total").await >= 1.0);
    assert_eq!(arena[0].metric("arena_pubsub_live").await, 1.0);
}

#[tokio::test]
async fn no_attack_acked_unavailable_during_a_redis_stall_is_ever_delivered() {
    let redis = redis();
    let (arena, [send0, send1], [mut recv0, mut recv1]) = two_sides(&redis.url()).await;
    let ex = Exchange::start(vec![(send0, "a"), (send1, "b")]);
    tokio::time::sleep(Duration::from_secs(1)).await;

    ex.phase(1);
    redis.sigstop();
    tokio::time::sleep(Duration::from_secs(5)).await;
    redis.sigcont();
    ex.phase(2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = ex.finish().await;

    let quiet = Duration::from_millis(1000);
    let at = [
        received(&mut recv0, quiet).await,
        received(&mut recv1, quiet).await,
    ];
    let t = tally(&sent);
    eprintln!("stall: outcomes by (phase, code): {t:?}");
    let codes: BTreeMap<&str, &str> = sent
        .iter()
        .map(|s| (s.id.as_str(), s.code.as_str()))
        .collect();
    // Whatever was delivered was acked ok, or timeout (outcome unknown): never a code that
    // says nothing was done.
    for id in at[0].iter().chain(&at[1]) {
        let code = codes.get(id.as_str()).copied().unwrap_or("ok");
        assert!(
            code == "ok" || code == "timeout",
            "{id} was acked {code} yet delivered; {t:?}"
        );
    }
    for s in sent.iter().filter(|s| s.code == "ok") {
        assert!(
            at[0].contains(&s.id) && at[1].contains(&s.id),
            "{} was acked ok but not delivered everywhere; {t:?}",
            s.id
        );
    }
    assert!(
        count(&sent, &[1], "unavailable") > 0,
        "no attack was refused during the stall: {t:?}"
    );
    assert!(
        count(&sent, &[0, 1], "timeout") > 0,
        "no attack was in flight when Redis froze: {t:?}"
    );
    assert!(
        count(&sent, &[2], "ok") > 0,
        "attacks did not resume after the stall: {t:?}"
    );
    let timeouts = arena[0]
        .metric(r#"arena_event_errors_total{code="timeout"}"#)
        .await
        + arena[1]
            .metric(r#"arena_event_errors_total{code="timeout"}"#)
            .await;
    assert_eq!(timeouts as usize, count(&sent, &[0, 1, 2], "timeout"));
}

#[tokio::test]
async fn drops_for_a_slow_client_of_another_instance_are_counted() {
    let redis = redis();
    let arena = Arena::spawn_with(&redis.url(), 2, |c| {
        c.services.client_buffer = 16;
        // The sender sends more than a player's burst: lift its event rate.
        c.services.limits.socket_event_rate = 100_000;
        c.services.limits.socket_event_burst = 100_000;
    })
    .await;
    // A raw client on instance 1 that joins, then never reads again.
    let stuck = stuck_reader(&arena[1], "r", Some(4096)).await;
    let mut fast = arena[1].client_in("fast", "r").await;
    let sender = arena[0].client_in("sender", "r").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Enough to overflow the stuck client's queue even after the kernel's send buffer
    // (autotuned up to a few MB on loopback) has taken what it can: 400 x 32 KiB.
    let pad = "p".repeat(32 * 1024);
    let n = 400;
    for i in 0..n {
        let ack = sender
            .attack_with("r", 1, &json!({"i": i, "pad": pad}))
            .await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
    for i in 0..n {
        let got: Value = fast.next_event("attack", WAIT).await.unwrap();
        assert_eq!(
            got["i"],
            json!(i),
            "the fast client gets everything, in order"
        );
    }
    // The stuck client's queue on instance 1 overflowed with broadcasts from instance 0:
    // counted there, as cross-instance drops and as client drops.
    let remote = eventually(WAIT, "cross-instance drops to be counted", || async {
        let v = arena[1].metric("arena_pubsub_client_dropped_total").await;
        (v > 0.0).then_some(v)
    })
    .await;
    assert!(arena[1].metric("arena_client_send_dropped_total").await >= remote);
    assert_eq!(
        arena[0].metric("arena_pubsub_client_dropped_total").await,
        0.0
    );
    assert_eq!(arena[1].metric("arena_pubsub_dropped_total").await, 0.0);
    drop(stuck);
}
