//! Comparators: is a run's output the expected one?

use super::submission::Comparator;

/// Whether `actual` matches `expected` under `how`.
pub fn matches(how: Comparator, actual: &[u8], expected: &[u8]) -> bool {
    match how {
        Comparator::Exact => actual == expected,
        Comparator::Whitespace => tokens(actual).eq(tokens(expected)),
        Comparator::Float { abs, rel } => {
            let (mut a, mut e) = (tokens(actual), tokens(expected));
            loop {
                match (a.next(), e.next()) {
                    (None, None) => return true,
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => {
                        if !close(x, y, abs, rel) {
                            return false;
                        }
                    }
                    _ => return false,
                }
            }
        }
    }
}

fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
}

/// Two numeric tokens within `abs`, or within `rel` times the expected value. Tokens
/// that are not both finite numbers are not close (they already differ as text).
fn close(actual: &[u8], expected: &[u8], abs: f64, rel: f64) -> bool {
    let parse = |t: &[u8]| -> Option<f64> {
        std::str::from_utf8(t)
            .ok()?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
    };
    match (parse(actual), parse(expected)) {
        (Some(a), Some(e)) => {
            let d = (a - e).abs();
            d <= abs || d <= rel * e.abs()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: Comparator = Comparator::Whitespace;

    #[test]
    fn exact_is_byte_for_byte() {
        assert!(matches(Comparator::Exact, b"1 2\n", b"1 2\n"));
        assert!(!matches(Comparator::Exact, b"1 2", b"1 2\n"));
    }

    #[test]
    fn whitespace_ignores_runs_and_ends_but_not_tokens() {
        assert!(matches(WS, b"1  2\r\n3\n\n", b"1 2 3"));
        assert!(matches(WS, b"", b"\n"));
        assert!(!matches(WS, b"12", b"1 2"));
        assert!(!matches(WS, b"1 2 3", b"1 2"));
    }

    #[test]
    fn float_accepts_within_tolerance_only() {
        let f = Comparator::Float {
            abs: 1e-6,
            rel: 0.0,
        };
        assert!(matches(f, b"0.3333334 x", b"0.333333 x"));
        assert!(!matches(f, b"0.3334", b"0.3333"));
        assert!(!matches(f, b"0.3 y", b"0.3 x"));
        assert!(!matches(f, b"nan", b"nan0"));
        let r = Comparator::Float {
            abs: 0.0,
            rel: 1e-3,
        };
        assert!(matches(r, b"1000.9", b"1000"));
        assert!(!matches(r, b"1002", b"1000"));
        assert!(!matches(r, b"1 2", b"1"));
    }
}
