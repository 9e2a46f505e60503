//! Redlock: quorum over real masters (killed, frozen), holder-only release and extend,
//! renewal and the lost-lease signal, fencing, and a randomized check that fenced
//! read-modify-writes under the lock from two instances never lose or add an update.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arena::redis::Conn;
use arena::redis::{Endpoint, keys};
use arena::services::lock::scripts;
use arena::services::lock::{
    FencedOutcome, LockConfig, LockError, LossReason, Redlock, Resource, fenced_incr_by, fenced_set,
};
use redis::AsyncCommands;
use tokio::time::{Instant, timeout};

use crate::harness::{RedisServer, eventually, redis};

const NODE_TIMEOUT: Duration = Duration::from_millis(50);
/// Scheduling slack on a busy 2-core machine running other tests.
const SLACK: Duration = Duration::from_millis(150);

fn masters(n: usize) -> Vec<RedisServer> {
    (0..n).map(|_| redis()).collect()
}

fn urls(servers: &[RedisServer]) -> Vec<Endpoint> {
    servers.iter().map(|s| Endpoint::plain(s.url())).collect()
}

fn config(ttl_ms: u64) -> LockConfig {
    LockConfig::default()
        .with_ttl(Duration::from_millis(ttl_ms))
        .with_node_timeout(NODE_TIMEOUT)
}

fn redlock(servers: &[RedisServer], cfg: LockConfig) -> Redlock {
    Redlock::new(&urls(servers), cfg).unwrap()
}

fn conn(server: &RedisServer) -> Conn {
    arena::redis::command_connection(&Endpoint::plain(server.url()), Duration::from_secs(2))
        .unwrap()
}

async fn get(server: &RedisServer, key: &str) -> Option<String> {
    conn(server).get(key).await.unwrap()
}

/// Wait until every server holds `key` = `token`: a round returns at quorum and the last
/// copies land just after.
async fn held_everywhere(servers: &[RedisServer], key: &str, token: &str) {
    for s in servers {
        eventually(
            Duration::from_secs(1),
            "every master to hold the lease",
            || async { (get(s, key).await.as_deref() == Some(token)).then_some(()) },
        )
        .await;
    }
}

fn res(name: &str) -> Resource {
    Resource::parse(name).unwrap()
}

#[tokio::test]
async fn acquired_with_one_of_three_masters_killed() {
    let mut servers = masters(3);
    servers[2].kill();
    let lock = redlock(&servers, config(2000));
    let r = res("one-down");
    let lease = lock.try_acquire(&r).await.expect("2 of 3 is a quorum");
    assert!(lease.is_valid());
    assert_eq!(lease.fencing_token(), 1);
    for s in &servers[..2] {
        assert_eq!(
            get(s, &keys::lock_lease("one-down")).await.as_deref(),
            Some(lease.token())
        );
    }
    let released = lease.release().await;
    assert_eq!((released.deleted, released.failed), (2, 1));
    assert_eq!(get(&servers[0], &keys::lock_lease("one-down")).await, None);
}

