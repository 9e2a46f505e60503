//! Latency histograms, the human table, the one-line JSON and the SVG plot.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A latency histogram in microseconds (1 µs .. 60 s, 3 significant figures).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds are valid")
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Print `rows` as an aligned two-column table.
pub fn table(title: &str, rows: &[(String, String)]) -> String {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n");
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<w$}  {v}");
    }
    out
}

/// An SVG plot of latency by percentile (x: 0 .. 99.99% on a log-of-remaining scale, the
/// usual HdrHistogram view; y: milliseconds).
pub fn plot_svg(title: &str, series: &[(&str, &Histogram<u64>)]) -> String {
    let (w, h, pad) = (720.0, 420.0, 56.0);
    // x = log10(1 / (1 - q)): 0 at p0, 1 at p90, 2 at p99, 3 at p99.9, 4 at p99.99.
    let xs: Vec<f64> = (0..=400).map(|i| i as f64 / 100.0).collect();
    let q_of = |x: f64| 1.0 - 10f64.powf(-x);
    let ymax = series
        .iter()
        .map(|(_, hist)| hist.value_at_quantile(q_of(4.0)) as f64 / 1000.0)
        .fold(0.0_f64, f64::max)
        .max(0.001)
        * 1.1;
    let px = |x: f64| pad + x / 4.0 * (w - 2.0 * pad);
    let py = |y: f64| h - pad - y / ymax * (h - 2.0 * pad);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>
<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="black"/>
"#,
        w / 2.0,
        xml_escape(title),
        h - pad,
        w - pad,
        h - pad,
        h - pad
    );
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%"].iter().enumerate() {
        let x = px(i as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{pad}" x2="{x}" y2="{}" stroke="#ddd"/><text x="{x}" y="{}" text-anchor="middle">{label}</text>"##,
            h - pad,
            h - pad + 18.0
        );
    }
    for i in 0..=4 {
        let y = ymax * i as f64 / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{pad}" y1="{0}" x2="{1}" y2="{0}" stroke="#eee"/><text x="{2}" y="{3}" text-anchor="end">{y:.2}</text>"##,
            py(y),
            w - pad,
            pad - 6.0,
            py(y) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})">latency (ms)</text>"#,
        h / 2.0,
        h / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        w / 2.0,
        h - 12.0
    );
    let colors = ["#6d28d9", "#16a34a", "#dc2626", "#2563eb"];
    for (i, (name, hist)) in series.iter().enumerate() {
        if hist.is_empty() {
            continue;
        }
        let pts: Vec<String> = xs
            .iter()
            .map(|&x| {
                format!(
                    "{:.1},{:.1}",
                    px(x),
                    py(hist.value_at_quantile(q_of(x)) as f64 / 1000.0)
                )
            })
            .collect();
        let color = colors[i % colors.len()];
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="{color}">{}</text>"#,
            pad + 10.0,
            pad + 16.0 * (i as f64 + 1.0),
            xml_escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_on_known_input() {
        let mut h = histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap(); // 1 ms .. 1000 ms
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() <= 1.0, "{l:?}");
        assert!((l.p90_ms - 900.0).abs() <= 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() <= 1.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() <= 1.0, "{l:?}");
        assert_eq!(Latency::of(&histogram()), Latency::default());
    }

    #[test]
    fn plot_is_svg() {
        let mut h = histogram();
        h.record(1500).unwrap();
        let svg = plot_svg("t <x>", &[("a", &h)]);
        assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("t &lt;x&gt;"));
    }
}
