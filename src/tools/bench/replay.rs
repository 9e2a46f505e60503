//! `arena bench replay`: missed-event recovery. Each room has a sender on the first
//! instance, attacking at a steady rate, and a recovering client that, round after round,
//! leaves (closes its connection), misses `--missed` attacks, then connects to the *next*
//! instance and sends `join_room {room, epoch, offset}` with the last position it saw.
//! Timed: from that `join_room` to the moment the client has every attack up to the
//! room's newest position at the join (the ack's `offset`): the replay latency a player
//! sees after a reconnect. Checked: the replayed and live attacks continue the client's
//! offsets with no gap and none twice, and no round gets `resync` (the history covers
//! `--missed` as long as it stays below the servers' `ROOM_HISTORY_LEN`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

use super::common::{BenchError, Common, Handshake, Outcome, emit, progress, targets, write_plot};
use super::report::{self, Latency, histogram};
use super::wire::{Packet, Reader, Wire, Writer, scan_str, scan_u64};

/// Options of the replay scenario.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub common: Common,
    /// Rooms, each with its own sender and recovering client.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Attacks per second each room's sender sends (the servers' SOCKET_EVENT_RATE
    /// bounds it: 100 by default).
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Attacks the recovering client misses in each round (keep it below the servers'
    /// ROOM_HISTORY_LEN, 1000 by default, or the round gets `resync`).
    #[arg(long, default_value_t = 100)]
    pub missed: u64,
    /// Recoveries per room.
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
}

impl ReplayArgs {
    /// The run's bound: every round waits for its missed attacks, plus set-up.
    pub fn limit(&self) -> Duration {
        let per_round = self.missed.div_ceil(self.rate.max(1)) + 15;
        Duration::from_secs(per_round * u64::from(self.rounds) + 120)
    }
}

/// What one room's recovering client saw over its rounds.
#[derive(Default)]
struct RoomTally {
    latency: Option<Histogram<u64>>,
    replayed: u64,
    gaps: u64,
    twice: u64,
    resyncs: u64,
    rounds: u64,
}

/// A room position: the epoch (a string) and the offset of the last attack seen.
#[derive(Clone, Debug, PartialEq)]
struct Position {
    epoch: String,
    offset: u64,
}

pub async fn run(args: ReplayArgs) -> Result<Outcome, BenchError> {
    if args.rooms == 0 || args.rounds == 0 || args.missed == 0 || args.rate == 0 {
        return Err(BenchError::Invalid(
            "--rooms, --rounds, --missed and --rate must be at least 1".into(),
        ));
    }
    let addrs = targets(&args.common)?;
    let hs = Handshake::of(&args.common)?;
    let run_id: u32 = rand::random();
    let pb = progress(args.rooms as u64 * u64::from(args.rounds), "recoveries");
    let results: Vec<Result<RoomTally, BenchError>> = futures_util::stream::iter(0..args.rooms)
        .map(|r| {
            let room = format!("replay{run_id:08x}-{r}");
            room_run(args.clone(), addrs.clone(), hs.clone(), room, r, pb.clone())
        })
        .buffer_unordered(args.rooms)
        .collect()
        .await;
    pb.finish_and_clear();
    let mut all = histogram();
    let (mut replayed, mut gaps, mut twice, mut resyncs, mut rounds) = (0, 0, 0, 0, 0);
    for t in results {
        let t = t?;
        if let Some(h) = &t.latency {
            all.add(h)
                .map_err(|e| BenchError::Protocol(format!("histogram: {e}")))?;
        }
        replayed += t.replayed;
        gaps += t.gaps;
        twice += t.twice;
        resyncs += t.resyncs;
        rounds += t.rounds;
    }
    let lat = Latency::of(&all);
    let per_round = replayed.checked_div(rounds).unwrap_or(0);
    let ok = gaps == 0 && twice == 0 && resyncs == 0 && rounds > 0;
    write_plot(&args.common, || {
        report::plot_svg("join_room with a position → caught up", &[("replay", &all)])
    })?;
    let rows = vec![
        ("recoveries".into(), rounds.to_string()),
        (
            "attacks replayed".into(),
            format!("{replayed} ({per_round} a recovery)"),
        ),
        (
            "join → caught up p50 / p90 / p99 / max".into(),
            format!(
                "{:.3} / {:.3} / {:.3} / {:.3} ms",
                lat.p50_ms, lat.p90_ms, lat.p99_ms, lat.max_ms
            ),
        ),
        (
            "gaps / twice / resync".into(),
            format!("{gaps} / {twice} / {resyncs}"),
        ),
    ];
    let report = json!({
        "scenario": "replay",
        "ok": ok,
        "rooms": args.rooms,
        "rate_per_room": args.rate,
        "missed": args.missed,
        "rounds": rounds,
        "replayed": replayed,
        "replayed_per_round": per_round,
        "latency": lat,
        "gaps": gaps,
        "twice": twice,
        "resyncs": resyncs,
    });
    Ok(emit(&args.common, "arena bench replay", rows, report, ok))
}

