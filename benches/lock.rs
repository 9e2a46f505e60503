//! Redlock cost on loopback: acquire + release with 1 and 3 masters (Criterion means, then
//! p50/p99 over a fixed number of iterations), and the Redis commands that renewal costs
//! per held lease per second (INFO commandstats delta while leases are held).
//!
//! `cargo bench --bench lock` starts its own redis-server processes.

#![allow(clippy::unwrap_used)] // bench code: a panic is the failure report

use std::time::{Duration, Instant};

use arena::redis::Endpoint;
use arena::services::lock::{LockConfig, Redlock, Resource};
use arena::tools::redis_server::{RedisOptions, RedisServer};
use criterion::Criterion;
use hdrhistogram::Histogram;

/// Acquire + release iterations for the percentiles.
const ITERATIONS: u64 = 5_000;
/// Leases held at once, and for how long, for the renewal figure.
const LEASES: usize = 100;
const HOLD: Duration = Duration::from_secs(4);

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let servers: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::start(RedisOptions::default()).unwrap())
        .collect();
    let urls: Vec<Endpoint> = servers.iter().map(|s| Endpoint::plain(s.url())).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _runtime = rt.enter();
    let one = Redlock::new(&urls[..1], LockConfig::default()).unwrap();
    let three = Redlock::new(&urls, LockConfig::default()).unwrap();
    let r = Resource::parse("bench").unwrap();
    // Warm up the connections and the script cache.
    for lock in [&one, &three] {
        rt.block_on(async { lock.try_acquire(&r).await.unwrap().release().await });
    }

    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = c.benchmark_group("lock");
    for (name, lock) in [
        ("acquire_release/1_master", &one),
        ("acquire_release/3_masters", &three),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { lock.try_acquire(&r).await.unwrap().release().await })
        });
    }
    group.finish();
    c.final_summary();

    let n = if full { ITERATIONS } else { 100 };
    println!("\nacquire + release, {n} sequential iterations each (µs):");
    for (name, lock) in [("1 master", &one), ("3 masters", &three)] {
        let (acquire, release, both) = rt.block_on(percentiles(lock, &r, n));
        println!("  {name:9}  acquire {acquire}   release {release}   both {both}");
    }

    // One frozen master: acquisition returns at quorum; release waits the node timeout.
    servers[2].sigstop();
    let n_frozen = if full { 200 } else { 10 };
    let (acquire, release, _) = rt.block_on(percentiles(&three, &r, n_frozen));
    println!(
        "  3 masters, 1 frozen ({n_frozen} iterations)  acquire {acquire}   release {release}"
    );
    servers[2].sigcont();

    let hold = if full {
        HOLD
    } else {
        Duration::from_millis(500)
    };
    for ttl in [Duration::from_secs(1), Duration::from_secs(5)] {
        let cfg = LockConfig::default().with_ttl(ttl);
        let lock = Redlock::new(&urls, cfg).unwrap();
        let (calls, commands) = rt.block_on(renewal_overhead(&lock, &servers, hold));
        println!(
            "renewal, 3 masters, ttl {ttl:?} (renew every {:?}): {calls:.2} EVALSHA calls and \
             {commands:.2} Redis commands (incl. GET/PEXPIRE inside the script) per held lease \
             per second, all masters together",
            ttl / 3
        );
    }
}

struct Summary(Histogram<u64>);

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |q: f64| self.0.value_at_quantile(q) as f64 / 1000.0;
        write!(
            f,
            "p50 {:6.1}  p99 {:6.1}  max {:7.1}",
            us(0.5),
            us(0.99),
            self.0.max() as f64 / 1000.0
        )
    }
}

async fn percentiles(lock: &Redlock, r: &Resource, n: u64) -> (Summary, Summary, Summary) {
    let hist = || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let (mut acquire, mut release, mut both) = (hist(), hist(), hist());
    for _ in 0..n {
        let t0 = Instant::now();
        let lease = lock.try_acquire(r).await.unwrap();
        let t1 = Instant::now();
        lease.release().await;
        let t2 = Instant::now();
        acquire.record((t1 - t0).as_nanos() as u64).unwrap();
        release.record((t2 - t1).as_nanos() as u64).unwrap();
        both.record((t2 - t0).as_nanos() as u64).unwrap();
    }
    (Summary(acquire), Summary(release), Summary(both))
}

/// (EVALSHA calls, all commands) per held lease per second, summed over the masters.
async fn renewal_overhead(lock: &Redlock, servers: &[RedisServer], hold: Duration) -> (f64, f64) {
    let mut leases = Vec::new();
    for i in 0..LEASES {
        let r = Resource::parse(&format!("renewal-{i}")).unwrap();
        leases.push(lock.try_acquire(&r).await.unwrap());
    }
    let before = commandstats(servers).await;
    let started = Instant::now();
    tokio::time::sleep(hold).await;
    let after = commandstats(servers).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(leases.iter().all(|l| l.is_valid()), "a lease was lost");
    for l in leases {
        l.release().await;
    }
    let per = |a: u64, b: u64| (a - b) as f64 / LEASES as f64 / secs;
    (per(after.0, before.0), per(after.1, before.1))
}

/// Sum over the servers of (EVALSHA calls, calls of every command but INFO).
async fn commandstats(servers: &[RedisServer]) -> (u64, u64) {
    let (mut evalsha, mut all) = (0, 0);
    for s in servers {
        let mut conn = redis::Client::open(s.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .unwrap();
        for line in info.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let calls: u64 = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            match name {
                "cmdstat_info" | "cmdstat_hello" | "cmdstat_client|setinfo" => {}
                "cmdstat_evalsha" => {
                    evalsha += calls;
                    all += calls;
                }
                _ => all += calls,
            }
        }
    }
    (evalsha, all)
}
