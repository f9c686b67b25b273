//! Synthetic handwritten signatures from the kinematic sigma-lognormal model: online traces (what a
//! pad records) and grey scans (what a scanner gives), genuine and skilled-forged, for any number of
//! writers, deterministic under a seed.
//!
//! What: no public signature set ships in a package registry we may use, so this is the data
//! source for signature verification until the user brings one ([`super::signature`] reads that).
//! The method follows the GPDS-Synthetic line of work:
//!
//! - the motor model: a pen-down component is a sum of overlapping lognormal strokes, each an arc
//!   whose speed is a lognormal in time ([`lognormal`]; Plamondon 1995, "A kinematic theory of rapid
//!   human movements"; Plamondon & Djioua 2006; O'Reilly & Plamondon 2009, "Development of a
//!   Sigma-Lognormal representation for on-line signatures");
//! - the plan: a writer's signature is a sequence of virtual target points (an "engram") for a
//!   capital, one or two cursive words and a flourish, in a writer-specific size, slant and
//!   baseline ([`writer`]; Ferrer, Diaz-Cabrera & Morales 2015, "Static signature synthesis: a
//!   neuromotor inspired approach for biometrics"; Diaz-Cabrera, Ferrer & Morales 2015, "Modeling
//!   the lexical morphology of Western handwritten signatures");
//! - intra-writer variability: stroke parameters perturbed within the admissible ranges of Fischer,
//!   Plamondon et al. ("A sigma-lognormal model-based approach to generating large synthetic online
//!   handwriting sample databases", 2014; the numbers as in the public `slbox` reference code,
//!   which cites it) at deformation level 0.25, which that work rates as still intra-writer (visual
//!   Turing tests: below 0.25 intra-writer, 0.25 to 0.75 like new writers), plus the global affine
//!   and sinusoidal distortions of Diaz, Ferrer, Eskander & Sabourin 2017 (duplicated off-line
//!   signatures) and Diaz, Fischer, Ferrer & Plamondon 2016/2018 (duplicating signatures by
//!   sigma-lognormal parameter distortion);
//! - skilled forgeries: another hand imitating the static shape: larger shape distortion, slower
//!   (longer, lower lognormals), less overlapping strokes, hesitations, corrective strokes and pen
//!   lifts, as forensic examiners describe simulated signatures.
//!
//! Parameters (per writer `w`: drawn once; per sample: drawn per genuine / forgery index):
//!
//! | parameter | value | per | source |
//! |---|---|---|---|
//! | sampling rate | 200 Hz | generator | signature pads (Wacom, MCYT: 100 to 200 Hz) |
//! | x-height | U(2.8, 5) mm | writer | chosen: Western signatures 25 to 60 mm wide (Diaz-Cabrera et al. 2015) |
//! | ascender / descender | U(1.9, 2.8) / U(1.0, 1.7) x-heights | writer | chosen (cursive zones) |
//! | letter width | U(0.6, 1.1) x-heights per unit | writer | chosen |
//! | slant | U(-8, 30) deg | writer | chosen |
//! | baseline angle | U(-3, 7) deg | writer | chosen |
//! | capital / words / letters | p 0.75 / 1 or 2 (p 0.45) / 4..=8 for one word, 3..=7 each for two, more (at most 10) while a word is under 7 / 4.5 x-heights wide | writer | chosen, after Ferrer et al. 2015 |
//! | flourish | none, underline, back-sweep, paraph: p 0.25 each | writer | Diaz-Cabrera et al. 2015: most signatures in their sets carry one |
//! | letter-shape jitter | N(0, 0.07) x-heights per target | writer | chosen |
//! | `mu` | U(-2.4, -1.9) + N(0, 0.08) + 0.3 ln(chord / x-height) | writer, stroke | fits of Plamondon & Djioua 2006; size term: isochrony |
//! | `sigma` | U(0.18, 0.30) x U(0.9, 1.1) | writer, stroke | as above |
//! | onset lag | U(0.35, 0.55) x exp(mu) | writer | chosen: neighbouring lognormals overlap as in fitted handwriting |
//! | pen-up time | U(0.12, 0.30) s x U(0.8, 1.25) | writer, gap | chosen |
//! | touch-down / lift-off speed | genuine U(0.1, 0.3), forgery U(0.02, 0.06) x the end strokes' peak | sample | chosen: fluent ends taper, simulated ones are blunt (forensic literature) |
//! | `D` | x (1 + U(-0.10, 0.10) lambda) | stroke | Fischer et al. 2014 admissible range |
//! | `t0` (time stretch) | x (1 + U(-0.085, 0.0825) lambda) | component | Fischer et al. 2014 |
//! | `mu` | x (1 + U(-0.252, 0.263) lambda) | stroke | Fischer et al. 2014 (range / 1.5 as in its reference code) |
//! | `sigma` | x (1 + U(-0.2875, 0.325) lambda) | stroke | Fischer et al. 2014 |
//! | `theta_s`, `theta_e` | + U(-0.015, 0.03) pi lambda, + U(-0.015, 0.0275) pi lambda | stroke | Fischer et al. 2014 (relative there; here in units of pi) |
//! | lambda (deformation level) | genuine 0.25, forgery 0.6 | kind | Fischer et al.: < 0.25 intra-writer, 0.25 to 0.75 like another writer |
//! | speed of the sample | genuine mu + N(0, 0.05) | sample | chosen |
//! | rotation | genuine N(0, 1.5) clip 3 deg; forgery N(0, 3) clip 6 | sample | chosen, "a few degrees" (Diaz et al. 2017) |
//! | slant change (shear) | genuine N(0, 2) clip 4 deg; forgery N(0, 5) clip 10 | sample | chosen |
//! | scale | genuine N(0, 4 %) clip 8 %; forgery N(0, 10 %) clip 20 % | sample | chosen |
//! | aspect | genuine N(0, 3 %) clip 6 %; forgery N(0, 8 %) clip 16 % | sample | chosen |
//! | sinusoidal warp | amplitude U(-7.5, 7.5) % of size x (genuine 0.35, forgery 1), period U(1, 2) sizes | sample | Diaz et al. 2017 |
//! | target jitter | genuine N(0, 0.035), forgery N(0, 0.10) x-heights | sample | chosen |
//! | forger's slow-down | stroke durations x U(1.2, 1.7) (`mu` + ln), `sigma` x U(0.95, 1.25) | forgery | chosen: simulation is slow; with the items below a forgery lasts about 2.5 times as long |
//! | forger's onset lag | x U(1.1, 1.4) (less overlap: stop and go) | forgery | chosen |
//! | forger's sub-movements | a chord over 0.8 x-height split in two with p 0.45 | forgery | chosen |
//! | overshoot + corrective stroke | p 0.10 per stroke, 10 to 25 % | forgery | chosen |
//! | hesitation | p 0.02 per stroke, pause U(0.15, 0.45) s | forgery | chosen |
//! | pen lift inside a component | p 0.3 per component (while <= [`MAX_COMPONENTS`]) | forgery | chosen |
//! | forger's pen-up time | x U(1.5, 3.0) | forgery | chosen |
//!
//! Random forgeries are not generated separately: a random forgery of writer `w` is another
//! writer's genuine signature ([`random_forgery_donor`], [`SignatureSynth::random_forgery`]).
//!
//! Determinism: every random draw comes from a `ChaCha8Rng` keyed by (seed, writer, purpose) on a
//! stream given by the sample index, so writer `w` does not depend on which other writers are
//! generated, and (seed, writer, k, kind) gives the same trace and image bit for bit on one
//! platform (the maths uses the platform's `exp`, `ln` and `sin`, which may differ in the last bit
//! elsewhere).
//!
//! When not: these are synthetic; a verifier trained on them alone learns this model's notion of a
//! writer. Use them to exercise the pipeline and pre-train, and measure on real signatures.