/// One room: its sender, and its recovering client's rounds.
async fn room_run(
    args: ReplayArgs,
    addrs: Vec<String>,
    hs: Handshake,
    room: String,
    r: usize,
    pb: indicatif::ProgressBar,
) -> Result<RoomTally, BenchError> {
    let n = addrs.len();
    let mut sender = Wire::connect(
        &format!("http://{}", addrs[r % n]),
        &hs.auth(&format!("replay-s{r}"))?,
    )
    .await?;
    sender.join(&room).await?;
    let (writer, reader) = sender.split();
    tokio::spawn(drain(reader));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sending = tokio::spawn(send(
        writer.clone(),
        room.clone(),
        args.rate,
        sent.clone(),
        stop.clone(),
    ));
    let result = recover(&args, &addrs, &hs, &room, r, &sent, &pb).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sending.await;
    writer.close();
    result
}

/// Read (and answer pings) until the connection ends.
async fn drain(mut reader: Reader) {
    while reader.next_packet().await.is_some() {}
}

/// Attack `room` at `rate` a second until stopped; counts what it sent.
async fn send(
    writer: Writer,
    room: String,
    rate: u64,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent.load(Ordering::Relaxed) < due {
            if !writer.event(&format!(r#"["attack",{{"room":"{room}","damage":1}}]"#)) {
                return;
            }
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The recovering client's rounds: join (the first time without a position, to learn
/// one), read until caught up, leave, miss `--missed` attacks, join elsewhere with the
/// position.
async fn recover(
    args: &ReplayArgs,
    addrs: &[String],
    hs: &Handshake,
    room: &str,
    r: usize,
    sent: &AtomicU64,
    pb: &indicatif::ProgressBar,
) -> Result<RoomTally, BenchError> {
    let n = addrs.len();
    let mut tally = RoomTally::default();
    let mut pos: Option<Position> = None;
    // Round 0 only learns a position; rounds 1..=rounds are the timed recoveries.
    for round in 0..=args.rounds {
        let addr = format!("http://{}", addrs[(r + 1 + round as usize) % n]);
        let wire = Wire::connect(&addr, &hs.auth(&format!("replay-c{r}"))?).await?;
        let (writer, mut reader) = wire.split();
        let join = match &pos {
            None => json!(["join_room", {"room": room}]),
            Some(p) => json!(["join_room", {"room": room, "epoch": p.epoch, "offset": p.offset}]),
        };
        let asked = Instant::now();
        if !writer.request(0, &join.to_string()) {
            return Err(BenchError::Protocol(
                "connection closed before join_room".into(),
            ));
        }
        let caught = catch_up(&mut reader, pos.clone(), &mut tally).await?;
        if round > 0 {
            tally.rounds += 1;
            tally
                .latency
                .get_or_insert_with(histogram)
                .saturating_record(asked.elapsed().as_micros().max(1) as u64);
            pb.inc(1);
        }
        pos = Some(caught);
        writer.close();
        drop(reader);
        if round == args.rounds {
            break;
        }
        // Miss `--missed` attacks, counted from what the sender has sent by now.
        let from = sent.load(Ordering::Relaxed);
        while sent.load(Ordering::Relaxed) < from + args.missed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(tally)
}

/// Read the join's ack and the attacks until the client holds every attack up to the
/// ack's position (at least one attack when it had no position yet); check the offsets
/// continue `from` with no gap and none twice. Returns the last position seen.
async fn catch_up(
    reader: &mut Reader,
    from: Option<Position>,
    tally: &mut RoomTally,
) -> Result<Position, BenchError> {
    let bound = Duration::from_secs(10);
    let mut last = from.clone();
    let mut target: Option<u64> = None;
    let deadline = Instant::now() + bound;
    loop {
        if let (Some(t), Some(l)) = (target, &last)
            && l.offset >= t
        {
            return Ok(l.clone());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let packet = tokio::time::timeout(left, reader.next_packet())
            .await
            .map_err(|_| BenchError::Protocol(format!("not caught up within {bound:?}")))?
            .ok_or_else(|| BenchError::Protocol("connection closed during replay".into()))?;
        match packet {
            Packet::Ack(0, body) => {
                if !body.contains(r#""ok":true"#) {
                    return Err(BenchError::Protocol(format!("join_room refused: {body}")));
                }
                if body.contains(r#""resync":true"#) {
                    tally.resyncs += 1;
                    // Start over from the room's newest position.
                    last = position(&body);
                }
                tally.replayed += scan_u64(&body, "replayed").unwrap_or(0);
                // `null` before the room's first attack: wait for one.
                target = Some(scan_u64(&body, "offset").unwrap_or(1));
            }
            Packet::Ack(..) => {}
            Packet::Event(ev) => {
                if !ev.starts_with(r#"["attack""#) {
                    continue;
                }
                let Some(seen) = position(&ev) else {
                    return Err(BenchError::Protocol(format!(
                        "an attack without a position: {ev}"
                    )));
                };
                match &last {
                    Some(l) if l.epoch == seen.epoch => {
                        if seen.offset <= l.offset {
                            tally.twice += 1;
                            continue;
                        }
                        tally.gaps += seen.offset - l.offset - 1;
                    }
                    // A new epoch (the history was lost) counts as a resync: the ack
                    // says so when it happened before the join.
                    Some(_) => tally.resyncs += 1,
                    None => {}
                }
                last = Some(seen);
            }
        }
    }
}

/// The `{epoch, offset}` in a JSON text, by scanning.
fn position(text: &str) -> Option<Position> {
    Some(Position {
        epoch: scan_str(text, "epoch")?.to_string(),
        offset: scan_u64(text, "offset")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_position_from_an_attack_and_an_ack() {
        let ev = r#"["attack",{"room":"r","damage":1,"from":"a","epoch":"e7","offset":42}]"#;
        assert_eq!(
            position(ev),
            Some(Position {
                epoch: "e7".into(),
                offset: 42
            })
        );
        let ack = r#"[{"ok":true,"room":"r","epoch":null,"offset":null,"replayed":0}]"#;
        assert_eq!(position(ack), None);
    }

    #[test]
    fn the_bound_grows_with_rounds_and_missed_attacks() {
        let a = |missed, rounds| ReplayArgs {
            common: Common {
                url: vec![],
                allow_remote: false,
                json: false,
                plot: None,
                token_secret: None,
            },
            rooms: 1,
            rate: 50,
            missed,
            rounds,
        };
        assert!(a(500, 10).limit() > a(100, 10).limit());
        assert!(a(100, 20).limit() > a(100, 10).limit());
    }
}
