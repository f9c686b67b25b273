//! One sigma-lognormal stroke, and a pen-down component as a sum of overlapping strokes
//! (Plamondon 1995; Plamondon & Djioua 2006; O'Reilly & Plamondon 2009).
//!
//! A stroke is a circular arc of length `d` (mm) whose tangent turns from `theta_s` to `theta_e`
//! (rad, counter-clockwise positive, y up) while the pen's speed follows a lognormal in time:
//!
//! ```text
//! |v(t)| = d / (sigma sqrt(2 pi) (t - t0)) exp(-(ln(t - t0) - mu)^2 / (2 sigma^2))   for t > t0
//! phi(t) = theta_s + (theta_e - theta_s) / 2 (1 + erf((ln(t - t0) - mu) / (sigma sqrt 2)))
//! ```
//!
//! `|v|` is `d` times the lognormal density, so the distance travelled by time `t` is `d F(t)` with
//! `F` the lognormal distribution function, and `phi` is linear in that distance: the tangent turns
//! at a constant rate per millimetre, which makes the path an arc. The position is therefore the
//! integral of the velocity in closed form, `chord(d F(t), (theta_e - theta_s) F(t))`
//! ([`Stroke::displacement`]); a component sums these per stroke. The tests check the closed form
//! against a numerical integral of [`Stroke::velocity`].
//!
//! When not: this module knows nothing of letters, writers or ink; [`super::writer`] plans the
//! strokes and [`super::render()`] draws them.

use super::SynthError;

/// A stroke is sampled over `t0 + exp(mu ± TAIL_SIGMAS * sigma)`: outside, at most 3.2e-5 of its
/// length is missing (the lognormal's tail beyond 4 standard deviations of `ln(t - t0)`).
pub const TAIL_SIGMAS: f64 = 4.0;

/// Largest number of samples one component may have (at 200 Hz: 13.9 hours of writing), so that a
/// nonsensical stroke cannot ask for an unbounded allocation.
pub const MAX_COMPONENT_SAMPLES: usize = 10_000_000;

/// Largest turning angle of one stroke, rad: an arc turning by `2 pi` is a full circle with no chord.
pub const MAX_TURN: f64 = 1.9 * std::f64::consts::PI;

/// One sigma-lognormal stroke. Times in seconds, lengths in millimetres, angles in radians
/// (counter-clockwise from +x, y up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke {
    /// Time of the motor command, s: the pen does not move before it.
    pub t0: f64,
    /// Log-time delay, `ln(s)`: the stroke's median time after `t0` is `exp(mu)`; handwriting fits
    /// lie in about `-2.5..=-1.0` (80 to 370 ms).
    pub mu: f64,
    /// Log-time response spread, `> 0`: handwriting fits lie in about `0.1..=0.5`.
    pub sigma: f64,
    /// Amplitude: the arc length the pen travels, mm, `>= 0`.
    pub d: f64,
    /// Tangent direction at the start, rad.
    pub theta_s: f64,
    /// Tangent direction at the end, rad.
    pub theta_e: f64,
}

impl Stroke {
    /// A stroke from its six parameters, checked: all finite, `sigma > 0`, `d >= 0`,
    /// `|theta_e - theta_s| <= MAX_TURN`.
    pub fn new(
        t0: f64,
        mu: f64,
        sigma: f64,
        d: f64,
        theta_s: f64,
        theta_e: f64,
    ) -> Result<Self, SynthError> {
        let checks = [
            ("t0", t0, t0.is_finite(), "finite"),
            ("mu", mu, mu.is_finite(), "finite"),
            (
                "sigma",
                sigma,
                sigma.is_finite() && sigma > 0.0,
                "finite and > 0",
            ),
            ("d", d, d.is_finite() && d >= 0.0, "finite and >= 0"),
            ("theta_s", theta_s, theta_s.is_finite(), "finite"),
            ("theta_e", theta_e, theta_e.is_finite(), "finite"),
        ];
        for (name, value, ok, expected) in checks {
            if !ok {
                return Err(SynthError::InvalidParameter {
                    name,
                    value,
                    expected,
                });
            }
        }
        let turn = theta_e - theta_s;
        if turn.abs() > MAX_TURN {
            return Err(SynthError::InvalidParameter {
                name: "theta_e - theta_s",
                value: turn,
                expected: "at most 1.9 pi in magnitude",
            });
        }
        Ok(Self {
            t0,
            mu,
            sigma,
            d,
            theta_s,
            theta_e,
        })
    }

