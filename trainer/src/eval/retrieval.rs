//! Retrieval scores over labelled embeddings: precision@1 and MAP@R (Musgrave et al., 2020).
//!
//! Every item is a query against all the others. For a query with `R` other items of its label,
//! the others are ranked by increasing distance (ties broken by item index, so a tie never helps);
//! precision@1 asks whether the first is of its label, and MAP@R averages, over the first `R`
//! ranks, the precision at each rank that holds an item of its label, divided by `R`. Queries whose
//! label has no other item are skipped. Cost: `n^2` distances and `n` sorts; meant for held-out
//! sets of a few thousand items at most.

use serde::{Deserialize, Serialize};

use super::interval::{Interval, IntervalMethod, Rate, Z95};
use super::EvalError;

/// Precision@1 and MAP@R over all queries of a labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalScores {
    /// Queries scored (items whose label has at least one other item).
    pub queries: u64,
    /// Queries whose nearest other item has their label, over `queries`.
    pub precision_at_1: Rate,
    /// Mean average precision at R, in `[0, 1]`.
    pub map_at_r: f64,
    /// `map_at_r` +- 1.96 standard errors over queries, clamped to `[0, 1]`.
    pub map_at_r_ci95: Interval,
}

/// Scores `labels.len()` items whose pairwise distance is `distance(i, j)` (symmetric, smaller =
/// more alike). Fails when no query can be scored or a distance is NaN.
pub fn retrieval_scores<L: PartialEq>(
    labels: &[L],
    distance: impl Fn(usize, usize) -> f64,
) -> Result<RetrievalScores, EvalError> {
    let n = labels.len();
    let mut hits_at_1 = 0u64;
    let mut aps = Vec::with_capacity(n);
    let mut ranked: Vec<(f64, usize)> = Vec::with_capacity(n);
    for q in 0..n {
        let r = labels
            .iter()
            .enumerate()
            .filter(|&(j, l)| j != q && *l == labels[q])
            .count();
        if r == 0 {
            continue;
        }
        ranked.clear();
        for j in (0..n).filter(|&j| j != q) {
            let d = distance(q, j);
            if d.is_nan() {
                return Err(EvalError::NanDistance {
                    kind: "retrieval",
                    index: q * n + j,
                });
            }
            ranked.push((d, j));
        }
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if labels[ranked[0].1] == labels[q] {
            hits_at_1 += 1;
        }
        let mut relevant = 0usize;
        let mut sum = 0.0;
        for (k, &(_, j)) in ranked.iter().take(r).enumerate() {
            if labels[j] == labels[q] {
                relevant += 1;
                sum += relevant as f64 / (k + 1) as f64;
            }
        }
        aps.push(sum / r as f64);
    }
    if aps.is_empty() {
        return Err(EvalError::NoTrials {
            kind: "retrieval query",
        });
    }
    let m = aps.len() as f64;
    let mean = aps.iter().sum::<f64>() / m;
    let var = if aps.len() > 1 {
        aps.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (m - 1.0)
    } else {
        0.0
    };
    let half = Z95 * (var / m).sqrt();
    Ok(RetrievalScores {
        queries: aps.len() as u64,
        precision_at_1: Rate::new(hits_at_1, aps.len() as u64),
        map_at_r: mean,
        map_at_r_ci95: Interval {
            lower: (mean - half).max(0.0),
            upper: (mean + half).min(1.0),
            method: IntervalMethod::NormalMean,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_a_line(x: &'static [f64]) -> impl Fn(usize, usize) -> f64 {
        move |i, j| (x[i] - x[j]).abs()
    }

    // Worked by hand. x = [0, 1, 5, 7, 0.5], labels [0, 0, 1, 1, 1].
    // q0: ranking 4(0.5) 1(1) 2 3; R = 1; first is label 1 -> AP 0, miss.
    // q1: ranking 4(0.5) 0(1) ...; R = 1 -> AP 0, miss.
    // q2: ranking 3(2) 1(4) 4(4.5) 0(5); R = 2; ranks 1 (hit, P 1), 2 (miss) -> AP 1/2, hit.
    // q3: ranking 2(2) 1(6) 4(6.5) 0(7); R = 2 -> AP 1/2, hit.
    // q4: ranking 0(0.5) 1(0.5, tie: by index) 2 3; R = 2; both misses -> AP 0, miss.
    // precision@1 = 2/5, MAP@R = 1/5.
    #[test]
    fn hand_worked_example() {
        let s = retrieval_scores(&[0, 0, 1, 1, 1], on_a_line(&[0.0, 1.0, 5.0, 7.0, 0.5])).unwrap();
        assert_eq!(s.queries, 5);
        assert_eq!((s.precision_at_1.count, s.precision_at_1.total), (2, 5));
        assert!((s.map_at_r - 0.2).abs() < 1e-12);
        assert!(s.map_at_r_ci95.contains(0.2));
    }

    // Label 0 at x = 0, 1, 3, 10; label 1 at x = 2 (skipped: no other item of its label). R = 3.
    // q0 (x=0):  1(1) 4(2) 2(3) 3(10): hit, miss, hit -> (1 + 2/3) / 3 = 5/9.
    // q1 (x=1):  0(1) 4(1, tie: by index) 2(2) 3(9): hit, miss, hit -> 5/9.
    // q2 (x=3):  4(1) 1(2) 0(3) 3(7): miss, hit, hit -> (1/2 + 2/3) / 3 = 7/18.
    // q3 (x=10): 2(7) 4(8) 1(9) 0(10): hit, miss, hit -> 5/9.
    #[test]
    fn average_precision_counts_precision_at_each_hit() {
        let s = retrieval_scores(&[0, 0, 0, 0, 1], on_a_line(&[0.0, 1.0, 3.0, 10.0, 2.0])).unwrap();
        let expect = (3.0 * 5.0 / 9.0 + 7.0 / 18.0) / 4.0;
        assert_eq!(s.queries, 4);
        assert!((s.map_at_r - expect).abs() < 1e-12, "{s:?}");
        assert_eq!(s.precision_at_1.count, 3);
    }

    #[test]
    fn perfect_clusters_score_one() {
        let s = retrieval_scores(&[0, 0, 0, 1, 1], on_a_line(&[0.0, 0.1, 0.2, 5.0, 5.1])).unwrap();
        assert_eq!(s.precision_at_1.value, 1.0);
        assert_eq!(s.map_at_r, 1.0);
    }

    #[test]
    fn needs_a_scorable_query() {
        assert!(retrieval_scores(&[0, 1, 2], |_, _| 1.0).is_err());
        assert!(retrieval_scores(&[0, 0], |_, _| f64::NAN).is_err());
    }
}
