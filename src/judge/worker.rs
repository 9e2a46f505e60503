//! The queue worker: reads jobs from the judge stream through the consumer group, runs
//! up to `concurrency` at once, records each result exactly once.
//!
//! - A running job's entry is re-claimed by its judge every heartbeat (`XCLAIM ... 0
//!   JUSTID`: idle time reset, delivery count kept), so only a judge that stopped
//!   (killed, frozen) lets it idle past `JUDGE_RECLAIM_IDLE_MS`; then another judge takes
//!   it over with XAUTOCLAIM, which counts a delivery.
//! - An internal error (the sandbox failed) is retried on this judge with backoff
//!   (250 ms doubling), each retry a counted delivery (`XCLAIM` without JUSTID).
//! - A job delivered `JUDGE_MAX_DELIVERIES` times (it crashed judges, or kept failing)
//!   is dead-lettered: copied to the dead-letter stream and answered IE, in the same
//!   step that records results (`services/judge/lua/record.lua`), so still exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::redis::Conn;
use redis::AsyncCommands;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::services::fleet;
use crate::services::judge::metrics as judge_metrics;
use crate::services::judge::queue::{self, Finished};
use crate::services::judge::{Progress, Report, Submission, Verdict, keys};
use crate::services::metrics::Metrics;

use super::runner::{Judge, RunError};

/// How long one XREADGROUP blocks.
const BLOCK_MS: usize = 1_000;
/// First retry delay after an internal error (doubles per delivery).
const BACKOFF_MS: u64 = 250;

/// The worker's settings (from `judge::Settings`).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub judge_id: String,
    pub concurrency: usize,
    pub reclaim_idle_ms: u64,
    pub max_deliveries: u64,
    pub heartbeat_ms: u64,
    /// Where its HTTP API answers (`--port`), empty without one: shown in the fleet list.
    pub address: String,
}

pub struct Worker {
    judge: Arc<Judge>,
    /// This judge's registry (served at `/metrics` with `--port`).
    pub metrics: Metrics,
    cfg: WorkerConfig,
    /// Commands (short timeout).
    conn: Conn,
    /// The blocking reads.
    reader: Conn,
    /// Unix ms of its start, for the fleet registry.
    started_at: u64,
    /// Jobs being judged now (a free slot is held by the read loop while it waits for
    /// one, so the semaphore alone would count an idle judge as busy).
    running: AtomicU32,
}

/// One job as read from the stream.
struct Job {
    entry: String,
    token: String,
    submission: Result<Submission, String>,
}

fn parse(e: &StreamId) -> Option<Job> {
    let token: String = e.get("token")?;
    let raw: Option<String> = e.get("submission");
    let submission = match raw {
        Some(s) => serde_json::from_str::<Submission>(&s).map_err(|e| e.to_string()),
        None => Err("no submission field".into()),
    };
    Some(Job {
        entry: e.id.clone(),
        token,
        submission,
    })
}

fn ie_report(language: &str, message: String) -> Report {
    Report {
        verdict: Verdict::IE,
        language: language.into(),
        version: String::new(),
        compile: None,
        tests: vec![],
        message: Some(message),
    }
}

impl Worker {
    pub fn new(
        judge: Arc<Judge>,
        cfg: WorkerConfig,
        endpoint: &crate::redis::Endpoint,
        metrics: Metrics,
    ) -> Result<Self, redis::RedisError> {
        let conn = crate::redis::command_connection(endpoint, Duration::from_secs(2))?;
        let reader =
            crate::redis::stream_connection(endpoint, Duration::from_millis(BLOCK_MS as u64))?;
        judge_metrics::describe(&metrics);
        Ok(Self {
            judge,
            metrics,
            cfg,
            conn,
            reader,
            started_at: crate::base::clock::unix_ms(),
            running: AtomicU32::new(0),
        })
    }