    /// The stroke whose arc goes from the origin to `chord` (mm) while its tangent turns by `turn`
    /// (rad, counter-clockwise positive, `|turn| <= MAX_TURN`): the arc's length is
    /// `|chord| / sinc(turn / 2)` and its tangent is the chord's direction halfway.
    pub fn from_chord(
        t0: f64,
        mu: f64,
        sigma: f64,
        chord: [f64; 2],
        turn: f64,
    ) -> Result<Self, SynthError> {
        if !(turn.is_finite() && turn.abs() <= MAX_TURN) {
            return Err(SynthError::InvalidParameter {
                name: "turn",
                value: turn,
                expected: "finite and at most 1.9 pi in magnitude",
            });
        }
        let length = chord[0].hypot(chord[1]);
        let mid = chord[1].atan2(chord[0]);
        Self::new(
            t0,
            mu,
            sigma,
            length / sinc(turn / 2.0),
            mid - turn / 2.0,
            mid + turn / 2.0,
        )
    }

    /// The lognormal's argument `(ln(t - t0) - mu) / sigma` at `t`, or `None` for `t <= t0`.
    fn z(&self, t: f64) -> Option<f64> {
        let dt = t - self.t0;
        (dt > 0.0).then(|| (dt.ln() - self.mu) / self.sigma)
    }

    /// Fraction of the arc travelled by time `t` (s), in `[0, 1]`: the lognormal distribution
    /// function.
    pub fn fraction(&self, t: f64) -> f64 {
        self.z(t)
            .map_or(0.0, |z| 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2)))
    }

    /// Speed at time `t` (s), mm/s; 0 for `t <= t0`.
    pub fn speed(&self, t: f64) -> f64 {
        let Some(z) = self.z(t) else { return 0.0 };
        let norm = self.sigma * (2.0 * std::f64::consts::PI).sqrt() * (t - self.t0);
        self.d / norm * (-0.5 * z * z).exp()
    }

    /// Tangent direction at time `t` (s), rad: `theta_s` before the stroke, `theta_e` after.
    pub fn direction(&self, t: f64) -> f64 {
        self.theta_s + (self.theta_e - self.theta_s) * self.fraction(t)
    }

    /// Velocity at time `t` (s), `[vx, vy]` in mm/s.
    pub fn velocity(&self, t: f64) -> [f64; 2] {
        let (s, phi) = (self.speed(t), self.direction(t));
        [s * phi.cos(), s * phi.sin()]
    }

    /// Displacement from the stroke's start at time `t` (s), `[dx, dy]` in mm: the exact integral of
    /// [`Self::velocity`] from `t0` to `t`.
    pub fn displacement(&self, t: f64) -> [f64; 2] {
        self.displacement_at(self.fraction(t))
    }

    /// Displacement once the stroke is complete, mm: the chord of the whole arc.
    pub fn chord(&self) -> [f64; 2] {
        self.displacement_at(1.0)
    }

    fn displacement_at(&self, fraction: f64) -> [f64; 2] {
        let turned = (self.theta_e - self.theta_s) * fraction;
        let length = self.d * fraction * sinc(turned / 2.0);
        let heading = self.theta_s + turned / 2.0;
        [length * heading.cos(), length * heading.sin()]
    }

    /// Time of the speed peak, s: `t0 + exp(mu - sigma^2)`, the lognormal's mode.
    pub fn peak_time(&self) -> f64 {
        self.t0 + (self.mu - self.sigma * self.sigma).exp()
    }

    /// Start of the sampled support, s: `t0 + exp(mu - TAIL_SIGMAS sigma)`.
    pub fn start_time(&self) -> f64 {
        self.t0 + (self.mu - TAIL_SIGMAS * self.sigma).exp()
    }

    /// End of the sampled support, s: `t0 + exp(mu + TAIL_SIGMAS sigma)`.
    pub fn end_time(&self) -> f64 {
        self.t0 + (self.mu + TAIL_SIGMAS * self.sigma).exp()
    }
}

