//! `arena bench claims`: P players claim treasure-hunt tiles at an offered rate, with a
//! chosen share aimed at contended ("hot") tiles; reports ack latency and outcomes, and
//! checks that no tile was acknowledged to two players. Also reports the leaderboard
//! projection's lag (claim -> applied to the board) over the run, from the instances'
//! `arena_leaderboard_lag_seconds` histogram, and the instances' own event-to-ack latency
//! (`arena_claim_duration_seconds`) beside the client's.
//!
//! The server's per-player limit (`CLAIM_RATE`, default 20/s) applies: to measure raw
//! throughput, start the instances with a high `CLAIM_RATE`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};

use super::common::{BenchError, Common, Outcome, Pacer, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::scrape;
use super::status::{cpu_between, statuses};
use super::wire::{Packet, Wire, Writer};

#[derive(Debug, Clone, Args)]
pub struct ClaimsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Players, spread over the instances.
    #[arg(long, default_value_t = 50)]
    pub players: usize,
    /// Offered claims per second, all players together.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Seconds of claiming (at most 600).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Share of claims aimed at a few hot tiles that others claim too.
    #[arg(long, default_value_t = 0.1)]
    pub conflict: f64,
}

/// The projection's lag histogram (seconds), on every instance.
const LAG_METRIC: &str = "arena_leaderboard_lag_seconds";
/// The instances' own claim latency (socket event to ack): beside the client's ack
/// latency it says whether a tail is inside the servers or on the way to them.
const SERVER_METRIC: &str = "arena_claim_duration_seconds";
/// How long the projection may take to catch up after the last ack before the lag is read.
const LAG_DRAIN: Duration = Duration::from_secs(10);

/// A live map and the tiles not yet aimed at.
struct LiveMap {
    id: u64,
    expires_at: u64,
    fresh: Fresh,
    hot: Vec<u64>,
}

/// The tiles of a map not aimed at yet, in an order spread over the whole map:
/// `(offset + i * stride) mod size` for i = 0, 1, ... with `stride` coprime to `size` visits
/// every tile once. Constant memory, where a shuffled list of every tile would cost 8 bytes
/// a tile and a pause of the reader that learns the map (maps go up to 16M tiles).
struct Fresh {
    size: u64,
    offset: u64,
    stride: u64,
    next: u64,
}

impl Fresh {
    fn new(size: u64, rng: &mut impl Rng) -> Self {
        let size = size.max(1);
        let mut stride = 1;
        // Random strides until one is coprime to size (a few tries at most: about 6 in 10
        // numbers are coprime to a given one); 1 always is.
        for _ in 0..64 {
            let s = rng.random_range(1..size.max(2));
            if gcd(s, size) == 1 {
                stride = s;
                break;
            }
        }
        Self {
            size,
            offset: rng.random_range(0..size),
            stride,
            next: 0,
        }
    }

