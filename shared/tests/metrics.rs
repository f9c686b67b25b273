//! Every metric against a naive f64 reference, with explicit tolerances.
//!
//! f32 sums of `n` terms carry a rounding error of at most about `(n / 4 + 8) * 2^-23` times the
//! sum of the absolute terms (four lanes, then a few more roundings per term); the integer sums
//! are exact.

use proptest::prelude::*;
use siamedge_format::metric::{
    cosine_distance, dot_i8, l1, l1_i8, l2, logistic_probability, mahalanobis, mahalanobis_diag,
    squared_l2, squared_l2_i8,
};
use siamedge_format::{EmbeddingRef, FormatError, LeF32Slice, Metric, ModelId};

const EPS: f64 = f32::EPSILON as f64;

fn bound(n: usize, sum_abs: f64) -> f64 {
    (n as f64 / 4.0 + 8.0) * EPS * sum_abs + 1e-30
}

fn pair(max: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0..=max).prop_flat_map(|n| {
        (
            prop::collection::vec(-100.0f32..100.0, n),
            prop::collection::vec(-100.0f32..100.0, n),
        )
    })
}

fn d64<'a>(a: &'a [f32], b: &'a [f32]) -> impl Iterator<Item = f64> + 'a {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) - f64::from(*y))
}

fn ok(r: Result<f32, FormatError>) -> f64 {
    f64::from(r.unwrap_or(f32::NAN))
}

fn ref_cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum();
    if na == 0.0 || nb == 0.0 {
        1.0
    } else {
        (1.0 - dot / (na.sqrt() * nb.sqrt())).clamp(0.0, 2.0)
    }
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

