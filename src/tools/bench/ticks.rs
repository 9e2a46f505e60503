//! `arena bench ticks`: watch `server_tick` from every instance; every interval must have
//! exactly one tick, seen by every client with the same number and winner.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::common::{BenchError, Common, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{cpu_between, statuses};
use super::wire::{Wire, scan_str, scan_u64};

#[derive(Debug, Clone, Args)]
pub struct TicksArgs {
    #[command(flatten)]
    pub common: Common,
    /// Seconds to observe (at most 3600).
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
}

/// Per interval: how many ticks each observer saw and from whom.
pub type Observed = Vec<BTreeMap<u64, Vec<String>>>;

/// The verdict over the intervals every observer watched in full.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TickCounts {
    pub intervals: u64,
    pub with_0: u64,
    pub with_1: u64,
    pub with_2_plus: u64,
    pub disagreements: u64,
}

/// Judge intervals `first..=last` from what each observer saw.
pub fn judge(observed: &Observed, first: u64, last: u64) -> TickCounts {
    let mut c = TickCounts::default();
    for n in first..=last {
        c.intervals += 1;
        let seen: Vec<&[String]> = observed
            .iter()
            .map(|m| m.get(&n).map(Vec::as_slice).unwrap_or(&[]))
            .collect();
        let most = seen.iter().map(|s| s.len()).max().unwrap_or(0);
        match most {
            0 => c.with_0 += 1,
            1 => c.with_1 += 1,
            _ => c.with_2_plus += 1,
        }
        if seen.iter().any(|s| *s != seen[0]) {
            c.disagreements += 1;
        }
    }
    c
}

pub async fn run(args: TicksArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    let hs = super::common::Handshake::of(&args.common)?;
    if args.seconds == 0 || args.seconds > 3600 {
        return Err(BenchError::Invalid("--seconds must be 1..=3600".into()));
    }
    let status = statuses(&addrs).await?;
    let tick_ms = status.iter().map(|s| s.tick_ms).max().unwrap_or(0).max(1);
    let mut tasks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    for (i, a) in addrs.iter().enumerate() {
        let w = Wire::connect(
            &format!("http://{a}"),
            &hs.auth(&format!("tick-watch-{i}"))?,
        )
        .await?;
        let (_writer, mut reader) = w.split();
        tasks.push(tokio::spawn(async move {
            let _keep = _writer;
            let mut seen: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            // Delay from the start of interval n to this client receiving its tick.
            let mut delay = histogram();
            while let Ok(Some(ev)) =
                tokio::time::timeout_at(deadline.into(), reader.next_event()).await
            {
                if ev.starts_with(r#"["server_tick""#)
                    && let Some(n) = scan_u64(&ev, "tick")
                {
                    seen.entry(n)
                        .or_default()
                        .push(scan_str(&ev, "instanceId").unwrap_or("?").to_string());
                    let late_ms = crate::base::clock::unix_ms().saturating_sub(n * tick_ms);
                    delay.saturating_record((late_ms * 1000).max(1));
                }
            }
            (seen, delay)
        }));
    }
    let pb = progress(args.seconds, "observing ticks");
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        pb.set_position(
            args.seconds
                .saturating_sub(deadline.saturating_duration_since(Instant::now()).as_secs()),
        );
    }
    let mut observed: Observed = Vec::new();
    let mut delay = histogram();
    for t in tasks {
        let (seen, d) = t.await.unwrap_or_else(|_| (BTreeMap::new(), histogram()));
        observed.push(seen);
        let _ = delay.add(&d);
    }
    let delay_lat = Latency::of(&delay);
    let cpu = cpu_between(&status, &statuses(&addrs).await?);
    write_plot(&args.common, || {
        plot_svg(
            "server_tick delay after the interval boundary",
            &[("tick received", &delay)],
        )
    })?;
    pb.finish_and_clear();
    // Judge only the intervals every observer watched in full: skip the first and last seen.
    let first = observed
        .iter()
        .filter_map(|m| m.keys().next().copied())
        .max()
        .map(|n| n + 1);
    let last = observed
        .iter()
        .filter_map(|m| m.keys().next_back().copied())
        .min()
        .map(|n| n.saturating_sub(1));
    let counts = match (first, last) {
        (Some(f), Some(l)) if f <= l => judge(&observed, f, l),
        _ => TickCounts::default(),
    };
    let mut winners: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(m) = observed.first() {
        for w in m.values().flatten() {
            *winners.entry(w.clone()).or_default() += 1;
        }
    }
    let ok = counts.intervals > 0
        && counts.with_0 == 0
        && counts.with_2_plus == 0
        && counts.disagreements == 0;
    let rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        ("tick interval".into(), format!("{tick_ms} ms")),
        ("intervals judged".into(), counts.intervals.to_string()),
        (
            "with 0 / 1 / 2+ ticks".into(),
            format!(
                "{} / {} / {}",
                counts.with_0, counts.with_1, counts.with_2_plus
            ),
        ),
        (
            "observers disagreeing".into(),
            counts.disagreements.to_string(),
        ),
        ("wins by instance".into(), format!("{winners:?}")),
        ("server CPU during the run".into(), format!("{cpu:.2} s")),
        (
            "tick delay p50/p99/max".into(),
            format!(
                "{:.1} / {:.1} / {:.1} ms after the boundary",
                delay_lat.p50_ms, delay_lat.p99_ms, delay_lat.max_ms
            ),
        ),
        (
            "verdict".into(),
            if ok {
                "exactly one tick per interval".into()
            } else {
                "FAILED".into()
            },
        ),
    ];
    let j = json!({"scenario": "ticks", "instances": addrs.len(), "tick_ms": tick_ms, "counts": counts, "wins": winners, "delay": delay_lat, "server_cpu_s": cpu, "ok": ok});
    Ok(emit(&args.common, "arena bench ticks", rows, j, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_intervals() {
        let a: BTreeMap<u64, Vec<String>> = [
            (1, vec!["x".into()]),
            (2, vec!["y".into(), "y".into()]),
            (4, vec!["x".into()]),
        ]
        .into();
        let b: BTreeMap<u64, Vec<String>> = [
            (1, vec!["x".into()]),
            (2, vec!["y".into()]),
            (4, vec!["z".into()]),
        ]
        .into();
        let c = judge(&vec![a, b], 1, 4);
        assert_eq!(
            c,
            TickCounts {
                intervals: 4,
                with_0: 1,
                with_1: 2,
                with_2_plus: 1,
                disagreements: 2
            }
        );
    }
}
