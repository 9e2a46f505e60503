//! How a program's output is compared with a test's expected output.
//!
//! `whitespace` is the default because it is what contestants expect: the same tokens in
//! the same order, however they are spaced or split over lines, with or without a final
//! newline. `exact` is for problems where the layout is the answer. `float` compares
//! number tokens with a tolerance, so `0.333333` and `0.3333333333` both pass.

use serde::Serialize;

/// A comparator and its parameter.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Comparator {
    /// Byte for byte.
    Exact,
    /// The same whitespace-separated tokens in the same order.
    #[default]
    Whitespace,
    /// Like `Whitespace`, but a token that is a number in the expected output matches any
    /// number within `tolerance`, absolute or relative (`|a - e| <= tolerance * max(1, |e|)`).
    Float { tolerance: f64 },
}

impl Comparator {
    /// The kinds a problem file may name, for messages.
    pub const KINDS: &'static str = "exact, whitespace, float";
}

/// Whether `actual` is an accepted answer for `expected` under `kind`.
pub fn compare(kind: &Comparator, expected: &str, actual: &str) -> bool {
    match *kind {
        Comparator::Exact => expected == actual,
        Comparator::Whitespace => expected
            .split_ascii_whitespace()
            .eq(actual.split_ascii_whitespace()),
        Comparator::Float { tolerance } => {
            let mut e = expected.split_ascii_whitespace();
            let mut a = actual.split_ascii_whitespace();
            loop {
                match (e.next(), a.next()) {
                    (None, None) => return true,
                    (Some(e), Some(a)) if float_token_matches(e, a, tolerance) => {}
                    _ => return false,
                }
            }
        }
    }
}

/// A number in the expected output matches a finite number within the tolerance; any
/// other token (a word, `YES`) must be equal. `NaN` and `inf` never match a number.
fn float_token_matches(expected: &str, actual: &str, tolerance: f64) -> bool {
    match expected.parse::<f64>() {
        Ok(e) if e.is_finite() => match actual.parse::<f64>() {
            Ok(a) if a.is_finite() => (a - e).abs() <= tolerance * e.abs().max(1.0),
            _ => false,
        },
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOAT: Comparator = Comparator::Float { tolerance: 1e-6 };

    #[test]
    fn exact_is_byte_for_byte() {
        assert!(compare(&Comparator::Exact, "3\n", "3\n"));
        assert!(!compare(&Comparator::Exact, "3\n", "3"));
        assert!(!compare(&Comparator::Exact, "3\n", "3 \n"));
        assert!(!compare(&Comparator::Exact, "a b\n", "a  b\n"));
        assert!(!compare(&Comparator::Exact, "3\n", "3\r\n"));
        assert!(compare(&Comparator::Exact, "", ""));
    }

    #[test]
    fn whitespace_compares_tokens_in_order() {
        let w = Comparator::Whitespace;
        assert!(compare(&w, "1 2\n3\n", "1 2\n3"));
        assert!(compare(&w, "1 2\n3\n", "  1\t2 3 \r\n\n"));
        assert!(compare(&w, "", "\n \n"));
        assert!(!compare(&w, "1 2 3", "1 3 2"));
        assert!(!compare(&w, "1 2 3", "1 2"));
        assert!(!compare(&w, "1 2", "1 2 3"));
        assert!(!compare(&w, "12", "1 2"));
        assert!(!compare(&w, "YES", "yes"));
        assert!(!compare(&w, "0", ""));
    }

    #[test]
    fn float_allows_the_tolerance_absolute_or_relative() {
        assert!(compare(&FLOAT, "0.333333", "0.3333333333"));
        assert!(compare(&FLOAT, "2.5", "2.5000009"));
        assert!(compare(&FLOAT, "2.5", "2.500002")); // relative: 2e-6 <= 1e-6 * 2.5
        assert!(!compare(&FLOAT, "2.5", "2.500003"));
        // Relative for large magnitudes, absolute near zero.
        assert!(compare(&FLOAT, "1000000000", "1000000500"));
        assert!(!compare(&FLOAT, "1000000000", "1000002000"));
        assert!(compare(&FLOAT, "0", "-0.0000005"));
        assert!(compare(&FLOAT, "-3.25", "-3.25e0"));
        assert!(!compare(&FLOAT, "-3.25", "3.25"));
    }

    #[test]
    fn float_refuses_non_numbers_and_wrong_counts() {
        assert!(!compare(&FLOAT, "1.0", "abc"));
        assert!(!compare(&FLOAT, "1.0", "NaN"));
        assert!(!compare(&FLOAT, "1.0", "inf"));
        assert!(!compare(&FLOAT, "1.0 2.0", "1.0"));
        assert!(!compare(&FLOAT, "1.0", "1.0 2.0"));
        // Words are compared as words, beside numbers.
        assert!(compare(&FLOAT, "YES 1.5", "YES 1.5000001"));
        assert!(!compare(&FLOAT, "YES 1.5", "NO 1.5"));
    }
}