/// `sin(u) / u`, 1 at 0.
fn sinc(u: f64) -> f64 {
    if u.abs() < 1e-4 {
        1.0 - u * u / 6.0
    } else {
        u.sin() / u
    }
}

/// The error function, absolute error below 2e-15 on the whole real line (checked against
/// CPython's `math.erf` on a grid of 200 001 points in `[-7, 7]`).
///
/// `|x| < 2.5`: the series `erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!`
/// (Abramowitz & Stegun 7.1.6), whose terms are all positive, so no cancellation; `2.5 <= |x| < 6`:
/// `1 - erfc(x)` with Laplace's continued fraction for `erfc` (A&S 7.1.14) to depth 60; beyond,
/// `±1` (`erfc(6) = 2.2e-17`). NaN gives NaN.
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let value = if a.is_nan() {
        return f64::NAN;
    } else if a < 2.5 {
        let a2 = a * a;
        let (mut term, mut sum) = (a, a);
        for n in 1..200 {
            term *= 2.0 * a2 / f64::from(2 * n + 1);
            sum += term;
            if term < 1e-17 * sum {
                break;
            }
        }
        std::f64::consts::FRAC_2_SQRT_PI * (-a2).exp() * sum
    } else if a < 6.0 {
        let mut f = a;
        for k in (1..=60).rev() {
            f = a + f64::from(k) / 2.0 / f;
        }
        1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * f)
    } else {
        1.0
    };
    value.copysign(x)
}

/// One pen-down component: overlapping strokes added from a start point. Its trajectory is
/// `start + sum_i strokes[i].displacement(t)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Where the pen touches down, `[x, y]` in mm.
    pub start: [f64; 2],
    /// The strokes, in any order (their `t0` orders them in time).
    pub strokes: Vec<Stroke>,
}

/// One sample of a component's trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Time, s, on the strokes' clock.
    pub t_s: f64,
    /// Position `[x, y]`, mm.
    pub p_mm: [f64; 2],
}

impl Component {
    /// `(start, end)` of the sampled support, s, or `None` without strokes.
    pub fn time_span(&self) -> Option<(f64, f64)> {
        let start = self
            .strokes
            .iter()
            .map(Stroke::start_time)
            .reduce(f64::min)?;
        let end = self.strokes.iter().map(Stroke::end_time).reduce(f64::max)?;
        Some((start, end))
    }

    /// Pen position at time `t` (s), mm.
    pub fn position(&self, t: f64) -> [f64; 2] {
        let mut p = self.start;
        for stroke in &self.strokes {
            let d = if t >= stroke.end_time() {
                stroke.chord()
            } else {
                stroke.displacement(t)
            };
            p[0] += d[0];
            p[1] += d[1];
        }
        p
    }

