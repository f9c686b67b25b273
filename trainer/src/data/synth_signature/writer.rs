//! A synthetic writer: a signature plan (the "engram": virtual target points per pen-down
//! component, Ferrer et al. 2015) and a hand (the writer's sigma-lognormal timing), drawn from a
//! seeded RNG; and the two ways of writing the plan: [`Writer::genuine`] (the writer, with
//! intra-writer variability) and [`Writer::skilled_forgery`] (another hand imitating the plan).
//!
//! Plan: an optional capital (one of five script forms, 2 to 3 x-heights tall), one word of 4 to 8
//! or two words of 3 to 7 cursive letters (more, up to 10, while a word is narrower than 7 or 4.5
//! x-heights; fourteen letter forms, each a list of target points in x-height units with cusp
//! flags, jittered once per writer), and an optional flourish (a separate underline, a back-sweep
//! from the last letter under the name, or a looped paraph); slant and baseline angle sheared and
//! rotated in. One to [`MAX_COMPONENTS`] pen-down components.
//!
//! Contact: the pen lands and lifts while moving, at `touch` times the speed peak of the first and
//! last stroke of a component (a fluent writer: 0.1 to 0.3, tapered ends; a forger: 0.02 to 0.06,
//! blunt ends, a classic sign of simulation).
//!
//! Targets to strokes: consecutive targets give a chord; the tangent at a smooth target bisects
//! its two chords, at a cusp it is free; each stroke is the arc along its chord whose turn matches
//! those tangents ([`Stroke::from_chord`]). Timing: `mu = mu_writer + 0.3 ln(chord / x_height)`
//! (bigger strokes last longer but are faster: isochrony), and each stroke's command `t0` follows
//! the previous one by `lag * exp(mu)`, so strokes overlap and corners round off.
//!
//! Every RNG is a `ChaCha8Rng` keyed by (generator seed, writer id, purpose) with the sample index
//! as its stream: writer `w` is the same whatever other writers are generated, and
//! (seed, writer, k, kind) gives the same trace bit for bit on a given platform (the maths uses the
//! platform's `exp`, `ln`, `sin`).

use std::f64::consts::PI;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::lognormal::{Component, Sample, Stroke};
use super::trace::{Trace, TracePoint};
use super::{SampleKind, SynthError, MAX_COMPONENTS};

/// What an RNG is for: part of its key, so that the streams never overlap.
#[derive(Debug, Clone, Copy)]
pub(super) enum Purpose {
    Plan = 1,
    Genuine = 2,
    Forgery = 3,
    Render = 4,
}

/// The RNG for (seed, writer, purpose), on stream `stream`.
pub(super) fn rng_for(seed: u64, writer: u32, purpose: Purpose, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..12].copy_from_slice(&writer.to_le_bytes());
    key[12..16].copy_from_slice(&(purpose as u32).to_le_bytes());
    key[16..24].copy_from_slice(b"siamsig1");
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(stream);
    rng
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Standard normal (Box-Muller), clipped to `±clip`.
fn normal(rng: &mut ChaCha8Rng, clip: f64) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()).clamp(-clip, clip)
}

/// One virtual target point of the plan, with the writer's timing for the stroke that reaches it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Via {
    /// Position, mm.
    p: [f64; 2],
    /// A cusp: the pen reverses here, so the tangent is not smoothed.
    cusp: bool,
    /// The writer's habitual offset of this stroke's `mu`.
    dmu: f64,
    /// The writer's habitual factor on this stroke's `sigma`.
    sigma_f: f64,
    /// The writer's habitual factor on the lag before the next stroke.
    lag_f: f64,
}

/// A writer's style: sizes in mm, angles in rad, times in s.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    x_height: f64,
    ascender: f64,
    descender: f64,
    width: f64,
    slant: f64,
    baseline: f64,
    curve_gain: f64,
    mu: f64,
    sigma: f64,
    lag: f64,
    pen_up_s: f64,
}

impl Style {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        Self {
            x_height: uniform(rng, 2.8, 5.0),
            ascender: uniform(rng, 1.9, 2.8),
            descender: uniform(rng, 1.0, 1.7),
            width: uniform(rng, 0.6, 1.1),
            slant: uniform(rng, -8.0, 30.0).to_radians(),
            baseline: uniform(rng, -3.0, 7.0).to_radians(),
            curve_gain: uniform(rng, 0.85, 1.1),
            mu: uniform(rng, -2.4, -1.9),
            sigma: uniform(rng, 0.18, 0.30),
            lag: uniform(rng, 0.35, 0.55),
            pen_up_s: uniform(rng, 0.12, 0.30),
        }
    }

    /// Template height (x-height units: 0 baseline, 1 x-height, 2.2 ascender, -1.2 descender) to mm
    /// in this writer's zones.
    fn zone(&self, v: f64) -> f64 {
        let h = self.x_height;
        if v > 1.0 {
            h * (1.0 + (v - 1.0) / 1.2 * (self.ascender - 1.0))
        } else if v < 0.0 {
            h * v / 1.2 * self.descender
        } else {
            h * v
        }
    }
}

const C: bool = true;
const S: bool = false;

