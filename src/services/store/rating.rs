//! Elo ratings of a finished battle: pure arithmetic, no database.
//!
//! A 1v1 battle is standard Elo with K = 32: score 1 for the better rank, 0.5 each for
//! equal ranks (both unsolved, or the same penalty), 0 for the worse. A group battle of
//! n players is pairwise Elo: every pair is one such game, each weighted K/(n-1), so a
//! player's change is at most K whatever n is (and n = 2 is exactly the 1v1 rule).
//!
//! Ratings are integers. Rounding each change on its own could create or destroy a
//! point or two per battle; instead the rounded changes are corrected to sum to zero
//! (largest remainder), so the sum of all ratings never drifts.

/// Rating a new player starts with.
pub const START_RATING: i64 = 1200;

/// The Elo K factor: the most one battle can move a rating.
pub const K: f64 = 32.0;

/// One player's standing as the rating needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entrant {
    pub rating: i64,
    /// 1 = best; equal ranks are a draw between those two.
    pub rank: i64,
}

/// The probability that a player rated `a` beats one rated `b`.
pub fn expected(a: i64, b: i64) -> f64 {
    1.0 / (1.0 + 10f64.powf((b - a) as f64 / 400.0))
}

/// What `a` scored against `b`: 1 win, 0.5 draw, 0 loss (lower rank is better).
fn score(a: &Entrant, b: &Entrant) -> f64 {
    match a.rank.cmp(&b.rank) {
        std::cmp::Ordering::Less => 1.0,
        std::cmp::Ordering::Equal => 0.5,
        std::cmp::Ordering::Greater => 0.0,
    }
}

/// The ratings after the battle, in the order of `entrants`. Fewer than two players:
/// nothing changes (no one to compare with).
pub fn new_ratings(entrants: &[Entrant]) -> Vec<i64> {
    let n = entrants.len();
    if n < 2 {
        return entrants.iter().map(|e| e.rating).collect();
    }
    let weight = K / (n - 1) as f64;
    let exact: Vec<f64> = entrants
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let sum: f64 = entrants
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, b)| score(a, b) - expected(a.rating, b.rating))
                .sum();
            weight * sum
        })
        .collect();
    let deltas = round_conserving(&exact);
    entrants
        .iter()
        .zip(deltas)
        .map(|(e, d)| e.rating + d)
        .collect()
}

/// Round `exact` (which sums to about zero) to integers that sum to exactly zero: round
/// each to nearest, then move the surplus by one point at a time off the changes
/// that were rounded most in that direction (ties: the earlier entrant).
fn round_conserving(exact: &[f64]) -> Vec<i64> {
    let mut rounded: Vec<i64> = exact.iter().map(|x| x.round() as i64).collect();
    let surplus: i64 = rounded.iter().sum();
    // How much each was rounded up (negative: down), in nano-points so that equal
    // remainders compare equal despite floating-point noise (then the earlier wins).
    let up = |i: usize, r: &[i64]| ((r[i] as f64 - exact[i]) * 1e9).round() as i64;
    for _ in 0..surplus.unsigned_abs() {
        let mut order: Vec<usize> = (0..exact.len()).collect();
        if surplus > 0 {
            // Take a point from the one rounded up the most.
            order.sort_by_key(|&i| (std::cmp::Reverse(up(i, &rounded)), i));
            rounded[order[0]] -= 1;
        } else {
            order.sort_by_key(|&i| (up(i, &rounded), i));
            rounded[order[0]] += 1;
        }
    }
    rounded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(rating: i64, rank: i64) -> Entrant {
        Entrant { rating, rank }
    }

    #[test]
    fn a_1v1_between_equals_moves_16_points() {
        assert_eq!(new_ratings(&[e(1200, 1), e(1200, 2)]), vec![1216, 1184]);
        assert_eq!(new_ratings(&[e(1200, 2), e(1200, 1)]), vec![1184, 1216]);
    }

    #[test]
    fn an_upset_pays_more_than_an_expected_win() {
        // E(1184 beats 1216) = 1 / (1 + 10^(32/400)) = 0.4540; 32 x 0.5460 = 17.47.
        assert_eq!(new_ratings(&[e(1216, 2), e(1184, 1)]), vec![1199, 1201]);
        // The favourite winning: 32 x (1 - 0.5460) = 14.53.
        assert_eq!(new_ratings(&[e(1216, 1), e(1184, 2)]), vec![1231, 1169]);
    }

    #[test]
    fn a_draw_moves_ratings_toward_each_other() {
        assert_eq!(new_ratings(&[e(1200, 1), e(1200, 1)]), vec![1200, 1200]);
        // 32 x (0.5 - E(1300 vs 1100) = 0.7597) = -8.31.
        assert_eq!(new_ratings(&[e(1300, 2), e(1100, 2)]), vec![1292, 1108]);
    }

    #[test]
    fn a_group_is_pairwise_elo_with_k_over_n_minus_1() {
        // Four equals, ranks 1..4: (wins - 1.5) x 32/3 = +16, +5.33, -5.33, -16.
        assert_eq!(
            new_ratings(&[e(1200, 1), e(1200, 2), e(1200, 3), e(1200, 4)]),
            vec![1216, 1205, 1195, 1184]
        );
        // Shared rank 2: the two draw with each other, 0 each.
        assert_eq!(
            new_ratings(&[e(1200, 1), e(1200, 2), e(1200, 2), e(1200, 4)]),
            vec![1216, 1200, 1200, 1184]
        );
    }

    #[test]
    fn rounding_never_creates_or_destroys_points() {
        // Ranks 1, 2, 3, 3 among equals: +16, +5.33, -10.67, -10.67 round to
        // 16 + 5 - 11 - 11 = -1; one point goes back to the earliest of those rounded
        // down the most (all three by 1/3): the rank-2 player.
        assert_eq!(
            new_ratings(&[e(1200, 1), e(1200, 2), e(1200, 3), e(1200, 3)]),
            vec![1216, 1206, 1189, 1189]
        );
        let fields = [
            vec![e(1500, 1), e(1210, 3), e(1333, 2), e(987, 5), e(1200, 4)],
            vec![e(1000, 2), e(2000, 1), e(1500, 2)],
            vec![
                e(1700, 3),
                e(1200, 1),
                e(1201, 2),
                e(1199, 2),
                e(900, 6),
                e(1450, 5),
            ],
        ];
        for f in fields {
            let before: i64 = f.iter().map(|x| x.rating).sum();
            let after: i64 = new_ratings(&f).iter().sum();
            assert_eq!(before, after, "{f:?}");
        }
    }

    #[test]
    fn a_lone_player_keeps_the_rating() {
        assert_eq!(new_ratings(&[e(1234, 1)]), vec![1234]);
        assert!(new_ratings(&[]).is_empty());
    }
}