    /// The trajectory sampled every `1 / rate_hz` seconds over [`Self::time_span`], both ends
    /// included (the end rounded up to the sampling grid); a component without strokes is its
    /// start point alone. Errors on a rate that is not finite and positive, or a span longer than
    /// [`MAX_COMPONENT_SAMPLES`] samples.
    pub fn sample(&self, rate_hz: f64) -> Result<Vec<Sample>, SynthError> {
        if !(rate_hz.is_finite() && rate_hz > 0.0) {
            return Err(SynthError::InvalidParameter {
                name: "sample_rate_hz",
                value: rate_hz,
                expected: "finite and > 0",
            });
        }
        let Some((start, end)) = self.time_span() else {
            return Ok(vec![Sample {
                t_s: 0.0,
                p_mm: self.start,
            }]);
        };
        let steps = ((end - start) * rate_hz).ceil();
        if !(steps.is_finite() && steps < MAX_COMPONENT_SAMPLES as f64) {
            return Err(SynthError::TooManySamples {
                seconds: end - start,
                rate_hz,
            });
        }
        // `steps` is a finite non-negative integer below MAX_COMPONENT_SAMPLES: the cast is exact.
        let n = steps as usize + 1;
        Ok((0..n)
            .map(|k| {
                let t_s = start + k as f64 / rate_hz;
                Sample {
                    t_s,
                    p_mm: self.position(t_s),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values: CPython 3, `import math; [math.erf(x) for x in (0.5, 1, 2, 3, 4)]`.
    const ERF_GOLDEN: [(f64, f64); 6] = [
        (0.0, 0.0),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (4.0, 0.999_999_984_582_742_1),
    ];

    #[test]
    fn erf_matches_known_values_and_is_odd() {
        for (x, want) in ERF_GOLDEN {
            assert!(
                (erf(x) - want).abs() < 1e-12,
                "erf({x}) = {} != {want}",
                erf(x)
            );
            assert_eq!(erf(-x), -erf(x), "odd symmetry at {x}");
        }
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
        assert!(erf(f64::NAN).is_nan());
        // Continuous across the branch switch at 2.5 and monotone around it.
        let (below, above) = (erf(2.5 - 1e-12), erf(2.5));
        assert!((below - above).abs() < 1e-13 && below <= above);
    }

    fn stroke() -> Stroke {
        Stroke::new(0.05, -1.6, 0.3, 12.0, 0.2, 1.9).expect("valid stroke")
    }

    #[test]
    fn single_stroke_path_length_equals_amplitude() {
        let s = stroke();
        let component = Component {
            start: [0.0, 0.0],
            strokes: vec![s],
        };
        let samples = component.sample(200.0).expect("samples");
        let length: f64 = samples
            .windows(2)
            .map(|w| (w[1].p_mm[0] - w[0].p_mm[0]).hypot(w[1].p_mm[1] - w[0].p_mm[1]))
            .sum();
        assert!(
            (length - s.d).abs() < 0.005 * s.d,
            "path {length} mm, d {} mm",
            s.d
        );
    }

    #[test]
    fn speed_peaks_at_lognormal_mode() {
        let s = stroke();
        let dt = 1e-5;
        let (start, end) = (s.start_time(), s.end_time());
        let n = ((end - start) / dt) as usize;
        let peak = (0..n)
            .map(|k| start + k as f64 * dt)
            .max_by(|a, b| s.speed(*a).total_cmp(&s.speed(*b)))
            .expect("non-empty grid");
        let want = 0.05 + (-1.6f64 - 0.09).exp();
        assert!(
            (peak - want).abs() < 2.0 * dt,
            "peak at {peak}, expected {want}"
        );
        assert!((s.peak_time() - want).abs() < 1e-12);
    }

    #[test]
    fn closed_form_matches_numerical_integral_of_velocity() {
        let s = stroke();
        // Trapezoid rule on a 20 kHz grid from t0.
        let dt = 5e-5;
        let (mut p, mut v_prev, mut t) = ([0.0, 0.0], s.velocity(s.t0), s.t0);
        while t < s.end_time() {
            let v = s.velocity(t + dt);
            p[0] += 0.5 * dt * (v_prev[0] + v[0]);
            p[1] += 0.5 * dt * (v_prev[1] + v[1]);
            v_prev = v;
            t += dt;
            let exact = s.displacement(t);
            assert!(
                (p[0] - exact[0]).hypot(p[1] - exact[1]) < 1e-3,
                "at {t}: {p:?} vs {exact:?}"
            );
        }
    }

    #[test]
    fn from_chord_reaches_the_chord() {
        for turn in [-2.5, -0.7, 0.0, 1e-9, 1.3, 3.0] {
            let s = Stroke::from_chord(0.0, -1.8, 0.25, [3.0, -4.0], turn).expect("valid");
            let c = s.chord();
            assert!(
                (c[0] - 3.0).abs() < 1e-12 && (c[1] + 4.0).abs() < 1e-12,
                "{turn}: {c:?}"
            );
            assert!(s.d >= 5.0 - 1e-12);
        }
        assert!(Stroke::from_chord(0.0, -1.8, 0.25, [1.0, 0.0], 7.0).is_err());
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(Stroke::new(0.0, -1.6, 0.0, 1.0, 0.0, 0.0).is_err());
        assert!(Stroke::new(0.0, -1.6, 0.3, -1.0, 0.0, 0.0).is_err());
        assert!(Stroke::new(f64::NAN, -1.6, 0.3, 1.0, 0.0, 0.0).is_err());
        let c = Component {
            start: [0.0, 0.0],
            strokes: vec![stroke()],
        };
        assert!(c.sample(0.0).is_err());
        assert!(c.sample(f64::INFINITY).is_err());
        let empty = Component {
            start: [1.0, 2.0],
            strokes: vec![],
        };
        assert_eq!(empty.sample(200.0).expect("start only").len(), 1);
    }
}