/// A letter form: width in x-heights (capitals: in cap heights) and target points `(u, v, cusp)`,
/// `u` across the width, `v` up (x-height units, or cap heights for capitals).
struct Glyph {
    width: f64,
    points: &'static [(f64, f64, bool)],
}

/// Lower-case cursive forms; each enters from the previous letter's exit near `(0, 0.3)`.
#[rustfmt::skip]
const LOWER: [Glyph; 14] = [
    // e
    Glyph { width: 0.75, points: &[(0.5, 0.55, S), (0.7, 0.85, S), (0.45, 1.0, S), (0.2, 0.7, S),
        (0.25, 0.15, S), (0.55, 0.0, S), (1.0, 0.3, S)] },
    // l
    Glyph { width: 0.7, points: &[(0.45, 1.0, S), (0.7, 1.9, S), (0.55, 2.3, S), (0.3, 2.0, S),
        (0.2, 1.0, S), (0.2, 0.2, S), (0.45, 0.0, S), (1.0, 0.3, S)] },
    // i
    Glyph { width: 0.55, points: &[(0.4, 1.0, C), (0.3, 0.2, S), (0.5, 0.0, S), (1.0, 0.35, S)] },
    // u
    Glyph { width: 1.0, points: &[(0.2, 1.0, C), (0.15, 0.2, S), (0.35, 0.0, S), (0.6, 0.5, S),
        (0.7, 1.0, C), (0.65, 0.2, S), (0.8, 0.0, S), (1.0, 0.3, S)] },
    // n
    Glyph { width: 1.0, points: &[(0.15, 1.0, C), (0.12, 0.0, C), (0.3, 0.8, S), (0.5, 1.0, S),
        (0.65, 0.7, S), (0.65, 0.15, S), (0.8, 0.0, S), (1.0, 0.3, S)] },
    // m
    Glyph { width: 1.45, points: &[(0.1, 1.0, C), (0.08, 0.0, C), (0.2, 0.8, S), (0.32, 0.97, S),
        (0.45, 0.7, S), (0.45, 0.0, C), (0.57, 0.8, S), (0.7, 0.97, S), (0.82, 0.7, S),
        (0.82, 0.15, S), (0.92, 0.0, S), (1.0, 0.3, S)] },
    // a
    Glyph { width: 1.0, points: &[(0.65, 0.9, S), (0.4, 1.0, S), (0.12, 0.65, S), (0.2, 0.08, S),
        (0.5, 0.15, S), (0.72, 0.95, C), (0.7, 0.2, S), (0.85, 0.0, S), (1.0, 0.3, S)] },
    // o
    Glyph { width: 0.85, points: &[(0.55, 0.9, S), (0.3, 1.0, S), (0.08, 0.6, S), (0.25, 0.05, S),
        (0.6, 0.25, S), (0.6, 0.9, S), (0.45, 0.95, C), (1.0, 0.8, S)] },
    // c
    Glyph { width: 0.75, points: &[(0.6, 0.95, S), (0.35, 1.0, S), (0.1, 0.6, S), (0.2, 0.08, S),
        (0.55, 0.0, S), (1.0, 0.3, S)] },
    // r
    Glyph { width: 0.8, points: &[(0.3, 1.0, S), (0.45, 0.9, S), (0.6, 1.0, C), (0.6, 0.3, S),
        (0.7, 0.0, S), (1.0, 0.3, S)] },
    // t
    Glyph { width: 0.6, points: &[(0.45, 1.9, C), (0.3, 0.2, S), (0.5, 0.0, S), (1.0, 0.35, S)] },
    // d
    Glyph { width: 1.05, points: &[(0.6, 0.9, S), (0.35, 1.0, S), (0.1, 0.6, S), (0.2, 0.08, S),
        (0.5, 0.15, S), (0.72, 2.1, C), (0.68, 0.2, S), (0.82, 0.0, S), (1.0, 0.3, S)] },
    // h
    Glyph { width: 1.1, points: &[(0.35, 1.0, S), (0.5, 1.9, S), (0.35, 2.3, S), (0.18, 1.9, S),
        (0.12, 0.0, C), (0.3, 0.8, S), (0.5, 1.0, S), (0.65, 0.7, S), (0.65, 0.15, S),
        (0.8, 0.0, S), (1.0, 0.3, S)] },
    // y
    Glyph { width: 1.0, points: &[(0.2, 1.0, C), (0.15, 0.2, S), (0.35, 0.0, S), (0.6, 0.5, S),
        (0.7, 1.0, C), (0.6, -0.8, S), (0.45, -1.25, S), (0.3, -1.0, S), (0.5, -0.3, S),
        (1.0, 0.3, S)] },
];

/// Relative frequencies of [`LOWER`]: e l i u n m a o c r t d h y.
const LOWER_WEIGHTS: [u32; 14] = [12, 6, 9, 5, 9, 4, 10, 7, 4, 6, 6, 4, 4, 3];