#[tokio::test]
async fn refused_quickly_with_a_clear_error_when_two_of_three_are_killed() {
    let mut servers = masters(3);
    servers[1].kill();
    servers[2].kill();
    let lock = redlock(&servers, config(2000));
    let r = res("two-down");

    let started = Instant::now();
    let e = lock.try_acquire(&r).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        e.to_string()
            .starts_with("quorum not reached: 1 of 3 masters granted the lock (need 2;"),
        "{e}"
    );
    assert!(matches!(e, LockError::NoQuorum { failed: 2, .. }), "{e:?}");
    assert!(!e.is_contended());
    assert!(took < NODE_TIMEOUT + SLACK, "refusal took {took:?}");

    // The failed attempt gives back what it took on the surviving master.
    eventually(
        Duration::from_secs(2),
        "the partial lease to be released",
        || async {
            get(&servers[0], &keys::lock_lease("two-down"))
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;

    // With retries: gives up at the deadline, naming the last reason.
    let started = Instant::now();
    let e = lock
        .acquire_within(&r, Duration::from_millis(300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, LockError::NotAcquired { .. }), "{e:?}");
    assert!(e.to_string().contains("quorum not reached: 1 of 3"), "{e}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(300) + SLACK * 2,
        "gave up after {took:?}"
    );
}

#[tokio::test]
async fn a_frozen_master_delays_acquisition_by_at_most_the_node_timeout() {
    let mut servers = masters(3);
    let lock = redlock(&servers, config(2000));
    let r = res("frozen");
    // Connect to every master first: a frozen master must cost a response timeout, not a
    // connection attempt.
    lock.try_acquire(&r).await.unwrap().release().await;

    // One frozen master: the other two make the quorum, nobody waits for the third.
    servers[2].sigstop();
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        let lease = lock.try_acquire(&r).await.expect("2 of 3 answer");
        slowest = slowest.max(started.elapsed());
        let released = lease.release().await;
        assert_eq!((released.deleted, released.failed), (2, 1));
    }
    assert!(
        slowest < NODE_TIMEOUT + SLACK,
        "one frozen master delayed acquisition by {slowest:?}"
    );

    // The quorum needs the frozen master: refused after one node timeout, not more.
    servers[1].kill();
    let started = Instant::now();
    let e = lock.try_acquire(&r).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            e,
            LockError::NoQuorum {
                granted: 1,
                failed: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        took >= NODE_TIMEOUT && took < NODE_TIMEOUT + SLACK,
        "refused after {took:?}"
    );
    servers[2].sigcont();
}

#[tokio::test]
async fn a_foreign_token_can_neither_release_nor_extend() {
    let servers = masters(3);
    let lock = redlock(&servers, config(2000).with_renewal(None));
    let lease = lock.try_acquire(&res("mine")).await.unwrap();
    let key = keys::lock_lease("mine");
    held_everywhere(&servers, &key, lease.token()).await;
    for s in &servers {
        let mut c = conn(s);
        assert!(
            !scripts::lock_release(&mut c, &key, "foreign")
                .await
                .unwrap()
        );
        assert!(
            !scripts::lock_extend(&mut c, &key, "foreign", 60_000)
                .await
                .unwrap()
        );
        let held: Option<String> = c.get(&key).await.unwrap();
        assert_eq!(held.as_deref(), Some(lease.token()));
        let pttl: i64 = c.pttl(&key).await.unwrap();
        assert!(
            (1..=2000).contains(&pttl),
            "foreign extend changed the TTL: {pttl}"
        );
        // The holder's own token does extend.
        assert!(
            scripts::lock_extend(&mut c, &key, lease.token(), 3000)
                .await
                .unwrap()
        );
        let pttl: i64 = c.pttl(&key).await.unwrap();
        assert!(pttl > 2000, "{pttl}");
    }
    assert_eq!(lease.release().await.deleted, 3);
}

#[tokio::test]
async fn a_lapsed_holder_cannot_release_the_next_holders_lock() {
    let servers = masters(3);
    let a = redlock(&servers, config(200).with_renewal(None));
    let b = redlock(&servers, config(2000));
    let r = res("lapsed");
    let old = a.try_acquire(&r).await.unwrap();
    timeout(Duration::from_secs(1), old.lost())
        .await
        .expect("an unrenewed lease is signalled lost");
    assert_eq!(old.loss(), Some(LossReason::Expired));
    assert!(!old.is_valid());
    let new = b.acquire_within(&r, Duration::from_secs(2)).await.unwrap();
    assert!(new.fencing_token() > old.fencing_token());

    // The old holder's release deletes at most a leftover copy of its own, never the
    // new holder's.
    let released = old.release().await;
    assert!(released.deleted <= 1, "{released:?}");
    let mut held = 0;
    for srv in &servers {
        if let Some(t) = get(srv, &keys::lock_lease("lapsed")).await {
            assert_eq!(t, new.token());
            held += 1;
        }
    }
    assert!(held >= 2, "the new holder's quorum is intact: {held}");
    assert!(new.is_valid());
}