pub mod folder;
pub mod lognormal;
pub mod render;
pub mod trace;
pub mod writer;

pub use folder::{write_folder, SynthSetSummary, WriteError};
pub use lognormal::{erf, Component, Stroke};
pub use render::{render, RenderOptions};
pub use trace::{shape_distance, BoundingBox, Trace, TracePoint};
pub use writer::Writer;

use rand::RngCore;

/// Most pen-down components a synthetic signature has (name parts, capital, flourish, a forger's
/// extra pen lift).
pub const MAX_COMPONENTS: usize = 4;

/// Errors of the generator and the renderer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A parameter outside its range.
    #[error("{name} = {value}: expected {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The accepted range.
        expected: &'static str,
    },
    /// A component too long to sample.
    #[error(
        "a component of {seconds} s at {rate_hz} Hz exceeds {} samples",
        lognormal::MAX_COMPONENT_SAMPLES
    )]
    TooManySamples {
        /// The component's duration, s.
        seconds: f64,
        /// The sampling rate, Hz.
        rate_hz: f64,
    },
    /// A trace point with a NaN or infinite coordinate or time.
    #[error("trace point {index} is not finite")]
    NonFiniteTrace {
        /// Index of the first such point.
        index: usize,
    },
    /// A trace without pen-down points: nothing to render.
    #[error("the trace has no pen-down point")]
    NoInk,
    /// The rendered image would be too large.
    #[error("a {width} x {height} image exceeds {max_pixels} pixels")]
    ImageTooLarge {
        /// Width it would have, px.
        width: f64,
        /// Height it would have, px.
        height: f64,
        /// The limit, [`render::MAX_IMAGE_PIXELS`].
        max_pixels: u64,
    },
    /// A random forgery needs another writer.
    #[error("writer {writer} of {n_writers}: a random forgery needs writer < n_writers and n_writers >= 2")]
    NoOtherWriter {
        /// The writer to forge.
        writer: u32,
        /// The number of writers.
        n_writers: u32,
    },
}