proptest! {
    #[test]
    fn squared_l2_l2_l1((a, b) in pair(1024)) {
        let exact: f64 = d64(&a, &b).map(|d| d * d).sum();
        let tol = bound(a.len(), exact);
        prop_assert!((ok(squared_l2(&a, &b)) - exact).abs() <= tol, "{} vs {exact}", ok(squared_l2(&a, &b)));
        let l2_tol = tol.sqrt() + 2.0 * EPS * exact.sqrt();
        prop_assert!((ok(l2(&a, &b)) - exact.sqrt()).abs() <= l2_tol);
        let exact1: f64 = d64(&a, &b).map(f64::abs).sum();
        prop_assert!((ok(l1(&a, &b)) - exact1).abs() <= bound(a.len(), exact1));
    }

    #[test]
    fn cosine((a, b) in pair(1024)) {
        let got = ok(cosine_distance(&a, &b));
        prop_assert!((0.0..=2.0).contains(&got));
        let tol = 4.0 * bound(a.len(), 1.0) + 1e-6;
        prop_assert!((got - ref_cosine(&a, &b)).abs() <= tol, "{got} vs {}", ref_cosine(&a, &b));
        if a.iter().any(|x| *x != 0.0) {
            prop_assert!(ok(cosine_distance(&a, &a)) <= tol);
        }
    }

    #[test]
    fn mahalanobis_diagonal((a, b) in pair(256), seed in prop::collection::vec(0.0f32..10.0, 256)) {
        let w = &seed[..a.len()];
        let exact: f64 = d64(&a, &b).zip(w).map(|(d, w)| f64::from(*w) * d * d).sum();
        let tol = bound(a.len(), exact).sqrt() + 2.0 * EPS * exact.sqrt();
        prop_assert!((ok(mahalanobis_diag(&a, &b, w)) - exact.sqrt()).abs() <= tol);
        let bytes = le_bytes(w);
        let metric = Metric::MahalanobisDiag(LeF32Slice::new(&bytes).unwrap_or_default());
        prop_assert!((ok(metric.distance(&a, &b)) - exact.sqrt()).abs() <= tol);
    }

    #[test]
    fn mahalanobis_full((a, b) in pair(24), m in prop::collection::vec(-2.0f32..2.0, 576)) {
        let n = a.len();
        let m = &m[..n * n];
        let diff: Vec<f64> = d64(&a, &b).collect();
        let mut q = 0.0;
        let mut q_abs = 0.0;
        for i in 0..n {
            for j in 0..n {
                let t = diff[i] * f64::from(m[i * n + j]) * diff[j];
                q += t;
                q_abs += t.abs();
            }
        }
        let tol = (((n + 8) as f64) * EPS * q_abs).sqrt() + 1e-6;
        prop_assert!((ok(mahalanobis(&a, &b, m)) - q.max(0.0).sqrt()).abs() <= tol);
    }

    #[test]
    fn integer_sums_are_exact(
        (a, b) in (0..=1024usize).prop_flat_map(|n| (prop::collection::vec(any::<i8>(), n), prop::collection::vec(any::<i8>(), n)))
    ) {
        let sq: i64 = a.iter().zip(&b).map(|(x, y)| (i64::from(*x) - i64::from(*y)).pow(2)).sum();
        let l1s: i64 = a.iter().zip(&b).map(|(x, y)| (i64::from(*x) - i64::from(*y)).abs()).sum();
        let dot: i64 = a.iter().zip(&b).map(|(x, y)| i64::from(*x) * i64::from(*y)).sum();
        prop_assert_eq!(squared_l2_i8(&a, &b).map(i64::from), Ok(sq));
        prop_assert_eq!(l1_i8(&a, &b).map(i64::from), Ok(l1s));
        prop_assert_eq!(dot_i8(&a, &b).map(i64::from), Ok(dot));
    }

    #[test]
    fn int8_embeddings_against_f64(
        (a, b) in (1..=1024usize).prop_flat_map(|n| (prop::collection::vec(any::<i8>(), n), prop::collection::vec(any::<i8>(), n))),
        sa in 0.001f32..1.0,
        sb in 0.001f32..1.0,
        same in any::<bool>(),
        w in prop::collection::vec(0.0f32..4.0, 1024),
    ) {
        let sb = if same { sa } else { sb };
        let model = ModelId([3; 16]);
        let ea = EmbeddingRef { model, scale: sa, values: &a };
        let eb = EmbeddingRef { model, scale: sb, values: &b };
        let ra: Vec<f64> = a.iter().map(|q| f64::from(*q) * f64::from(sa)).collect();
        let rb: Vec<f64> = b.iter().map(|q| f64::from(*q) * f64::from(sb)).collect();
        let n = a.len();
        let w = &w[..n];
        // Real values are rounded to f32 first on the mixed-scale paths: two more roundings per term,
        // and a sequential sum (n roundings) instead of lanes.
        let tol = |sum_abs: f64| (n as f64 + 8.0) * EPS * sum_abs + 1e-12;
        let sq: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
        let l1r: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).abs()).sum();
        let wsq: f64 = ra.iter().zip(&rb).zip(w).map(|((x, y), w)| f64::from(*w) * (x - y).powi(2)).sum();
        let fa: Vec<f32> = ra.iter().map(|v| *v as f32).collect();
        let fb: Vec<f32> = rb.iter().map(|v| *v as f32).collect();
        let cos = ref_cosine(&fa, &fb);
        let got = |m: Metric<'_>| ok(m.distance_i8(ea, eb));
        prop_assert!((got(Metric::SquaredL2) - sq).abs() <= tol(sq));
        prop_assert!((got(Metric::L2) - sq.sqrt()).abs() <= tol(sq).sqrt() + 2.0 * EPS * sq.sqrt());
        prop_assert!((got(Metric::L1) - l1r).abs() <= tol(l1r));
        prop_assert!((got(Metric::Cosine) - cos).abs() <= 1e-6, "{} vs {cos}", got(Metric::Cosine));
        let bytes = le_bytes(w);
        let diag = Metric::MahalanobisDiag(LeF32Slice::new(&bytes).unwrap_or_default());
        prop_assert!((got(diag) - wsq.sqrt()).abs() <= tol(wsq).sqrt() + 2.0 * EPS * wsq.sqrt());
        if same {
            // Exact integer path: one rounding of an exact value.
            prop_assert!((got(Metric::SquaredL2) - sq).abs() <= 2.0 * EPS * sq);
        }
    }

    #[test]
    fn probability_against_f64(d in 0.0f32..50.0, m in 0.0f32..10.0, d2 in 0.0f32..50.0) {
        let (df, mf) = (f64::from(d), f64::from(m));
        let exact = (1.0 + (-mf).exp()) / (1.0 + (df - mf).exp());
        let got = f64::from(logistic_probability(d, m));
        prop_assert!((got - exact).abs() <= 1e-6 * exact + 1e-37, "{got} vs {exact}");
        let (lo, hi) = if d <= d2 { (d, d2) } else { (d2, d) };
        prop_assert!(logistic_probability(lo, m) >= logistic_probability(hi, m));
    }

    #[test]
    fn length_mismatch_is_an_error((a, b) in pair(64), extra in -100.0f32..100.0) {
        let mut long = b.clone();
        long.push(extra);
        let e = Err(FormatError::DimensionMismatch { expected: a.len(), found: long.len() });
        prop_assert_eq!(squared_l2(&a, &long), e);
        prop_assert_eq!(l2(&a, &long), e);
        prop_assert_eq!(l1(&a, &long), e);
        prop_assert_eq!(cosine_distance(&a, &long), e);
        prop_assert_eq!(mahalanobis_diag(&a, &b, &long), e);
        prop_assert!(mahalanobis(&a, &b, &long).is_err() || a.len() * a.len() == long.len());
    }
}