/// Script capitals (C/O, L, M, B, J-like); the first point is where the pen lands.
#[rustfmt::skip]
const CAPITALS: [Glyph; 5] = [
    // C / O
    Glyph { width: 0.8, points: &[(0.8, 0.8, S), (0.55, 1.0, S), (0.15, 0.8, S), (0.0, 0.35, S),
        (0.25, 0.0, S), (0.7, 0.05, S), (1.0, 0.25, S)] },
    // L
    Glyph { width: 0.9, points: &[(0.3, 0.55, S), (0.55, 0.9, S), (0.5, 1.0, S), (0.35, 0.85, S),
        (0.3, 0.3, S), (0.15, 0.0, S), (0.0, 0.08, S), (0.2, 0.12, S), (0.6, 0.0, S),
        (1.0, 0.15, S)] },
    // M
    Glyph { width: 1.1, points: &[(0.0, 0.0, S), (0.08, 0.8, S), (0.18, 1.0, S), (0.28, 0.6, S),
        (0.3, 0.0, C), (0.42, 0.8, S), (0.52, 0.95, S), (0.62, 0.55, S), (0.64, 0.0, C),
        (0.76, 0.7, S), (0.86, 0.8, S), (0.92, 0.3, S), (1.0, 0.08, S)] },
    // B / R
    Glyph { width: 0.9, points: &[(0.1, 0.75, S), (0.4, 1.0, S), (0.35, 0.5, S), (0.25, 0.0, C),
        (0.35, 0.75, S), (0.6, 1.0, S), (0.9, 0.8, S), (0.7, 0.5, S), (0.35, 0.45, C),
        (0.7, 0.3, S), (0.8, 0.05, S), (1.0, 0.1, S)] },
    // J
    Glyph { width: 0.9, points: &[(0.2, 0.8, S), (0.55, 1.0, S), (0.7, 0.85, S), (0.55, 0.0, S),
        (0.4, -0.6, S), (0.2, -0.5, S), (0.35, -0.1, S), (1.0, 0.15, S)] },
];

/// Draws an index with the given relative weights (all `> 0`).
fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Builds the plan's target points, component by component, in mm before slant and rotation.
struct PlanBuilder<'a> {
    rng: &'a mut ChaCha8Rng,
    style: Style,
    done: Vec<Vec<Via>>,
    current: Vec<Via>,
}

impl PlanBuilder<'_> {
    fn push(&mut self, p: [f64; 2], cusp: bool) {
        let via = Via {
            p,
            cusp,
            dmu: 0.08 * normal(self.rng, 2.5),
            sigma_f: uniform(self.rng, 0.9, 1.1),
            lag_f: uniform(self.rng, 0.85, 1.15),
        };
        self.current.push(via);
    }

    /// Places `glyph` with its left edge at `x` (mm) on baseline `y0` (mm); `size` is the x-height
    /// (lower case, zone-mapped) or the cap height (capitals). Returns the glyph's width, mm.
    fn glyph(&mut self, glyph: &Glyph, x: f64, y0: f64, size: f64, capital: bool) -> f64 {
        let width = glyph.width * size * if capital { 0.7 } else { self.style.width };
        let jitter = 0.07 * self.style.x_height;
        for &(u, v, cusp) in glyph.points {
            let y = if capital {
                v * size
            } else {
                self.style.zone(v) * size / self.style.x_height
            };
            let (jx, jy) = (
                jitter * normal(self.rng, 2.5),
                jitter * normal(self.rng, 2.5),
            );
            self.push([x + u * width + jx, y0 + y + jy], cusp);
        }
        width
    }

    fn lift(&mut self) {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
    }
}

