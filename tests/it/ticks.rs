//! Ticks: exactly one `server_tick` per interval, seen by clients on every instance with
//! the same number, whatever the instances' start offsets.

use std::collections::BTreeMap;
use std::time::Duration;

use arena::base::clock::unix_ms;
use arena::tools::client::Client;

use crate::harness::{Arena, Instance, redis};

const TICK_MS: u64 = 300;

fn tweak(c: &mut arena::edge::config::Config) {
    c.modes.rooms.tick_ms = TICK_MS;
    c.services.lock_ttl_ms = 200;
}

/// Sleep until `frac` of the way into the next interval.
async fn until_phase(frac: f64) {
    let now = unix_ms();
    let target = (now / TICK_MS + 1) * TICK_MS + (TICK_MS as f64 * frac) as u64;
    tokio::time::sleep(Duration::from_millis(target - now)).await;
}

async fn check_exactly_one_per_interval(n_instances: usize) {
    let redis = redis();
    check_exactly_one_per_interval_on(&redis.url(), n_instances).await;
}

/// Exactly one tick per interval with `n_instances` on the Redis at `url` (also run on a
/// cluster, `cluster.rs`).
pub(crate) async fn check_exactly_one_per_interval_on(url: &str, n_instances: usize) {
    let mut instances = Vec::new();
    // Start each instance a different fraction into an interval.
    for i in 0..n_instances {
        until_phase(0.5 * i as f64 / n_instances as f64 + 0.1).await;
        let cfg = crate::harness::app::config(url, |c| {
            tweak(c);
            c.instance_id = Some(format!("i{i}"));
        });
        instances.push(Instance::start(cfg).await);
    }
    let arena = Arena { instances };
    let mut clients: Vec<Client> = Vec::new();
    for (i, inst) in arena.instances.iter().enumerate() {
        clients.push(inst.client(&format!("watcher{i}")).await);
    }
    // Counters at two mid-interval moments 12 intervals apart.
    until_phase(0.5).await;
    let n1 = unix_ms() / TICK_MS;
    let mut before = Vec::new();
    for inst in &arena.instances {
        before.push((
            inst.metric("arena_ticks_acquired_total").await,
            inst.metric("arena_ticks_skipped_total").await,
        ));
    }
    tokio::time::sleep(Duration::from_millis(TICK_MS * 12)).await;
    until_phase(0.5).await;
    let n2 = unix_ms() / TICK_MS;
    let mut acquired = 0.0;
    for (inst, (a0, s0)) in arena.instances.iter().zip(&before) {
        let a = inst.metric("arena_ticks_acquired_total").await - a0;
        let s = inst.metric("arena_ticks_skipped_total").await - s0;
        assert_eq!(
            a + s,
            (n2 - n1) as f64,
            "{}: acquired {a} + skipped {s} != intervals",
            inst.id
        );
        acquired += a;
    }
    assert_eq!(
        acquired,
        (n2 - n1) as f64,
        "exactly one winner per interval"
    );

    // Every client saw each interval in (n1, n2] exactly once, with the same winner.
    let mut seen: Vec<BTreeMap<u64, Vec<String>>> = Vec::new();
    for c in clients.iter_mut() {
        let mut by_tick: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for t in c.collect("server_tick", Duration::from_millis(50)).await {
            let tick = t["tick"].as_u64().expect("tick number");
            by_tick
                .entry(tick)
                .or_default()
                .push(t["instanceId"].as_str().unwrap_or("?").to_string());
        }
        seen.push(by_tick);
    }
    for n in n1 + 1..=n2 {
        let winners: Vec<&Vec<String>> = seen
            .iter()
            .map(|m| {
                m.get(&n)
                    .unwrap_or_else(|| panic!("interval {n} missing: {m:?}"))
            })
            .collect();
        for w in &winners {
            assert_eq!(w.len(), 1, "interval {n} ticked {} times: {w:?}", w.len());
            assert_eq!(w, &winners[0], "clients disagree on interval {n}");
        }
    }
    for m in &seen {
        for (n, w) in m {
            assert_eq!(w.len(), 1, "interval {n} ticked twice: {w:?}");
        }
    }
}