/// Which kind of sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleKind {
    /// Written by the writer.
    Genuine,
    /// Written by a forger imitating the writer's signature.
    SkilledForgery,
}

/// The generator's configuration: a GPDS-like set of `genuine_per_writer` genuine signatures and
/// `forgeries_per_writer` skilled forgeries for each writer the caller asks for.
///
/// The counts size a data set built from it; the sample functions take any index `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignatureSynth {
    /// The generator seed: every writer, sample and image derives from it.
    pub seed: u64,
    /// Genuine signatures per writer (GPDS: 24).
    pub genuine_per_writer: u32,
    /// Skilled forgeries per writer (GPDS: 30).
    pub forgeries_per_writer: u32,
    /// Pad sampling rate, Hz, finite and `> 0` (default 200).
    pub sample_rate_hz: f64,
    /// How images are rendered.
    pub render: RenderOptions,
}

impl Default for SignatureSynth {
    fn default() -> Self {
        Self {
            seed: 0,
            genuine_per_writer: 24,
            forgeries_per_writer: 30,
            sample_rate_hz: 200.0,
            render: RenderOptions::default(),
        }
    }
}

impl SignatureSynth {
    /// Writer `id`: its plan and hand. Errors on an invalid sampling rate.
    pub fn writer(&self, id: u32) -> Result<Writer, SynthError> {
        Writer::new(self.seed, id, self.sample_rate_hz)
    }

    /// Sample `k` of `kind` by (or imitating) writer `writer`.
    pub fn sample(&self, writer: u32, k: u32, kind: SampleKind) -> Result<Trace, SynthError> {
        self.writer(writer)?.sample(k, kind)
    }

    /// Genuine signature `k` of writer `writer`.
    pub fn genuine(&self, writer: u32, k: u32) -> Result<Trace, SynthError> {
        self.sample(writer, k, SampleKind::Genuine)
    }