/// Draws a writer's plan: components of target points, slanted and rotated, in mm.
fn draw_plan(rng: &mut ChaCha8Rng, style: Style) -> Vec<Vec<Via>> {
    let h = style.x_height;
    let mut b = PlanBuilder {
        rng,
        style,
        done: Vec::new(),
        current: Vec::new(),
    };
    let mut x = 0.0;
    if b.rng.random_bool(0.75) {
        let glyph = &CAPITALS[b.rng.random_range(0..CAPITALS.len())];
        let cap = h * uniform(b.rng, 2.0, 3.0);
        x += b.glyph(glyph, x, 0.0, cap, true);
        if b.rng.random_bool(0.4) {
            b.lift();
            x += 0.3 * h;
        }
    }
    let words = if b.rng.random_bool(0.45) { 2 } else { 1 };
    let name_start = x;
    for word in 0..words {
        if word > 0 {
            b.lift();
            x += uniform(b.rng, 0.8, 1.6) * h;
        }
        let y0 = 0.15 * h * normal(b.rng, 2.0);
        if b.current.is_empty() {
            b.push([x - 0.1 * h, y0 + 0.05 * h], S);
        }
        // Letters until the drawn count is reached and the word is wide enough (a name of narrow
        // letters gets more of them), at most 10.
        let (letters, min_width) = if words == 1 {
            (b.rng.random_range(4..=8), 7.0 * h)
        } else {
            (b.rng.random_range(3..=7), 4.5 * h)
        };
        let word_start = x;
        let mut count = 0;
        while count < letters || (x - word_start < min_width && count < 10) {
            let glyph = &LOWER[weighted(b.rng, &LOWER_WEIGHTS)];
            x += b.glyph(glyph, x, y0, h, false);
            count += 1;
        }
    }
    let (xs, xe, span) = (name_start, x, (x - name_start).max(h));
    match weighted(b.rng, &[1, 1, 1, 1]) {
        0 => {}
        1 => {
            // A separate underline, left to right, ending in a small hook.
            b.lift();
            let y = -uniform(b.rng, 0.6, 1.1) * h;
            let sag = uniform(b.rng, 0.2, 0.6) * h;
            let end = xe + uniform(b.rng, 0.5, 1.5) * h;
            let start = xs + uniform(b.rng, -0.5, 1.0) * h;
            for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let yy = y - sag * (PI * f).sin() + 0.2 * h * f;
                b.push([start + f * (end - start), yy], S);
            }
            let hook = y + uniform(b.rng, 0.4, 0.8) * h;
            b.push([end + 0.3 * h, hook], S);
        }
        2 => {
            // From the last letter: up, round, and a sweep back under the name.
            let depth = uniform(b.rng, 1.0, 1.5) * h;
            let reach = uniform(b.rng, 0.0, 1.0) * h;
            b.push([xe + 0.8 * h, 1.0 * h], S);
            b.push([xe + 1.1 * h, 0.2 * h], S);
            b.push([xe + 0.4 * h, -0.9 * h], S);
            b.push([xs + 0.55 * span, -depth], S);
            b.push([xs + 0.15 * span, -depth + 0.1 * h], S);
            b.push([xs - reach, -depth + 0.5 * h], S);
        }
        _ => {
            // A paraph: loops running leftwards under the name (sharp at the bottom, round at
            // the top), then a long stroke back to the right.
            let n = b.rng.random_range(3..=5);
            let step = (span + 0.5 * h) / f64::from(n);
            for j in 0..n {
                let xj = xe + 0.5 * h - (f64::from(j) + 0.3) * step;
                let low = -uniform(b.rng, 1.5, 2.2) * h;
                let high = -uniform(b.rng, 0.1, 0.5) * h;
                b.push([xj, low], C);
                b.push([xj - 0.3 * step, high], S);
                b.push([xj - 0.6 * step, -0.8 * h], S);
            }
            let end = [
                xe + uniform(b.rng, 0.5, 1.5) * h,
                -uniform(b.rng, 1.5, 2.2) * h,
            ];
            b.push(end, S);
        }
    }
    b.lift();
    let (shear, (sin, cos)) = (style.slant.tan(), style.baseline.sin_cos());
    let mut plan = b.done;
    for via in plan.iter_mut().flatten() {
        let [x, y] = via.p;
        let x = x + shear * y;
        via.p = [cos * x - sin * y, sin * x + cos * y];
    }
    plan
}

/// A synthetic writer: a signature plan and a hand, drawn from `(seed, id)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Writer {
    seed: u64,
    id: u32,
    sample_rate_hz: f64,
    style: Style,
    plan: Vec<Vec<Via>>,
}