#[tokio::test]
async fn two_instances_started_apart_tick_once_per_interval() {
    check_exactly_one_per_interval(2).await;
}

#[tokio::test]
async fn three_instances_tick_once_per_interval() {
    check_exactly_one_per_interval(3).await;
}

#[tokio::test]
async fn an_interval_is_never_won_twice_even_after_its_lease_expires() {
    // A skewed clock reaching interval n after n's lease key expired must still lose.
    let redis = redis();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn =
        arena::redis::Conn::from(redis::aio::ConnectionManager::new(client).await.unwrap());
    assert!(
        arena::services::period::acquire(&mut conn, "tick", 100, "a", 20)
            .await
            .unwrap()
    );
    assert!(
        !arena::services::period::acquire(&mut conn, "tick", 100, "b", 20)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        !arena::services::period::acquire(&mut conn, "tick", 100, "b", 20)
            .await
            .unwrap()
    );
    assert!(
        !arena::services::period::acquire(&mut conn, "tick", 99, "b", 20)
            .await
            .unwrap()
    );
    assert!(
        arena::services::period::acquire(&mut conn, "tick", 101, "b", 20)
            .await
            .unwrap()
    );
}

/// A host whose clock runs 1.5 s ahead still ticks on the boundary of Redis's clock, and
/// when it dies another instance takes its intervals over within one interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_clock_ahead_ticks_on_the_boundary_of_redis_time() {
    const TICK: u64 = 500;
    let redis = redis();
    let start = |id: &str, skew_ms: i64| {
        crate::harness::app::config(&redis.url(), |c| {
            c.modes.rooms.tick_ms = TICK;
            c.services.lock_ttl_ms = 300;
            c.services.test_clock_skew_ms = skew_ms;
            c.instance_id = Some(id.to_string());
        })
    };
    // Alone, the skewed instance wins every interval: each tick must still come on the
    // boundary of Redis's clock (the host's real one here), not 1.5 s early.
    let ahead = Instance::start(start("ahead", 1500)).await;
    let mut watcher = ahead.client("watcher").await;
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    // The window opens at the first tick: on a loaded host the instance's first lease
    // can come a few intervals after the client connected, which is not what this tests.
    let first = watcher
        .next_event("server_tick", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(first["instanceId"], "ahead");
    seen.insert(first["tick"].as_u64().unwrap(), unix_ms());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(TICK * 10);
    while tokio::time::Instant::now() < deadline {
        let Ok(t) = watcher
            .next_event("server_tick", Duration::from_secs(2))
            .await
        else {
            continue;
        };
        assert_eq!(t["instanceId"], "ahead");
        seen.insert(t["tick"].as_u64().unwrap(), unix_ms());
    }
    assert!(seen.len() >= 7, "too few ticks: {seen:?}");
    for (n, arrived) in &seen {
        let boundary = n * TICK;
        assert!(
            *arrived >= boundary,
            "tick {n} arrived {} ms early",
            boundary - arrived
        );
        assert!(
            arrived - boundary < 250,
            "tick {n} arrived {} ms late",
            arrived - boundary
        );
    }
    let skew = ahead.metric("arena_clock_skew_seconds").await;
    assert!((1.4..1.6).contains(&skew), "skew gauge {skew}");

    // A second instance joins, then the skewed one stops: the first interval after the
    // stop is ticked by the other one.
    let normal = Instance::start(start("normal", 0)).await;
    let mut watcher = normal.client("watcher2").await;
    watcher
        .next_event("server_tick", Duration::from_secs(3))
        .await
        .unwrap();
    assert!(normal.metric("arena_clock_skew_seconds").await.abs() < 0.1);
    ahead.stop().await.unwrap();
    let stopped = unix_ms();
    let first_after = stopped / TICK + 1;
    loop {
        let t = watcher
            .next_event("server_tick", Duration::from_secs(3))
            .await
            .unwrap();
        let n = t["tick"].as_u64().unwrap();
        if n < first_after {
            continue; // sent before the stop
        }
        assert_eq!(n, first_after, "interval {first_after} was not ticked");
        assert_eq!(t["instanceId"], "normal");
        break;
    }
}
