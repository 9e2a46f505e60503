//! A histogram read from the instances' `/metrics` (Prometheus text): its cumulative
//! buckets summed over the instances, and quantiles of what was observed between two
//! scrapes. For figures only the server can measure (e.g. the leaderboard projection's
//! lag, which `arena bench claims` and `arena bench projection` report).

use super::common::BenchError;
use crate::tools::http_client::http_get;

/// Cumulative buckets summed over instances: (upper bound in the metric's unit, count),
/// sorted by bound; `+Inf` last.
pub type Buckets = Vec<(f64, f64)>;

/// The buckets of histogram `metric` (no labels) on every instance, summed.
pub async fn buckets(addrs: &[String], metric: &str) -> Result<Buckets, BenchError> {
    let prefix = format!("{metric}_bucket{{le=\"");
    let mut out: Buckets = Vec::new();
    for a in addrs {
        let (code, body) = http_get(a, "/metrics")
            .await
            .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?;
        if code != 200 {
            return Err(BenchError::Status(
                a.clone(),
                format!("/metrics: HTTP {code}"),
            ));
        }
        for line in body.lines() {
            let Some(rest) = line.strip_prefix(&prefix) else {
                continue;
            };
            let Some((le, v)) = rest.split_once("\"} ") else {
                continue;
            };
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::NAN)
            };
            let v: f64 = v.trim().parse().unwrap_or(0.0);
            match out.iter_mut().find(|(b, _)| *b == le) {
                Some((_, c)) => *c += v,
                None => out.push((le, v)),
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

/// The buckets of `metric` once `n` observations were added since `before`, or after
/// `within`, whatever was observed by then (the caller reports the count).
pub async fn until_counted(
    addrs: &[String],
    metric: &str,
    before: &Buckets,
    n: u64,
    within: std::time::Duration,
) -> Result<Buckets, BenchError> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let now = buckets(addrs, metric).await?;
        if count(before, &now) >= n as f64 || std::time::Instant::now() > deadline {
            return Ok(now);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Observations between two scrapes.
pub fn count(before: &Buckets, after: &Buckets) -> f64 {
    let total = |b: &Buckets| b.last().map_or(0.0, |(_, c)| *c);
    total(after) - total(before)
}

/// Quantile `q` of the observations between two scrapes, interpolated linearly within a
/// bucket (so an estimate no finer than the buckets); `None` without observations.
pub fn quantile(before: &Buckets, after: &Buckets, q: f64) -> Option<f64> {
    let delta: Buckets = after
        .iter()
        .map(|(le, c)| {
            let old = before
                .iter()
                .find(|(b, _)| b == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, c - old)
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, c) in &delta {
        if c >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let within = if c > prev.1 {
                (rank - prev.1) / (c - prev.1)
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * within);
        }
        prev = (le, c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_the_observations_between_scrapes() {
        let before = vec![(0.001, 10.0), (0.01, 10.0), (f64::INFINITY, 10.0)];
        // 100 new observations: 90 at or under 1 ms, 9 up to 10 ms, 1 above.
        let after = vec![(0.001, 100.0), (0.01, 109.0), (f64::INFINITY, 110.0)];
        assert_eq!(count(&before, &after), 100.0);
        let p50 = quantile(&before, &after, 0.5).unwrap();
        assert!((p50 - 0.001 * 50.0 / 90.0).abs() < 1e-9, "{p50}");
        let p99 = quantile(&before, &after, 0.99).unwrap();
        assert!((p99 - 0.01).abs() < 1e-9, "{p99}");
        // Beyond the last finite bucket: its bound, the most that can be said.
        assert_eq!(quantile(&before, &after, 1.0), Some(0.01));
        assert_eq!(quantile(&after, &after, 0.5), None);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let before = vec![(0.01, 0.0), (0.1, 0.0), (f64::INFINITY, 0.0)];
        let after = vec![(0.01, 50.0), (0.1, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(&before, &after, 0.5).unwrap() - 0.01).abs() < 1e-9);
        assert!((quantile(&before, &after, 0.99).unwrap() - 0.0982).abs() < 1e-9);
        assert_eq!(quantile(&after, &after, 0.5), None);
    }
}