#[tokio::test]
async fn a_held_lock_is_refused_at_once_and_acquire_until_waits_for_its_release() {
    let servers = masters(3);
    let a = redlock(&servers, config(2000));
    let b = redlock(&servers, config(2000));
    let r = res("contended");
    let held = a.try_acquire(&r).await.unwrap();
    held_everywhere(&servers, &keys::lock_lease("contended"), held.token()).await;

    let e = b.try_acquire(&r).await.unwrap_err();
    assert!(e.is_contended(), "{e}");
    assert!(
        e.to_string()
            .starts_with("quorum not reached: 0 of 3 masters granted the lock (need 2; 3 held"),
        "{e}"
    );

    let waiter = tokio::spawn({
        let (b, r) = (b.clone(), r.clone());
        async move { b.acquire_within(&r, Duration::from_secs(3)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = held.fencing_token();
    held.release().await;
    let next = timeout(Duration::from_secs(3), waiter)
        .await
        .unwrap()
        .unwrap()
        .expect("acquired after the release");
    assert!(next.fencing_token() > first);
}

#[tokio::test]
async fn dropping_a_lease_releases_it() {
    let servers = masters(3);
    let lock = redlock(&servers, config(5000));
    let r = res("dropped");
    drop(lock.try_acquire(&r).await.unwrap());
    // Well before the 5 s TTL.
    let lease = eventually(
        Duration::from_secs(1),
        "the lock to be free again",
        || async { lock.try_acquire(&r).await.ok() },
    )
    .await;
    assert_eq!(lease.fencing_token(), 2);
}

#[tokio::test]
async fn renewal_keeps_a_lease_valid_for_five_ttls_even_with_a_frozen_master() {
    let servers = masters(3);
    let ttl = Duration::from_millis(200);
    let lock = redlock(&servers, config(200));
    let rival = redlock(&servers, config(200));
    let r = res("renewed");
    let lease = lock.try_acquire(&r).await.unwrap();
    held_everywhere(&servers, &keys::lock_lease("renewed"), lease.token()).await;
    let half = Instant::now() + ttl * 3;
    let until = Instant::now() + ttl * 6;
    let mut frozen = false;
    while Instant::now() < until {
        if !frozen && Instant::now() >= half {
            // From here on renewals reach only two masters: still a quorum.
            servers[2].sigstop();
            frozen = true;
        }
        assert!(lease.is_valid(), "lease went invalid: {:?}", lease.loss());
        let e = rival.try_acquire(&r).await.unwrap_err();
        assert!(matches!(e, LockError::NoQuorum { granted: 0, .. }), "{e}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(lease.loss(), None);
    assert!(lease.remaining() > ttl / 3, "{:?}", lease.remaining());
    assert_eq!(lease.release().await.deleted, 2);
    servers[2].sigcont();
    rival
        .acquire_within(&r, Duration::from_secs(2))
        .await
        .expect("free after release");
}

#[tokio::test]
async fn timing_blocked_renewal_signals_loss_and_the_stale_holder_cannot_commit() {
    let servers = masters(3);
    let ttl = Duration::from_millis(300);
    let a = redlock(&servers, config(300));
    let b = redlock(&servers, config(2000));
    let r = res("blocked");
    let data = r.data_key("record");

    let acquired = Instant::now();
    let old = a.try_acquire(&r).await.unwrap();
    // Masters 1 and 2 freeze: renewals reach only master 0, no quorum.
    servers[1].sigstop();
    servers[2].sigstop();
    timeout(ttl + SLACK, old.lost())
        .await
        .expect("lost-lease signal");
    let lost_after = acquired.elapsed();
    assert!(
        lost_after < ttl,
        "signalled after {lost_after:?}, past the validity"
    );
    assert_eq!(old.loss(), Some(LossReason::Expired));
    assert!(!old.is_valid());
    assert_eq!(old.remaining(), Duration::ZERO);
    servers[1].sigcont();
    servers[2].sigcont();

    // Another holder takes over (once the frozen masters' copies expire) and commits.
    let new = b.acquire_within(&r, Duration::from_secs(3)).await.unwrap();
    assert!(new.fencing_token() > old.fencing_token());
    assert_eq!(
        new.fenced_set(&data, "new").await.unwrap(),
        FencedOutcome::Committed(())
    );
    // The paused holder wakes up and tries to commit: refused, nothing written.
    assert_eq!(
        old.fenced_set(&data, "old").await.unwrap(),
        FencedOutcome::Stale {
            newest: new.fencing_token()
        }
    );
    assert_eq!(get(&servers[0], &data).await.as_deref(), Some("new"));
    // Releasing the old lease deletes only its own copies (master 0 may still have one:
    // renewals kept reaching it), never the new holder's.
    old.release().await;
    let mut held = 0;
    for srv in &servers {
        if let Some(t) = get(srv, &keys::lock_lease("blocked")).await {
            assert_eq!(t, new.token());
            held += 1;
        }
    }
    assert!(held >= 2, "the new holder's quorum is intact: {held}");
    assert!(new.is_valid());
    assert_eq!(new.release().await.deleted, held);
}

#[tokio::test]
async fn fencing_tokens_grow_and_a_stale_token_never_commits() {
    let servers = masters(1);
    let lock = redlock(&servers, config(2000));
    let r = res("fenced");
    let counter = r.data_key("counter");
    let value = r.data_key("value");
    let mut data = lock.data();

    let first = lock.try_acquire(&r).await.unwrap();
    let t1 = first.fencing_token();
    first.release().await;
    let second = lock.try_acquire(&r).await.unwrap();
    let t2 = second.fencing_token();
    assert!(t2 > t1);

    // A newer lease exists: the old token is refused even before the new one wrote.
    let stale = FencedOutcome::Stale { newest: t2 };
    assert_eq!(
        fenced_set(&mut data, &r, &value, t1, "a").await.unwrap(),
        stale
    );
    assert_eq!(
        fenced_incr_by(&mut data, &r, &counter, t1, 1)
            .await
            .unwrap(),
        FencedOutcome::Stale { newest: t2 }
    );
    assert_eq!(
        second.fenced_incr_by(&counter, 5).await.unwrap(),
        FencedOutcome::Committed(5)
    );
    assert_eq!(
        second.fenced_set(&value, "b").await.unwrap(),
        FencedOutcome::Committed(())
    );
    assert_eq!(
        fenced_set(&mut data, &r, &value, t1, "a").await.unwrap(),
        stale
    );
    assert_eq!(get(&servers[0], &value).await.as_deref(), Some("b"));
    assert_eq!(get(&servers[0], &counter).await.as_deref(), Some("5"));

    // Keys outside the resource's hash tag are refused before reaching Redis.
    let e = second.fenced_set("arena:{other}:x", "v").await.unwrap_err();
    assert!(matches!(e, LockError::CrossSlot { .. }), "{e}");
    second.release().await;

    // If the fence key is lost, the first newer token seen raises it again and later
    // leases get larger tokens still.
    let _: () = conn(&servers[0])
        .del(keys::lock_fence("fenced"))
        .await
        .unwrap();
    assert!(
        fenced_set(&mut data, &r, &value, t2, "c")
            .await
            .unwrap()
            .is_committed()
    );
    let third = lock.try_acquire(&r).await.unwrap();
    assert_eq!(third.fencing_token(), t2 + 1);
    assert_eq!(
        fenced_set(&mut data, &r, &value, t1, "a").await.unwrap(),
        FencedOutcome::Stale { newest: t2 + 1 }
    );
}

#[test]
fn redlock_urls_are_validated_by_name() {
    let mut c = crate::harness::app::config("redis://127.0.0.1:6379", |_| {});
    c.services.redlock_urls = Some("redis://127.0.0.1:1,redis://127.0.0.1:2".into());
    assert_eq!(c.validate(), Ok(()));
    for bad in [
        "redis://127.0.0.1:1,,redis://h:2",
        "redis://h:1,http//nope",
        "redis://h:1, redis://h:1",
    ] {
        c.services.redlock_urls = Some(bad.into());
        assert_eq!(c.validate().unwrap_err().setting, "REDLOCK_URLS", "{bad}");
    }
    let twice = [
        Endpoint::plain("redis://h:1"),
        Endpoint::plain("redis://h:1"),
    ];
    let e = Redlock::new(&twice, LockConfig::default()).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
}

/// Totals over every generated case, to check that the test did exercise stale writes.
#[derive(Default)]
struct Totals {
    commits: AtomicU64,
    stale: AtomicU64,
}

/// One task: `rounds` times, acquire, read-modify-write one counter (fenced SET) and bump
/// another (fenced INCRBY), sometimes pausing past the TTL in between, like a GC pause.
async fn worker(
    lock: Redlock,
    r: Resource,
    pauses: Vec<bool>,
    pause: Duration,
    totals: Arc<Totals>,
) -> (u64, u64) {
    let (rmw, incr) = (r.data_key("rmw"), r.data_key("incr"));
    let (mut rmw_commits, mut incr_commits) = (0, 0);
    let mut data = lock.data();
    for paused in pauses {
        let Ok(lease) = lock.acquire_within(&r, Duration::from_secs(5)).await else {
            continue;
        };
        let seen: Option<i64> = data.get(&rmw).await.unwrap();
        if paused {
            tokio::time::sleep(pause).await;
        }
        match lease
            .fenced_set(&rmw, &(seen.unwrap_or(0) + 1).to_string())
            .await
            .unwrap()
        {
            FencedOutcome::Committed(()) => rmw_commits += 1,
            FencedOutcome::Stale { .. } => {
                totals.stale.fetch_add(1, Ordering::Relaxed);
            }
        }
        if lease.fenced_incr_by(&incr, 1).await.unwrap().is_committed() {
            incr_commits += 1;
        }
        drop(lease);
    }
    totals
        .commits
        .fetch_add(rmw_commits + incr_commits, Ordering::Relaxed);
    (rmw_commits, incr_commits)
}

#[test]
fn fenced_increments_from_two_instances_never_lose_or_add_an_update() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let servers = masters(3);
    let ttl = 100;
    let cfg = config(ttl)
        .with_node_timeout(Duration::from_millis(30))
        .with_renewal(None)
        .with_retry_delay(Duration::from_millis(5), Duration::from_millis(40));
    let pause = Duration::from_millis(ttl * 3 / 2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _runtime = rt.enter(); // connections are created inside a runtime
    let instances = [redlock(&servers, cfg.clone()), redlock(&servers, cfg)];
    let totals = Arc::new(Totals::default());
    let mut runner = TestRunner::new(Config {
        cases: 4,
        failure_persistence: None,
        ..Config::default()
    });
    // 6 tasks (3 per instance) × 3 rounds; each round pauses with probability 1/4.
    let strategy = prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.25), 3), 6);
    let case = AtomicU64::new(0);
    runner
        .run(&strategy, |plan| {
            let r = res(&format!("prop-{}", case.fetch_add(1, Ordering::Relaxed)));
            let (rmw, incr, counters) = rt.block_on(async {
                let tasks: Vec<_> = plan
                    .into_iter()
                    .enumerate()
                    .map(|(i, pauses)| {
                        tokio::spawn(worker(
                            instances[i % 2].clone(),
                            r.clone(),
                            pauses,
                            pause,
                            totals.clone(),
                        ))
                    })
                    .collect();
                let (mut rmw, mut incr) = (0, 0);
                for t in tasks {
                    let (a, b) = t.await.unwrap();
                    rmw += a;
                    incr += b;
                }
                let read = |k: String| {
                    let mut data = instances[0].data();
                    async move { data.get::<_, Option<u64>>(k).await.unwrap().unwrap_or(0) }
                };
                let counters = (
                    read(r.data_key("rmw")).await,
                    read(r.data_key("incr")).await,
                );
                (rmw, incr, counters)
            });
            prop_assert_eq!(counters.0, rmw, "read-modify-write counter vs its commits");
            prop_assert_eq!(counters.1, incr, "INCRBY counter vs its commits");
            Ok(())
        })
        .unwrap();
    assert!(
        totals.stale.load(Ordering::Relaxed) > 0,
        "no paused holder was ever fenced off: the test did not exercise stale writes"
    );
    assert!(totals.commits.load(Ordering::Relaxed) > 0);
}
