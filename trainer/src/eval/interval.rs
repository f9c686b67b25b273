//! 95% confidence intervals for rates measured on a finite number of trials.
//!
//! Wilson score intervals for binomial proportions, with the rule of three (`[0, 3/n]`) when no
//! event was seen (and its mirror `[1 - 3/n, 1]` when every trial was an event), and the
//! Hanley-McNeil interval for an AUC. When not to use: the trials must be independent for the
//! binomial model to hold; pairs built from a few people share images, so these intervals are
//! optimistic (narrower than a resampling over people would give). They say how much a rate could
//! move from trial noise alone, not from a different choice of people.

use serde::{Deserialize, Serialize};

/// The two-sided 95% normal quantile, `Phi^-1(0.975)`.
pub const Z95: f64 = 1.959_963_984_540_054;

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Wilson score interval at 95%.
    Wilson,
    /// Rule of three: zero events in `n` trials gives `[0, 3/n]` (or all events: `[1 - 3/n, 1]`).
    RuleOfThree,
    /// Hanley-McNeil (1982) normal interval for an AUC, clamped to `[0, 1]`.
    HanleyMcNeil,
    /// A mean over items (MAP@R over queries): mean +- 1.96 standard errors, clamped to `[0, 1]`.
    NormalMean,
    /// No trials: the interval is the whole `[0, 1]`.
    NoTrials,
}

/// A closed interval `[lower, upper]` inside `[0, 1]` and how it was computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound, a fraction in `[0, 1]`.
    pub lower: f64,
    /// Upper bound, a fraction in `[0, 1]`.
    pub upper: f64,
    /// How the bounds were computed.
    pub method: IntervalMethod,
}

impl Interval {
    /// The 95% interval for `events` out of `trials`: Wilson, or the rule of three at 0 or at all
    /// events.
    /// `events > trials` is clamped to `trials`.
    pub fn binomial(events: u64, trials: u64) -> Self {
        let events = events.min(trials);
        if trials == 0 {
            return Self {
                lower: 0.0,
                upper: 1.0,
                method: IntervalMethod::NoTrials,
            };
        }
        let n = trials as f64;
        if events == 0 {
            return Self {
                lower: 0.0,
                upper: (3.0 / n).min(1.0),
                method: IntervalMethod::RuleOfThree,
            };
        }
        if events == trials {
            return Self {
                lower: (1.0 - 3.0 / n).max(0.0),
                upper: 1.0,
                method: IntervalMethod::RuleOfThree,
            };
        }
        Self::wilson(events as f64 / n, trials)
    }

    /// The 95% Wilson score interval for an observed proportion `p` (in `[0, 1]`, clamped) over
    /// `trials` trials; `p` need not be a whole count over `trials` (an interpolated EER, say).
    pub fn wilson(p: f64, trials: u64) -> Self {
        if trials == 0 {
            return Self {
                lower: 0.0,
                upper: 1.0,
                method: IntervalMethod::NoTrials,
            };
        }
        let p = p.clamp(0.0, 1.0);
        let n = trials as f64;
        let z2 = Z95 * Z95;
        let denom = 1.0 + z2 / n;
        let center = (p + z2 / (2.0 * n)) / denom;
        let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        Self {
            lower: (center - half).max(0.0),
            upper: (center + half).min(1.0),
            method: IntervalMethod::Wilson,
        }
    }

    /// The Hanley-McNeil 95% interval for an `auc` measured on `positives` genuine and `negatives`
    /// impostor trials: `auc +- 1.96 * SE`, clamped to `[0, 1]`.
    pub fn auc_hanley_mcneil(auc: f64, positives: u64, negatives: u64) -> Self {
        if positives == 0 || negatives == 0 {
            return Self {
                lower: 0.0,
                upper: 1.0,
                method: IntervalMethod::NoTrials,
            };
        }
        let a = auc.clamp(0.0, 1.0);
        let (n1, n2) = (positives as f64, negatives as f64);
        let q1 = a / (2.0 - a);
        let q2 = 2.0 * a * a / (1.0 + a);
        let var =
            (a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n2 - 1.0) * (q2 - a * a)) / (n1 * n2);
        let half = Z95 * var.max(0.0).sqrt();
        Self {
            lower: (a - half).max(0.0),
            upper: (a + half).min(1.0),
            method: IntervalMethod::HanleyMcNeil,
        }
    }

    /// Whether `x` lies in `[lower, upper]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// A rate measured by counting: `count` events out of `total` trials, its value and 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Events counted (false accepts, true accepts, correct decisions, ...).
    pub count: u64,
    /// Trials counted.
    pub total: u64,
    /// `count / total`, a fraction in `[0, 1]`; 0 when there are no trials.
    pub value: f64,
    /// 95% interval of the value, see [`Interval::binomial`].
    pub ci95: Interval,
}