impl Writer {
    /// Writer `id` of the generator seeded `seed`, sampled at `sample_rate_hz` (finite, `> 0`; pads
    /// give 100 to 200 Hz).
    pub fn new(seed: u64, id: u32, sample_rate_hz: f64) -> Result<Self, SynthError> {
        if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
            return Err(SynthError::InvalidParameter {
                name: "sample_rate_hz",
                value: sample_rate_hz,
                expected: "finite and > 0",
            });
        }
        let mut rng = rng_for(seed, id, Purpose::Plan, 0);
        let style = Style::draw(&mut rng);
        let plan = draw_plan(&mut rng, style);
        Ok(Self {
            seed,
            id,
            sample_rate_hz,
            style,
            plan,
        })
    }

    /// The writer's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Number of pen-down components of the plan, `1..=MAX_COMPONENTS` (a skilled forger may lift
    /// the pen more often, up to [`MAX_COMPONENTS`]).
    pub fn plan_components(&self) -> usize {
        self.plan.len()
    }

    /// The writer's x-height, mm (2.8 to 5).
    pub fn x_height_mm(&self) -> f64 {
        self.style.x_height
    }

    /// Genuine signature `k`: the plan written by this writer with intra-writer variability.
    pub fn genuine(&self, k: u32) -> Result<Trace, SynthError> {
        self.sample(k, SampleKind::Genuine)
    }

    /// Skilled forgery `k`: the plan imitated by another hand (forger `k`, drawn per `k`).
    pub fn skilled_forgery(&self, k: u32) -> Result<Trace, SynthError> {
        self.sample(k, SampleKind::SkilledForgery)
    }

    /// Sample `k` of `kind`. Errors only where sampling does (a component too long to sample,
    /// which the plan's bounded parameters rule out).
    pub fn sample(&self, k: u32, kind: SampleKind) -> Result<Trace, SynthError> {
        let purpose = match kind {
            SampleKind::Genuine => Purpose::Genuine,
            SampleKind::SkilledForgery => Purpose::Forgery,
        };
        let mut rng = rng_for(self.seed, self.id, purpose, u64::from(k));
        let v = Variability::of(kind);
        let hand = Hand::draw(kind, &self.style, &mut rng);
        let warp = Warp::draw(&mut rng, &v, self.plan.iter().flatten().map(|via| via.p));
        let h = self.style.x_height;
        let mut comps: Vec<Vec<Via>> = self
            .plan
            .iter()
            .map(|c| {
                c.iter()
                    .map(|via| {
                        let [x, y] = warp.apply(via.p);
                        let (jx, jy) = (normal(&mut rng, 2.5), normal(&mut rng, 2.5));
                        Via {
                            p: [x + v.jitter * h * jx, y + v.jitter * h * jy],
                            ..*via
                        }
                    })
                    .collect()
            })
            .collect();
        if hand.subdivide > 0.0 {
            comps = comps
                .iter()
                .map(|c| hand.subdivided(c, h, &mut rng))
                .collect();
        }
        if hand.lift > 0.0 {
            comps = hand.lifted(comps, &mut rng);
        }
        let components = comps
            .iter()
            .map(|c| hand.component(c, &self.style, &v, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let gaps: Vec<f64> = (1..components.len())
            .map(|_| hand.pen_up_s * uniform(&mut rng, 0.8, 1.25))
            .collect();
        assemble(&components, &gaps, hand.touch, self.sample_rate_hz)
    }
}

/// The samples while the pen touches the paper: the pen lands while the speed rises to its first
/// peak, once it reaches `touch` times that peak, and lifts while the speed falls from its last
/// peak, once it drops below `touch` times that peak (all samples for fewer than three).
fn in_contact(samples: &[Sample], touch: f64) -> &[Sample] {
    let speed = |w: &[Sample]| (w[1].p_mm[0] - w[0].p_mm[0]).hypot(w[1].p_mm[1] - w[0].p_mm[1]);
    let v: Vec<f64> = samples.windows(2).map(speed).collect();
    if v.len() < 2 {
        return samples;
    }
    let mut first_peak = 0;
    while first_peak + 1 < v.len() && v[first_peak + 1] >= v[first_peak] {
        first_peak += 1;
    }
    let mut last_peak = v.len() - 1;
    while last_peak > 0 && v[last_peak - 1] >= v[last_peak] {
        last_peak -= 1;
    }
    let start = v[..=first_peak]
        .iter()
        .position(|&x| x >= touch * v[first_peak])
        .unwrap_or(0);
    let end = v[last_peak..]
        .iter()
        .rposition(|&x| x >= touch * v[last_peak])
        .map_or(v.len() - 1, |j| last_peak + j);
    if start < end {
        &samples[start..=end + 1]
    } else {
        samples
    }
}

/// Samples the components, keeps the part [`in_contact`] with the paper, and joins them with
/// pen-up moves lasting `gaps[i]` seconds (minimum-jerk, sampled, `pen_down == false`), the first
/// point at `t = 0`.
fn assemble(
    components: &[Component],
    gaps: &[f64],
    touch: f64,
    rate_hz: f64,
) -> Result<Trace, SynthError> {
    let mut points = Vec::new();
    let mut t_next = 0.0f64;
    let mut last: Option<[f64; 2]> = None;
    for (i, component) in components.iter().enumerate() {
        let sampled = component.sample(rate_hz)?;
        let samples = in_contact(&sampled, touch);
        let Some(first) = samples.first() else {
            continue;
        };
        if let Some(from) = last {
            let gap = gaps.get(i - 1).copied().unwrap_or(0.2);
            let steps = (gap * rate_hz).round().max(1.0) as u32;
            for j in 1..steps {
                let f = f64::from(j) / f64::from(steps);
                let s = f * f * f * (10.0 - 15.0 * f + 6.0 * f * f);
                let to = first.p_mm;
                points.push(TracePoint {
                    x_mm: (from[0] + s * (to[0] - from[0])) as f32,
                    y_mm: (from[1] + s * (to[1] - from[1])) as f32,
                    t_s: (t_next + f64::from(j) / rate_hz) as f32,
                    pen_down: false,
                });
            }
            t_next += f64::from(steps) / rate_hz;
        }
        let offset = t_next - first.t_s;
        for s in samples {
            points.push(TracePoint {
                x_mm: s.p_mm[0] as f32,
                y_mm: s.p_mm[1] as f32,
                t_s: (s.t_s + offset) as f32,
                pen_down: true,
            });
        }
        if let Some(end) = samples.last() {
            last = Some(end.p_mm);
            t_next = end.t_s + offset;
        }
    }
    Ok(Trace { points })
}

/// How far one sample departs from the plan (module docs of [`super`] list the values and sources).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Variability {
    /// Standard deviation and clip of the whole signature's rotation, degrees.
    rotation_deg: (f64, f64),
    /// Standard deviation and clip of the change of slant (a shear), degrees.
    shear_deg: (f64, f64),
    /// Standard deviation and clip of the relative change of size.
    scale: (f64, f64),
    /// Standard deviation and clip of the relative change of aspect ratio.
    aspect: (f64, f64),
    /// Fraction of Diaz et al.'s sinusoidal distortion (amplitude up to 7.5 % of the size).
    sine: f64,
    /// Standard deviation of each target point's displacement, x-heights.
    jitter: f64,
    /// Deformation level applied to the admissible stroke-parameter ranges of Fischer et al.
    lambda: f64,
}

/// Intra-writer variability of a genuine signature.
const GENUINE_VARIABILITY: Variability = Variability {
    rotation_deg: (1.5, 3.0),
    shear_deg: (2.0, 4.0),
    scale: (0.04, 0.08),
    aspect: (0.03, 0.06),
    sine: 0.35,
    jitter: 0.035,
    lambda: 0.25,
};