    /// Consume until `shutdown`; jobs in flight at shutdown finish first (bounded by
    /// their limits), so a clean stop never leaves one to be reclaimed.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.cfg.concurrency));
        let tasks = tokio_util::task::TaskTracker::new();
        tasks.spawn(this.clone().heartbeat(shutdown.clone()));
        let reclaim_every = Duration::from_millis(this.cfg.reclaim_idle_ms / 2);
        let mut last_reclaim = tokio::time::Instant::now() - reclaim_every;
        let mut group_ready = false;
        let mut reader = this.reader.clone();
        while !shutdown.is_cancelled() {
            if !group_ready {
                let mut c = this.conn.clone();
                match queue::ensure_group(&mut c).await {
                    Ok(()) => group_ready = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "judge: cannot create the consumer group yet");
                        sleep_or(&shutdown, Duration::from_millis(500)).await;
                        continue;
                    }
                }
            }
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.cancelled() => break,
            };
            let mut entries: Vec<StreamId> = Vec::new();
            if last_reclaim.elapsed() >= reclaim_every {
                this.refresh_depth().await;
                match this.reclaim().await {
                    Ok(Some(e)) => entries.push(e),
                    Ok(None) => last_reclaim = tokio::time::Instant::now(),
                    Err(e) => {
                        tracing::debug!(error = %e, "judge: reclaim failed");
                        last_reclaim = tokio::time::Instant::now();
                    }
                }
            }
            if entries.is_empty() {
                let opts = StreamReadOptions::default()
                    .group(keys::GROUP, &this.cfg.judge_id)
                    .count(1)
                    .block(BLOCK_MS);
                let streams = [keys::jobs()];
                let read = tokio::select! {
                    r = reader.xread_options::<_, _, Option<StreamReadReply>>(&streams, &[">"], &opts) => r,
                    _ = shutdown.cancelled() => break,
                };
                match read {
                    Ok(Some(reply)) => {
                        entries.extend(reply.keys.into_iter().flat_map(|k| k.ids));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        if e.code() == Some("NOGROUP") {
                            group_ready = false;
                        }
                        tracing::debug!(error = %e, "judge: read failed");
                        sleep_or(&shutdown, Duration::from_millis(200)).await;
                    }
                }
            }
            // One entry per read (COUNT 1), so one slot per job.
            if let Some(e) = entries.into_iter().next() {
                let this = this.clone();
                this.running.fetch_add(1, Ordering::Relaxed);
                tasks.spawn(async move {
                    this.process(e).await;
                    this.running.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
        }
        tasks.close();
        tasks.wait().await;
    }

    /// Take over one entry idle for `reclaim_idle_ms` (its judge is gone).
    async fn reclaim(&self) -> Result<Option<StreamId>, redis::RedisError> {
        let mut c = self.conn.clone();
        let reply: StreamAutoClaimReply = c
            .xautoclaim_options(
                keys::jobs(),
                keys::GROUP,
                &self.cfg.judge_id,
                self.cfg.reclaim_idle_ms,
                "0-0",
                StreamAutoClaimOptions::default().count(1),
            )
            .await?;
        if let Some(e) = reply.claimed.into_iter().next() {
            tracing::info!(entry = %e.id, "judge: took over a job whose judge stopped");
            return Ok(Some(e));
        }
        Ok(None)
    }

    /// `arena_queue_depth{queue="judge"}`: the group's lag (jobs no judge has taken).
    async fn refresh_depth(&self) {
        let mut c = self.conn.clone();
        let groups: Result<redis::streams::StreamInfoGroupsReply, _> =
            c.xinfo_groups(keys::jobs()).await;
        if let Ok(g) = groups
            && let Some(lag) = g
                .groups
                .iter()
                .find(|g| g.name == keys::GROUP)
                .and_then(|g| g.lag)
        {
            self.metrics
                .gauge_with(judge_metrics::QUEUE_DEPTH, "queue", "judge")
                .set(lag as f64);
        }
    }

    /// This judge as the fleet registry lists it (`GET /api/admin/instances`' `judges`).
    fn describe(&self) -> fleet::Member {
        let usage = crate::base::process::usage();
        let concurrency = self.cfg.concurrency as u32;
        fleet::Member {
            id: self.cfg.judge_id.clone(),
            kind: "judge".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            address: self.cfg.address.clone(),
            pid: std::process::id(),
            started_at: self.started_at,
            clients: 0,
            rooms: 0,
            cpu_seconds: usage.cpu_seconds,
            rss_bytes: usage.rss_bytes,
            socket_server: String::new(),
            concurrency,
            jobs_running: self.running.load(Ordering::Relaxed),
            last_seen: 0,
        }
    }

    /// Say this judge is alive: the breaker reads `arena:{judge}:judges`, operators the
    /// fleet registry (the same beat writes both).
    async fn heartbeat(self: Arc<Self>, shutdown: CancellationToken) {
        let every = Duration::from_millis(self.cfg.heartbeat_ms);
        loop {
            let mut c = self.conn.clone();
            let r: Result<(), redis::RedisError> = redis::Script::new(
                "local t = redis.call('TIME') redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])",
            )
            .key(keys::judges())
            .arg(&self.cfg.judge_id)
            .invoke_async(&mut c)
            .await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "judge: heartbeat failed");
            }
            if let Err(e) = fleet::beat(&mut c, &self.describe()).await {
                tracing::debug!(error = %e, "judge: fleet heartbeat failed");
            }
            if !sleep_or(&shutdown, every).await {
                let _: Result<(), _> = c.zrem(keys::judges(), &self.cfg.judge_id).await;
                let _: Result<(), _> = fleet::leave(&mut c, &self.cfg.judge_id).await;
                return;
            }
        }
    }

    async fn deliveries(&self, entry: &str) -> Result<u64, redis::RedisError> {
        let mut c = self.conn.clone();
        let reply: redis::streams::StreamPendingCountReply = c
            .xpending_count(keys::jobs(), keys::GROUP, entry, entry, 1)
            .await?;
        Ok(reply
            .ids
            .first()
            .map(|p| p.times_delivered as u64)
            .unwrap_or(0))
    }

    /// Run one job to a recorded result (or leave it pending when Redis fails: it is
    /// then reclaimed and run again, and recorded once).
    async fn process(&self, e: StreamId) {
        let Some(job) = parse(&e) else {
            // No token: nothing to answer. Ack it away into the dead letters by hand.
            tracing::warn!(entry = %e.id, "judge: entry without a token dropped");
            let mut c = self.conn.clone();
            let _: Result<i64, _> = c.xack(keys::jobs(), keys::GROUP, &[&e.id]).await;
            return;
        };
        let mut deliveries = match self.deliveries(&job.entry).await {
            Ok(d) => d,
            Err(err) => {
                tracing::debug!(error = %err, "judge: xpending failed; job left pending");
                return;
            }
        };
        if deliveries > self.cfg.max_deliveries {
            let r = ie_report(
                "",
                format!("dead-lettered after {} deliveries", deliveries - 1),
            );
            self.finish(&job, &r, Some("too many deliveries"), deliveries)
                .await;
            return;
        }
        let sub = match &job.submission {
            Ok(s) => s,
            Err(why) => {
                let r = ie_report("", format!("the queued submission does not parse: {why}"));
                self.finish(&job, &r, Some("malformed submission"), deliveries)
                    .await;
                return;
            }
        };
        let keepalive = CancellationToken::new();
        let ka = tokio::spawn(keep_claimed(
            self.conn.clone(),
            self.cfg.judge_id.clone(),
            Duration::from_millis(self.cfg.heartbeat_ms),
            job.entry.clone(),
            keepalive.clone(),
        ));
        // Each finished test goes onto the job's progress list at once, in order, by one
        // task (so the runner never waits on Redis). IE entries are not pushed: an IE is
        // retried, and the report says how it ended; readers take missing tests from it.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let pusher = tokio::spawn(push_progress(self.conn.clone(), job.token.clone(), rx));
        let mut on_test = |p: &Progress| {
            if p.verdict != Verdict::IE {
                let _ = tx.send(*p);
            }
        };
        let report = loop {
            let report = match sub.check() {
                Err(why) => ie_report(&sub.language, format!("refused: {why}")),
                Ok(()) => match self.judge.judge_with(sub, &mut on_test).await {
                    Ok(r) => r,
                    Err(RunError::UnknownLanguage(l)) => {
                        ie_report(&l, format!("this judge has no language {l:?}"))
                    }
                },
            };
            if report.verdict != Verdict::IE || deliveries >= self.cfg.max_deliveries {
                break report;
            }
            let delay = BACKOFF_MS << (deliveries.saturating_sub(1)).min(6);
            tracing::warn!(token = %job.token, deliveries, ?report.message, "judge: internal error; retrying");
            tokio::time::sleep(Duration::from_millis(delay)).await;
            // A counted redelivery to this judge.
            let mut c = self.conn.clone();
            let claimed: Result<redis::Value, _> = redis::cmd("XCLAIM")
                .arg(keys::jobs())
                .arg(keys::GROUP)
                .arg(&self.cfg.judge_id)
                .arg(0)
                .arg(&job.entry)
                .query_async(&mut c)
                .await;
            if claimed.is_err() {
                break report;
            }
            deliveries += 1;
        };
        keepalive.cancel();
        let _ = ka.await;
        // Every entry is pushed before the result is recorded, so a reader that sees the
        // result finds all of them.
        drop(tx);
        let _ = pusher.await;
        let dead = (report.verdict == Verdict::IE && deliveries >= self.cfg.max_deliveries)
            .then_some("internal errors");
        self.finish(&job, &report, dead, deliveries).await;
    }

    async fn finish(&self, job: &Job, report: &Report, dead: Option<&str>, deliveries: u64) {
        let f = Finished {
            token: &job.token,
            entry: &job.entry,
            judge: &self.cfg.judge_id,
            report,
            dead_letter: dead,
            deliveries,
        };
        let mut c = self.conn.clone();
        for attempt in 0..5u32 {
            match queue::record(&mut c, &f).await {
                Ok(recorded) => {
                    if recorded {
                        let ms = |v: u64| v as f64 / 1000.0;
                        let compile_s = ms(report.compile.as_ref().map_or(0, |c| c.stats.wall_ms));
                        let run_s = ms(report.tests.iter().map(|t| t.stats.wall_ms).sum());
                        let lang = if report.language.is_empty() {
                            "unknown"
                        } else {
                            report.language.as_str()
                        };
                        judge_metrics::job(&self.metrics, lang, report.verdict, compile_s, run_s);
                        if dead.is_some() {
                            self.metrics
                                .counter(judge_metrics::DEAD_LETTERS_TOTAL)
                                .increment(1);
                        }
                    }
                    tracing::info!(token = %job.token, verdict = report.verdict.as_str(), recorded, dead_letter = dead.is_some(), "judge: job finished");
                    return;
                }
                Err(e) => {
                    tracing::warn!(token = %job.token, error = %e, attempt, "judge: recording failed");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
            }
        }
        // Left pending: another judge (or this one) reclaims it and records it once.
    }
}

/// Push each progress entry in the order it comes; an entry that cannot be pushed after
/// a few tries is dropped (readers take it from the report).
async fn push_progress(
    mut conn: Conn,
    token: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Progress>,
) {
    while let Some(p) = rx.recv().await {
        for attempt in 0..3u32 {
            match queue::push_progress(&mut conn, &token, &p).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::debug!(token = %token, error = %e, attempt, "judge: progress push failed");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
    }
}

/// Reset a running entry's idle time every heartbeat, so no judge takes it over while
/// its judge lives.
async fn keep_claimed(
    mut conn: Conn,
    judge_id: String,
    every: Duration,
    entry: String,
    done: CancellationToken,
) {
    while sleep_or(&done, every).await {
        let r: Result<redis::Value, _> = redis::cmd("XCLAIM")
            .arg(keys::jobs())
            .arg(keys::GROUP)
            .arg(&judge_id)
            .arg(0)
            .arg(&entry)
            .arg("JUSTID")
            .query_async(&mut conn)
            .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "judge: keep-claimed failed");
        }
    }
}

/// Sleep `d` unless `token` is cancelled first; `true` when the sleep completed.
async fn sleep_or(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = token.cancelled() => false,
    }
}