    /// The next tile never aimed at that is not in `skip`, or `None` when used up.
    fn pop(&mut self, skip: &[u64]) -> Option<u64> {
        while self.next < self.size {
            let t = (self.offset + self.next * self.stride) % self.size;
            self.next += 1;
            if !skip.contains(&t) {
                return Some(t);
            }
        }
        None
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[derive(Default)]
struct Tally {
    latency: Option<Histogram<u64>>,
    outcomes: BTreeMap<String, u64>,
    /// (map, tile) -> players acknowledged ok.
    owners: HashMap<(u64, u64), Vec<usize>>,
}

/// Claims in flight of one player: ack id -> (sent at, map, tile).
type Pending = Mutex<HashMap<u64, (Instant, u64, u64)>>;

struct Shared {
    maps: Mutex<Vec<LiveMap>>,
    tally: Mutex<Tally>,
    pending: Vec<Pending>,
}

pub async fn run(args: ClaimsArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    let hs = super::common::Handshake::of(&args.common)?;
    if args.players == 0
        || args.players > 10_000
        || args.rate == 0
        || args.duration == 0
        || args.duration > 600
    {
        return Err(BenchError::Invalid(
            "need 1..=10000 players, a rate > 0 and 1..=600 s".into(),
        ));
    }
    if !(0.0..=1.0).contains(&args.conflict) {
        return Err(BenchError::Invalid(
            "--conflict must be between 0 and 1".into(),
        ));
    }
    statuses(&addrs).await?;
    let run_id: u32 = rand::random();
    let shared = Arc::new(Shared {
        maps: Mutex::new(Vec::new()),
        tally: Mutex::new(Tally::default()),
        pending: (0..args.players)
            .map(|_| Mutex::new(HashMap::new()))
            .collect(),
    });
    let pb = progress(args.players as u64, "connecting players");
    let n = addrs.len();
    let conns: Vec<Result<(usize, Wire), BenchError>> = futures_util::stream::iter(0..args.players)
        .map(|i| {
            let url = format!("http://{}", addrs[i % n]);
            let pb = pb.clone();
            let hs = hs.clone();
            async move {
                let mut w =
                    Wire::connect(&url, &hs.auth(&format!("claimer-{run_id:x}-{i}"))?).await?;
                // One watcher learns the maps; the others stay out of the room, so the run
                // measures the claim path (event -> script -> ack), not the room fan-out.
                if i == 0 {
                    w.join("hunt").await?;
                }
                pb.inc(1);
                Ok((i, w))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    pb.finish_and_clear();
    let mut writers: Vec<Option<Writer>> = (0..args.players).map(|_| None).collect();
    for c in conns {
        let (i, w) = c?;
        let (writer, mut reader) = w.split();
        writers[i] = Some(writer);
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some(p) = reader.next_packet().await {
                match p {
                    Packet::Event(ev) if i == 0 && ev.starts_with(r#"["map_created""#) => {
                        on_map(&shared, &ev)
                    }
                    Packet::Ack(id, body) => on_ack(&shared, i, id, &body),
                    Packet::Event(_) => {}
                }
            }
        });
    }
    let writers: Vec<Writer> = writers.into_iter().flatten().collect();
    // Wait for a map.
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared
        .maps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_empty()
    {
        if Instant::now() > deadline {
            return Err(BenchError::Protocol(
                "no map_created within 10 s: is the treasure hunt running?".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let before = statuses(&addrs).await?;
    let lag_before = scrape::buckets(&addrs, LAG_METRIC).await?;
    let server_before = scrape::buckets(&addrs, SERVER_METRIC).await?;
    let pb = progress(args.duration, &format!("{} claims/s", args.rate));
    let mut pacer = Pacer::new(args.rate as f64, Duration::from_secs(args.duration));
    let (mut sent, mut unsent) = (0u64, 0u64);
    let mut next_id = vec![1u64; args.players];
    let mut rng = rand::rng();
    while let Some((due, elapsed)) = pacer.due().await {
        while sent + unsent < due {
            let player = ((sent + unsent) % args.players as u64) as usize;
            let Some((map, tile)) = pick(&shared, &mut rng, args.conflict) else {
                unsent += 1;
                continue;
            };
            let id = next_id[player];
            next_id[player] += 1;
            shared.pending[player]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, (Instant::now(), map, tile));
            writers[player].request(id, &format!(r#"["claim",{{"mapId":{map},"tile":{tile}}}]"#));
            sent += 1;
        }
        pb.set_position(elapsed.as_secs());
    }
    let seconds = pacer.seconds();
    let drain = Instant::now() + Duration::from_secs(5);
    while shared
        .pending
        .iter()
        .any(|p| !p.lock().unwrap_or_else(|e| e.into_inner()).is_empty())
        && Instant::now() < drain
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pb.finish_and_clear();
    let after = statuses(&addrs).await?;
    let server_after = scrape::buckets(&addrs, SERVER_METRIC).await?;
    let ok_so_far = shared
        .tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .outcomes
        .get("ok")
        .copied()
        .unwrap_or(0);
    let lag_after =
        scrape::until_counted(&addrs, LAG_METRIC, &lag_before, ok_so_far, LAG_DRAIN).await?;
    for w in &writers {
        w.close();
    }
    let unanswered: u64 = shared
        .pending
        .iter()
        .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).len() as u64)
        .sum();
    let tally = std::mem::take(&mut *shared.tally.lock().unwrap_or_else(|e| e.into_inner()));
    let hist = tally.latency.unwrap_or_else(histogram);
    let double_owned = tally.owners.values().filter(|o| o.len() > 1).count() as u64;
    let ok_claims: u64 = tally.outcomes.get("ok").copied().unwrap_or(0);
    let latency = Latency::of(&hist);
    let cpu = cpu_between(&before, &after);
    write_plot(&args.common, || {
        plot_svg(
            &format!("claim ack latency at {} claims/s", args.rate),
            &[("claim", &hist)],
        )
    })?;
    let lag_ms = |q| scrape::quantile(&lag_before, &lag_after, q).map(|s| s * 1000.0);
    let applied = scrape::count(&lag_before, &lag_after);
    let lag = json!({
        "applied": applied, "applied_per_s": applied / seconds,
        "p50_ms": lag_ms(0.5), "p99_ms": lag_ms(0.99),
    });
    let server_ms = |q| scrape::quantile(&server_before, &server_after, q).map(|s| s * 1000.0);
    let server = json!({
        "count": scrape::count(&server_before, &server_after),
        "p50_ms": server_ms(0.5), "p99_ms": server_ms(0.99),
    });
    let ok = double_owned == 0 && unanswered == 0;
    let rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        (
            "players / offered rate".into(),
            format!(
                "{} / {} claims/s (conflict {:.0}%)",
                args.players,
                args.rate,
                args.conflict * 100.0
            ),
        ),
        (
            "claims sent".into(),
            format!(
                "{sent} in {seconds:.2} s = {:.0}/s ({unsent} skipped: no live map)",
                sent as f64 / seconds
            ),
        ),
        ("outcomes".into(), format!("{:?}", tally.outcomes)),
        (
            "claims into the log (ok) / applied to the board".into(),
            format!(
                "{:.0}/s / {:.0}/s",
                ok_claims as f64 / seconds,
                applied / seconds
            ),
        ),
        ("unanswered".into(), unanswered.to_string()),
        (
            "tiles acknowledged to two players".into(),
            double_owned.to_string(),
        ),
        (
            "ack p50/p90/p99/max".into(),
            format!(
                "{:.3} / {:.3} / {:.3} / {:.3} ms",
                latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms
            ),
        ),
        (
            "server event-to-ack p50/p99".into(),
            format!(
                "{:.2} / {:.2} ms (from the server's buckets)",
                server_ms(0.5).unwrap_or(f64::NAN),
                server_ms(0.99).unwrap_or(f64::NAN),
            ),
        ),
        (
            "leaderboard lag p50/p99 (applied)".into(),
            format!(
                "{:.1} / {:.1} ms ({} claims; from the server's buckets)",
                lag_ms(0.5).unwrap_or(f64::NAN),
                lag_ms(0.99).unwrap_or(f64::NAN),
                scrape::count(&lag_before, &lag_after)
            ),
        ),
        (
            "server CPU".into(),
            format!(
                "{cpu:.2} s ({:.1} µs per claim)",
                if sent > 0 {
                    cpu * 1e6 / sent as f64
                } else {
                    0.0
                }
            ),
        ),
    ];
    let j = json!({
        "scenario": "claims", "instances": addrs.len(), "players": args.players, "rate": args.rate,
        "conflict": args.conflict, "seconds": seconds, "sent": sent, "unsent": unsent,
        "claims_per_s": sent as f64 / seconds, "ok_claims": ok_claims,
        "ok_per_s": ok_claims as f64 / seconds, "outcomes": tally.outcomes,
        "unanswered": unanswered, "double_owned": double_owned, "latency": latency,
        "server_latency": server,
        "leaderboard_lag": lag, "server_cpu_s": cpu, "ok": ok,
    });
    Ok(emit(&args.common, "arena bench claims", rows, j, ok))
}

fn on_map(shared: &Shared, ev: &str) {
    let Ok(Value::Array(a)) = serde_json::from_str::<Value>(ev) else {
        return;
    };
    let Some(m) = a.get(1) else { return };
    let (Some(id), Some(w), Some(h), Some(exp)) = (
        m["mapId"].as_u64(),
        m["width"].as_u64(),
        m["height"].as_u64(),
        m["expiresAt"].as_u64(),
    ) else {
        return;
    };
    let mut hot: Vec<u64> = m["treasures"]
        .as_object()
        .map(|t| t.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    hot.truncate(8);
    let mut rng = rand::rng();
    let mut fresh = Fresh::new(w * h, &mut rng);
    if hot.is_empty() {
        hot.extend((0..4).filter_map(|_| fresh.pop(&[])));
    }
    let mut maps = shared.maps.lock().unwrap_or_else(|e| e.into_inner());
    maps.push(LiveMap {
        id,
        expires_at: exp,
        fresh,
        hot,
    });
}

/// A (map, tile) to claim: a hot tile with probability `conflict`, else a fresh one.
fn pick(shared: &Shared, rng: &mut impl Rng, conflict: f64) -> Option<(u64, u64)> {
    let now = crate::base::clock::unix_ms();
    let mut maps = shared.maps.lock().unwrap_or_else(|e| e.into_inner());
    // Leave a margin so claims are not sent to a map about to expire.
    maps.retain(|m| m.expires_at > now + 300);
    let m = maps.last_mut()?;
    if rng.random_bool(conflict) {
        let t = m.hot[rng.random_range(0..m.hot.len())];
        return Some((m.id, t));
    }
    if let Some(t) = m.fresh.pop(&m.hot) {
        return Some((m.id, t));
    }
    // The newest map is used up: older live maps may still have fresh tiles; else claim
    // a random (taken) tile, which still runs the whole claim script.
    let (id, fallback) = (m.id, rng.random_range(0..m.fresh.size));
    Some(
        maps.iter_mut()
            .rev()
            .find_map(|m| m.fresh.pop(&m.hot).map(|t| (m.id, t)))
            .unwrap_or((id, fallback)),
    )
}

fn on_ack(shared: &Shared, player: usize, id: u64, body: &str) {
    let Some((sent, map, tile)) = shared.pending[player]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id)
    else {
        return;
    };
    let us = sent.elapsed().as_micros() as u64;
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let ack = &v[0];
    let outcome = if ack["ok"] == json!(true) {
        "ok".to_string()
    } else {
        ack["error"]["code"]
            .as_str()
            .unwrap_or("malformed_ack")
            .to_string()
    };
    let mut t = shared.tally.lock().unwrap_or_else(|e| e.into_inner());
    t.latency
        .get_or_insert_with(histogram)
        .saturating_record(us.max(1));
    if outcome == "ok" {
        t.owners.entry((map, tile)).or_default().push(player);
    }
    *t.outcomes.entry(outcome).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tiles_cover_the_map_once_skipping_hot_ones() {
        let mut rng = rand::rng();
        for size in [1u64, 2, 7, 256, 1000, 65_536] {
            let mut f = Fresh::new(size, &mut rng);
            let hot = [0u64, size - 1];
            let mut seen = std::collections::HashSet::new();
            while let Some(t) = f.pop(&hot) {
                assert!(t < size && !hot.contains(&t));
                assert!(seen.insert(t), "tile {t} of {size} twice");
            }
            let expected = size - hot.iter().collect::<std::collections::HashSet<_>>().len() as u64;
            assert_eq!(seen.len() as u64, expected, "size {size}");
        }
    }
}