/// A skilled forger's departure from the plan.
const FORGERY_VARIABILITY: Variability = Variability {
    rotation_deg: (3.0, 6.0),
    shear_deg: (5.0, 10.0),
    scale: (0.10, 0.20),
    aspect: (0.08, 0.16),
    sine: 1.0,
    jitter: 0.10,
    lambda: 0.6,
};

impl Variability {
    fn of(kind: SampleKind) -> Self {
        match kind {
            SampleKind::Genuine => GENUINE_VARIABILITY,
            SampleKind::SkilledForgery => FORGERY_VARIABILITY,
        }
    }
}

/// A normal draw with standard deviation `std`, clipped to `±clip`.
fn clipped(rng: &mut ChaCha8Rng, (std, clip): (f64, f64)) -> f64 {
    std * normal(rng, clip / std)
}

/// One sample's global distortion: Diaz et al.'s sinusoidal warp, then an affine map (rotation,
/// shear, scale, aspect) about the plan's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Warp {
    centre: [f64; 2],
    min: [f64; 2],
    matrix: [[f64; 2]; 2],
    /// Per axis: amplitude (mm), angular frequency (rad/mm), phase (rad).
    sine: [[f64; 3]; 2],
}

impl Warp {
    fn draw(rng: &mut ChaCha8Rng, v: &Variability, points: impl Iterator<Item = [f64; 2]>) -> Self {
        let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in points {
            for a in 0..2 {
                min[a] = min[a].min(p[a]);
                max[a] = max[a].max(p[a]);
            }
        }
        if !(min[0] <= max[0] && min[1] <= max[1]) {
            (min, max) = ([0.0; 2], [0.0; 2]);
        }
        let size = [(max[0] - min[0]).max(1.0), (max[1] - min[1]).max(1.0)];
        let centre = [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0];
        let sine = [0, 1].map(|a| {
            [
                size[a] * uniform(rng, -0.075, 0.075) * v.sine,
                2.0 * PI / size[a] * uniform(rng, 0.5, 1.0),
                uniform(rng, 0.0, 2.0 * PI),
            ]
        });
        let rotation = clipped(rng, v.rotation_deg).to_radians();
        let shear = clipped(rng, v.shear_deg).to_radians().tan();
        let scale = 1.0 + clipped(rng, v.scale);
        let aspect = 1.0 + clipped(rng, v.aspect);
        let (sx, sy) = (scale * aspect, scale / aspect);
        let (sin, cos) = rotation.sin_cos();
        // R * [[1, shear], [0, 1]] * diag(sx, sy)
        let matrix = [
            [cos * sx, (cos * shear - sin) * sy],
            [sin * sx, (sin * shear + cos) * sy],
        ];
        Self {
            centre,
            min,
            matrix,
            sine,
        }
    }

    fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let w = [0, 1].map(|a| {
            let [amp, omega, phase] = self.sine[a];
            p[a] + amp * (omega * (p[a] - self.min[a]) + phase).sin()
        });
        let q = [w[0] - self.centre[0], w[1] - self.centre[1]];
        let m = self.matrix;
        [
            self.centre[0] + m[0][0] * q[0] + m[0][1] * q[1],
            self.centre[1] + m[1][0] * q[0] + m[1][1] * q[1],
        ]
    }
}

/// The hand that writes one sample: the writer's own, or a forger's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hand {
    /// Added to every stroke's `mu`: `ln` of the slow-down factor.
    mu_offset: f64,
    /// Factor on every stroke's `sigma`.
    sigma_scale: f64,
    /// Factor on the lag between stroke commands (larger: less overlap, stop-and-go).
    lag_scale: f64,
    /// Factor on every stroke's turn.
    curve_gain: f64,
    /// Mean pen-up time between components, s.
    pen_up_s: f64,
    /// Probability that a chord longer than 0.8 x-height is drawn as two sub-movements.
    subdivide: f64,
    /// Probability per stroke of an overshoot followed by a corrective stroke.
    correct: f64,
    /// Probability per stroke of a hesitation (a pause of 0.15 to 0.45 s).
    pause: f64,
    /// Probability per component of a pen lift inside it.
    lift: f64,
    /// The pen touches down and lifts off while moving at this fraction of the component's peak
    /// speed (a fluent hand: tapered, in-flight ends; a careful forger: blunt ends).
    touch: f64,
}

impl Hand {
    fn draw(kind: SampleKind, style: &Style, rng: &mut ChaCha8Rng) -> Self {
        match kind {
            SampleKind::Genuine => Self {
                mu_offset: 0.05 * normal(rng, 2.0),
                sigma_scale: 1.0,
                lag_scale: 1.0,
                curve_gain: 1.0,
                pen_up_s: style.pen_up_s,
                subdivide: 0.0,
                correct: 0.0,
                pause: 0.0,
                lift: 0.0,
                touch: uniform(rng, 0.1, 0.3),
            },
            SampleKind::SkilledForgery => Self {
                mu_offset: uniform(rng, 1.2, 1.7).ln(),
                sigma_scale: uniform(rng, 0.95, 1.25),
                lag_scale: uniform(rng, 1.1, 1.4),
                curve_gain: uniform(rng, 0.85, 1.0),
                pen_up_s: style.pen_up_s * uniform(rng, 1.5, 3.0),
                subdivide: 0.45,
                correct: 0.10,
                pause: 0.02,
                lift: 0.3,
                touch: uniform(rng, 0.02, 0.06),
            },
        }
    }