    /// Skilled forgery `k` of writer `writer`.
    pub fn skilled_forgery(&self, writer: u32, k: u32) -> Result<Trace, SynthError> {
        self.sample(writer, k, SampleKind::SkilledForgery)
    }

    /// Random forgery `k` of writer `writer` among `n_writers`: the genuine signature `k` of
    /// [`random_forgery_donor`]`(writer, k, n_writers)`.
    pub fn random_forgery(&self, writer: u32, k: u32, n_writers: u32) -> Result<Trace, SynthError> {
        self.genuine(random_forgery_donor(writer, k, n_writers)?, k)
    }

    /// The seed [`Self::image`] renders sample (writer, k, kind) with.
    pub fn render_seed(&self, writer: u32, k: u32, kind: SampleKind) -> u64 {
        let stream = u64::from(k) | (u64::from(kind == SampleKind::SkilledForgery) << 32);
        writer::rng_for(self.seed, writer, writer::Purpose::Render, stream).next_u64()
    }

    /// Sample (writer, k, kind) rendered under [`Self::render`] with [`Self::render_seed`].
    pub fn image(
        &self,
        writer: u32,
        k: u32,
        kind: SampleKind,
    ) -> Result<image::GrayImage, SynthError> {
        let trace = self.sample(writer, k, kind)?;
        render(&trace, &self.render, self.render_seed(writer, k, kind))
    }
}

/// The writer whose genuine signature `k` serves as random forgery `k` of `writer` among
/// `n_writers` (writers `0..n_writers`): `(writer + 1 + k mod (n_writers - 1)) mod n_writers`, never
/// `writer` itself, cycling through all the others as `k` grows. Errors unless
/// `writer < n_writers` and `n_writers >= 2`.
pub fn random_forgery_donor(writer: u32, k: u32, n_writers: u32) -> Result<u32, SynthError> {
    if n_writers < 2 || writer >= n_writers {
        return Err(SynthError::NoOtherWriter { writer, n_writers });
    }
    let offset = 1 + u64::from(k) % u64::from(n_writers - 1);
    // The sum is below 2 n_writers and the result below n_writers: it fits u32.
    Ok(((u64::from(writer) + offset) % u64::from(n_writers)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_forgery_donor_is_another_writer() {
        for k in 0..20 {
            let d = random_forgery_donor(2, k, 5).expect("donor");
            assert!(d < 5 && d != 2);
        }
        let all: std::collections::BTreeSet<u32> = (0..4)
            .map(|k| random_forgery_donor(2, k, 5).expect("donor"))
            .collect();
        assert_eq!(all.len(), 4);
        assert!(random_forgery_donor(0, 0, 1).is_err());
        assert!(random_forgery_donor(5, 0, 5).is_err());
    }

    #[test]
    fn images_are_deterministic_and_writers_differ() {
        let synth = SignatureSynth {
            seed: 11,
            ..SignatureSynth::default()
        };
        let a = synth.image(1, 0, SampleKind::Genuine).expect("image");
        assert_eq!(a, synth.image(1, 0, SampleKind::Genuine).expect("image"));
        assert_ne!(a, synth.image(2, 0, SampleKind::Genuine).expect("image"));
        let dark = a.pixels().filter(|p| p.0[0] < 128).count();
        let total = a.pixels().count();
        assert!(dark > 100 && dark < total / 3, "{dark} dark of {total}");
        let random = synth.random_forgery(1, 0, 3).expect("trace");
        assert_eq!(random, synth.genuine(2, 0).expect("trace"));
    }

    #[test]
    fn defaults_are_gpds_sized() {
        let synth = SignatureSynth::default();
        assert_eq!(
            (synth.genuine_per_writer, synth.forgeries_per_writer),
            (24, 30)
        );
        let bad = SignatureSynth {
            sample_rate_hz: -1.0,
            ..synth
        };
        assert!(bad.writer(0).is_err());
    }
}