impl Rate {
    /// `count` events out of `total` trials (`count` is clamped to `total`).
    pub fn new(count: u64, total: u64) -> Self {
        let count = count.min(total);
        let value = if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        };
        Self {
            count,
            total,
            value,
            ci95: Interval::binomial(count, total),
        }
    }

    /// The complementary rate: `total - count` events out of `total` (FRR from TAR, say).
    pub fn complement(&self) -> Self {
        Self::new(self.total - self.count, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values from numpy, the Wilson formula written out:
    // import numpy as np; z = 1.959963984540054
    // def wilson(k, n):
    //     p = k / n; d = 1 + z*z/n; c = (p + z*z/(2*n)) / d
    //     h = z / d * np.sqrt(p*(1-p)/n + z*z/(4*n*n)); return c - h, c + h
    // wilson(45, 450) -> (0.07557832118145835, 0.13119313390891818)
    // wilson(5, 4500) -> (0.00047469070550903037, 0.0025985655241448514)
    #[test]
    fn wilson_matches_numpy() {
        let i = Interval::binomial(45, 450);
        assert_eq!(i.method, IntervalMethod::Wilson);
        assert!((i.lower - 0.075_578_321_181_458_35).abs() < 1e-12, "{i:?}");
        assert!((i.upper - 0.131_193_133_908_918_18).abs() < 1e-12, "{i:?}");
        let i = Interval::binomial(5, 4500);
        assert!(
            (i.lower - 0.000_474_690_705_509_030_37).abs() < 1e-12,
            "{i:?}"
        );
        assert!(
            (i.upper - 0.002_598_565_524_144_851_4).abs() < 1e-12,
            "{i:?}"
        );
    }

    #[test]
    fn rule_of_three_at_zero_and_all() {
        let i = Interval::binomial(0, 4500);
        assert_eq!(
            i,
            Interval {
                lower: 0.0,
                upper: 3.0 / 4500.0,
                method: IntervalMethod::RuleOfThree
            }
        );
        let i = Interval::binomial(450, 450);
        assert_eq!(
            i,
            Interval {
                lower: 1.0 - 3.0 / 450.0,
                upper: 1.0,
                method: IntervalMethod::RuleOfThree
            }
        );
        let i = Interval::binomial(0, 2);
        assert_eq!(i.upper, 1.0);
        assert_eq!(Interval::binomial(0, 0).method, IntervalMethod::NoTrials);
    }

    // Hanley-McNeil for AUC = 0.9, 450 positives, 4500 negatives (numpy, formula as in the code):
    // a=0.9; n1=450; n2=4500; q1=a/(2-a); q2=2*a*a/(1+a)
    // se=np.sqrt((a*(1-a)+(n1-1)*(q1-a*a)+(n2-1)*(q2-a*a))/(n1*n2)); (a-z*se, a+z*se)
    // -> (0.8807389905255936, 0.9192610094744065)
    #[test]
    fn hanley_mcneil_matches_numpy() {
        let i = Interval::auc_hanley_mcneil(0.9, 450, 4500);
        assert!((i.lower - 0.880_738_990_525_593_6).abs() < 1e-12, "{i:?}");
        assert!((i.upper - 0.919_261_009_474_406_5).abs() < 1e-12, "{i:?}");
    }

    #[test]
    fn rate_and_complement() {
        let r = Rate::new(3, 4);
        assert_eq!(r.value, 0.75);
        assert!(r.ci95.contains(0.75));
        let c = r.complement();
        assert_eq!((c.count, c.total, c.value), (1, 4, 0.25));
        assert_eq!(Rate::new(0, 0).value, 0.0);
    }
}