    /// Splits long chords in two with a wobbly middle target (a slow hand's sub-movements).
    fn subdivided(&self, vias: &[Via], h: f64, rng: &mut ChaCha8Rng) -> Vec<Via> {
        let mut out = Vec::with_capacity(vias.len() * 2);
        for (i, via) in vias.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).map(|j| vias[j]) {
                let d = [via.p[0] - prev.p[0], via.p[1] - prev.p[1]];
                let length = d[0].hypot(d[1]);
                if length > 0.8 * h && rng.random_bool(self.subdivide) {
                    let off = 0.05 * normal(rng, 2.5);
                    let mid = [
                        prev.p[0] + 0.5 * d[0] - off * d[1],
                        prev.p[1] + 0.5 * d[1] + off * d[0],
                    ];
                    out.push(Via {
                        p: mid,
                        cusp: false,
                        ..*via
                    });
                }
            }
            out.push(*via);
        }
        out
    }

    /// Lifts the pen inside some components, restarting 0.2 to 0.5 mm away, while the trace stays
    /// within [`MAX_COMPONENTS`].
    fn lifted(&self, comps: Vec<Vec<Via>>, rng: &mut ChaCha8Rng) -> Vec<Vec<Via>> {
        let mut count = comps.len();
        let mut out = Vec::with_capacity(MAX_COMPONENTS);
        for c in comps {
            if count < MAX_COMPONENTS && c.len() >= 6 && rng.random_bool(self.lift) {
                let j = rng.random_range(2..c.len() - 3);
                let (r, a) = (uniform(rng, 0.2, 0.5), uniform(rng, 0.0, 2.0 * PI));
                let restart = Via {
                    p: [c[j].p[0] + r * a.cos(), c[j].p[1] + r * a.sin()],
                    ..c[j]
                };
                let mut second = vec![restart];
                second.extend_from_slice(&c[j + 1..]);
                out.push(c[..=j].to_vec());
                out.push(second);
                count += 1;
            } else {
                out.push(c);
            }
        }
        out
    }

    fn component(
        &self,
        vias: &[Via],
        style: &Style,
        v: &Variability,
        rng: &mut ChaCha8Rng,
    ) -> Result<Component, SynthError> {
        let start = vias.first().map_or([0.0, 0.0], |via| via.p);
        Ok(Component {
            start,
            strokes: strokes_for(vias, style, self, v, rng)?,
        })
    }
}

