//! `arena bench battles`: contended battle starts. Each round, `--contenders` clients
//! spread over the instances start the battle of the same pairing at once (one creates
//! it, the rest must get the same id), for `--pairings` pairings in parallel; then the
//! battles end and the next round begins.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::common::{BenchError, Common, Outcome, emit, progress, targets, write_plot};
use super::report::{Latency, histogram, plot_svg};
use super::status::{cpu_between, statuses};
use crate::tools::client::Client;

#[derive(Debug, Clone, Args)]
pub struct BattlesArgs {
    #[command(flatten)]
    pub common: Common,
    /// Pairings raced in parallel each round.
    #[arg(long, default_value_t = 10)]
    pub pairings: usize,
    /// Clients starting the same pairing at once.
    #[arg(long, default_value_t = 10)]
    pub contenders: usize,
    /// Rounds (at most 10000).
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
}

pub async fn run(args: BattlesArgs) -> Result<Outcome, BenchError> {
    let addrs = targets(&args.common)?;
    if args.pairings == 0
        || args.contenders == 0
        || args.rounds == 0
        || args.rounds > 10_000
        || args.pairings * args.contenders > 5000
    {
        return Err(BenchError::Invalid(
            "need 1..=10000 rounds and 1..=5000 clients".into(),
        ));
    }
    let before = statuses(&addrs).await?;
    let run_id: u32 = rand::random();
    let mut clients = Vec::new();
    for i in 0..args.pairings * args.contenders {
        let url = format!("http://{}", addrs[i % addrs.len()]);
        let c = Client::connect(&url, json!({"player": format!("mm{run_id:x}-{i}")}))
            .await
            .map_err(|e| BenchError::Connect(url, e.to_string()))?;
        clients.push(c);
    }
    let pb = progress(args.rounds as u64, "rounds");
    let mut hist = histogram();
    let (mut starts, mut created, mut mismatches, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for round in 0..args.rounds {
        let calls = clients.iter().enumerate().map(|(i, c)| {
            let pairing = i / args.contenders;
            let players = json!([
                format!("a{run_id:x}-{pairing}-{round}"),
                format!("b{run_id:x}-{pairing}-{round}")
            ]);
            async move {
                let t = Instant::now();
                let ack = c
                    .emit_with_ack(
                        "start_battle",
                        &json!({"players": players}),
                        Duration::from_secs(30),
                    )
                    .await;
                (pairing, ack, t.elapsed())
            }
        });
        let results = futures_util::future::join_all(calls).await;
        let mut ids: Vec<Option<String>> = vec![None; args.pairings];
        for (pairing, ack, took) in results {
            starts += 1;
            hist.saturating_record(took.as_micros() as u64);
            match ack {
                Ok(a) if a["ok"] == json!(true) => {
                    created += u64::from(a["created"] == json!(true));
                    let id = a["battleId"].as_str().unwrap_or_default().to_string();
                    match &ids[pairing] {
                        Some(first) if *first != id => mismatches += 1,
                        Some(_) => {}
                        None => ids[pairing] = Some(id),
                    }
                }
                _ => errors += 1,
            }
        }
        for id in ids.into_iter().flatten() {
            let _ = clients[0]
                .emit_with_ack(
                    "end_battle",
                    &json!({"battleId": id}),
                    Duration::from_secs(10),
                )
                .await;
        }
        pb.inc(1);
    }
    let seconds = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let after = statuses(&addrs).await?;
    let cpu = cpu_between(&before, &after);
    let expected_created = (args.rounds * args.pairings) as u64;
    let ok = mismatches == 0 && errors == 0 && created == expected_created;
    let latency = Latency::of(&hist);
    write_plot(&args.common, || {
        plot_svg(
            "battle start latency (contended)",
            &[("start_battle ack", &hist)],
        )
    })?;
    let rows = vec![
        ("instances".to_string(), addrs.len().to_string()),
        (
            "pairings x contenders x rounds".into(),
            format!("{} x {} x {}", args.pairings, args.contenders, args.rounds),
        ),
        (
            "starts".into(),
            format!(
                "{starts} in {seconds:.2} s = {:.0}/s",
                starts as f64 / seconds
            ),
        ),
        (
            "battles created / expected".into(),
            format!("{created} / {expected_created}"),
        ),
        (
            "callers given another id / errors".into(),
            format!("{mismatches} / {errors}"),
        ),
        (
            "ack p50/p90/p99/max".into(),
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms",
                latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms
            ),
        ),
        ("server CPU".into(), format!("{cpu:.2} s")),
    ];
    let j = json!({
        "scenario": "battles", "instances": addrs.len(), "pairings": args.pairings, "contenders": args.contenders,
        "rounds": args.rounds, "starts": starts, "starts_per_s": starts as f64 / seconds, "created": created,
        "expected_created": expected_created, "mismatches": mismatches, "errors": errors, "latency": latency,
        "server_cpu_s": cpu, "ok": ok,
    });
    Ok(emit(&args.common, "arena bench battles", rows, j, ok))
}