/// Strokes for a run of target points: chords, tangents, turns and timing (module docs).
fn strokes_for(
    vias: &[Via],
    style: &Style,
    hand: &Hand,
    v: &Variability,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Stroke>, SynthError> {
    let h = style.x_height;
    let angle = |a: [f64; 2], b: [f64; 2]| (b[1] - a[1]).atan2(b[0] - a[0]);
    let wrap = |a: f64| (a + PI).rem_euclid(2.0 * PI) - PI;
    let tangents: Vec<Option<f64>> = (0..vias.len())
        .map(|i| {
            if i == 0 || i + 1 == vias.len() || vias[i].cusp {
                return None;
            }
            let (a, b) = (
                angle(vias[i - 1].p, vias[i].p),
                angle(vias[i].p, vias[i + 1].p),
            );
            let turn = wrap(b - a);
            (turn.abs() < 2.4).then_some(a + turn / 2.0)
        })
        .collect();
    let lambda = v.lambda;
    let stretch = 1.0 + uniform(rng, -0.085, 0.0825) * lambda;
    let mut strokes = Vec::with_capacity(vias.len());
    let mut t = 0.0;
    for i in 1..vias.len() {
        let (a, b) = (vias[i - 1].p, vias[i].p);
        let mut chord = [b[0] - a[0], b[1] - a[1]];
        let length = chord[0].hypot(chord[1]);
        if length < 1e-3 * h {
            continue;
        }
        let mid = angle(a, b);
        let hs = tangents[i - 1].map_or(0.0, |tau| wrap(mid - tau));
        let he = tangents[i].map_or(0.0, |tau| wrap(tau - mid));
        let turn = ((hs + he) * style.curve_gain * hand.curve_gain).clamp(-2.6, 2.6);
        let size = 0.3 * (length / h).ln().clamp(-1.5, 1.5);
        let mu = (style.mu + hand.mu_offset + vias[i].dmu + size)
            * (1.0 + uniform(rng, -0.3775 / 1.5, 0.395 / 1.5) * lambda);
        let sigma = style.sigma
            * vias[i].sigma_f
            * hand.sigma_scale
            * (1.0 + uniform(rng, -0.2875, 0.325) * lambda);
        let amplitude = 1.0 + uniform(rng, -0.1, 0.1) * lambda;
        // A forger's overshoot and the corrective stroke that takes it back.
        let correction = (hand.correct > 0.0 && rng.random_bool(hand.correct))
            .then(|| uniform(rng, 0.1, 0.25) * if rng.random_bool(0.5) { 1.0 } else { -1.0 });
        if let Some(e) = correction {
            chord = [chord[0] * (1.0 + e), chord[1] * (1.0 + e)];
        }
        let base = Stroke::from_chord(t * stretch, mu, sigma, chord, turn)?;
        let (ds, de) = (uniform(rng, -0.015, 0.03), uniform(rng, -0.015, 0.0275));
        strokes.push(Stroke::new(
            base.t0,
            base.mu,
            base.sigma,
            base.d * amplitude,
            base.theta_s + ds * lambda * PI,
            base.theta_e + de * lambda * PI,
        )?);
        let step = style.lag * vias[i].lag_f * hand.lag_scale * mu.exp();
        if let Some(e) = correction {
            let back = [-chord[0] * e / (1.0 + e), -chord[1] * e / (1.0 + e)];
            let fix_t0 = (t + 1.6 * step) * stretch;
            strokes.push(Stroke::from_chord(fix_t0, mu - 0.5, sigma, back, 0.0)?);
            t += step;
        }
        t += step;
        if hand.pause > 0.0 && rng.random_bool(hand.pause) {
            t += uniform(rng, 0.15, 0.45);
        }
    }
    Ok(strokes)
}

#[cfg(test)]
mod tests {
    use super::super::trace::shape_distance;
    use super::*;
    use proptest::prelude::*;

    const RATE: f64 = 200.0;

    fn writer(id: u32) -> Writer {
        Writer::new(7, id, RATE).expect("valid rate")
    }

    #[test]
    fn same_inputs_give_identical_traces() {
        let (a, b) = (writer(3), writer(3));
        assert_eq!(a, b);
        assert_eq!(a.genuine(2).expect("trace"), b.genuine(2).expect("trace"));
        assert_eq!(
            a.skilled_forgery(5).expect("trace"),
            b.skilled_forgery(5).expect("trace")
        );
        assert_ne!(a.genuine(2).expect("trace"), a.genuine(3).expect("trace"));
        assert_ne!(
            writer(3).genuine(0).expect("trace"),
            writer(4).genuine(0).expect("trace")
        );
        assert_ne!(Writer::new(8, 3, RATE).expect("valid"), writer(3));
    }

    #[test]
    fn invalid_rate_is_an_error() {
        assert!(Writer::new(7, 0, 0.0).is_err());
        assert!(Writer::new(7, 0, f64::NAN).is_err());
    }

    /// Mean shape distance of genuine 0 to genuine 1..=g and to forgeries 0..f, per writer.
    fn distances(w: &Writer, g: u32, f: u32) -> (f32, f32) {
        let reference = w.genuine(0).expect("trace");
        let mean = |traces: Vec<Trace>| {
            let d: Vec<f32> = traces
                .iter()
                .filter_map(|t| shape_distance(&reference, t, 256))
                .collect();
            d.iter().sum::<f32>() / d.len().max(1) as f32
        };
        let genuine = (1..=g).map(|k| w.genuine(k).expect("trace")).collect();
        let forged = (0..f)
            .map(|k| w.skilled_forgery(k).expect("trace"))
            .collect();
        (mean(genuine), mean(forged))
    }

    #[test]
    fn genuine_signatures_are_closer_than_skilled_forgeries() {
        let (mut genuine, mut forged, mut wins) = (0.0, 0.0, 0);
        let writers = 12;
        for id in 0..writers {
            let (g, f) = distances(&writer(id), 5, 5);
            genuine += g;
            forged += f;
            wins += u32::from(g < f);
        }
        let (genuine, forged) = (genuine / writers as f32, forged / writers as f32);
        assert!(genuine < 0.8 * forged, "genuine {genuine}, forged {forged}");
        assert!(
            wins >= writers * 3 / 4,
            "genuine closer for {wins} of {writers} writers"
        );
    }

    #[test]
    fn skilled_forgeries_are_slower() {
        let (mut genuine, mut forged) = (0.0, 0.0);
        for id in 0..8 {
            let w = writer(id);
            for k in 0..4 {
                genuine += w.genuine(k).expect("trace").duration_s();
                forged += w.skilled_forgery(k).expect("trace").duration_s();
            }
        }
        assert!(
            forged > 1.3 * genuine,
            "forged {forged} s, genuine {genuine} s"
        );
    }

    #[test]
    fn traces_look_like_signatures() {
        for id in 0..16 {
            let t = writer(id).genuine(0).expect("trace");
            let b = t.bounding_box().expect("ink");
            assert!((12.0..200.0).contains(&b.width_mm()), "writer {id}: {b:?}");
            assert!((4.0..80.0).contains(&b.height_mm()), "writer {id}: {b:?}");
            assert!(
                (0.5..20.0).contains(&t.duration_s()),
                "writer {id}: {} s",
                t.duration_s()
            );
            let times_increase = t.points.windows(2).all(|w| w[1].t_s > w[0].t_s);
            assert!(times_increase, "writer {id}: time goes back");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn traces_are_finite_and_bounded(seed in any::<u64>(), id in any::<u32>(), k in 0u32..64) {
            let w = Writer::new(seed, id, RATE).expect("valid rate");
            prop_assert!((1..=MAX_COMPONENTS).contains(&w.plan_components()));
            for t in [w.genuine(k).expect("trace"), w.skilled_forgery(k).expect("trace")] {
                prop_assert!(!t.points.is_empty());
                prop_assert!(t.is_finite());
                prop_assert!((1..=MAX_COMPONENTS).contains(&t.component_count()));
            }
        }
    }
}
