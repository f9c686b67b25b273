//! Host side of the board check: the model and test vectors that `firmware/boards/*` embed.
//!
//! [`board_inputs`] takes a model file (or builds the [`fixture`] encoder when none is given),
//! images at its input size ([`faces`]: held-out ORL faces or synthetic ones), and one scenario
//! ([`Scenario`]): enroll two captures of identity A (their mean, [`POLICY`]), verify a third capture of A (genuine) and
//! a capture of identity B (impostor). It runs the firmware's own int8 engine and verifier on the
//! host (`siamedge_engine::run_model`, the integer reference executor) and writes what
//! they answer into an `SGTV` vectors file ([`siamedge_format::vectors`]). The board must
//! reproduce every embedding and decision bit for bit.
//!
//! The fixture's threshold is not calibrated on data: it sits halfway between the scenario's
//! genuine and impostor distances, so that the board shows both verdicts. A shipped model keeps
//! its own thresholds, and its vectors record whatever it decides.

pub mod faces;
pub mod fixture;

use siamedge_engine::{run_model, EngineError};
use siamedge_firmware::{EnrollPolicy, Verifier};
use siamedge_format::preprocess::quantize_means;
use siamedge_format::vectors::{write::VectorsSpec, Probe, VectorsError};
use siamedge_format::{EmbeddingRef, FormatError, Model, ModelSpec};

pub use faces::{Face, Faces};

/// Why board inputs could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// A model file did not decode or encode.
    #[error("model: {0}")]
    Format(#[from] FormatError),
    /// The engine refused the model or input.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// The vectors could not be written.
    #[error("{0}")]
    Vectors(#[from] VectorsError),
    /// The data set could not be loaded.
    #[error("data: {0}")]
    Data(String),
    /// Anything else, explained.
    #[error("{0}")]
    Invalid(String),
}

/// How the board's scenario enrolls: the integer mean of the captures (re-normalized), so the
/// firmware's centroid arithmetic is checked too.
pub const POLICY: EnrollPolicy = EnrollPolicy::Mean;

/// Who is enrolled and who is probed: identities and capture numbers among [`Faces::test`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The enrolled identity (also the template's subject id).
    pub subject: u16,
    /// Its enrollment captures.
    pub enroll: [u16; 2],
    /// Its genuine probe capture.
    pub genuine: u16,
    /// The impostor's identity and capture.
    pub impostor: (u16, u16),
}

impl Scenario {
    /// ORL fold `fold`: person `10 * fold` enrolled from images 1 and 2, probed with image 3;
    /// person `10 * fold + 1`'s image 1 as the impostor. Both are held-out identities.
    pub fn orl(fold: usize) -> Self {
        let a = (10 * fold) as u16;
        Self {
            subject: a,
            enroll: [1, 2],
            genuine: 3,
            impostor: (a + 1, 1),
        }
    }

    /// Synthetic faces: identity 0 enrolled from captures 1 and 2, probed with capture 3;
    /// identity 1's capture 1 as the impostor.
    pub const SYNTHETIC: Scenario = Scenario {
        subject: 0,
        enroll: [1, 2],
        genuine: 3,
        impostor: (1, 1),
    };

    /// The images in vectors order: the two enrollment captures, the genuine, the impostor.
    fn faces<'f>(&self, faces: &'f Faces) -> Result<[&'f Face; 4], BoardError> {
        let get = |id: u16, capture: u16| {
            faces.test_face(id, capture).ok_or_else(|| {
                BoardError::Invalid(format!("no test image of identity {id}, capture {capture}"))
            })
        };
        Ok([
            get(self.subject, self.enroll[0])?,
            get(self.subject, self.enroll[1])?,
            get(self.subject, self.genuine)?,
            get(self.impostor.0, self.impostor.1)?,
        ])
    }
}

/// A model file and its test vectors, ready for `SIAMEDGE_BOARD_MODEL` / `_VECTORS`.
#[derive(Debug, Clone)]
pub struct BoardInputs {
    /// The model file.
    pub model: Vec<u8>,
    /// Its `SGTV` vectors.
    pub vectors: Vec<u8>,
    /// Whether the model is the untrained [`fixture`] with its own threshold (which separates
    /// the scenario's probes; not so after [`with_flip_average`]).
    pub fixture: bool,
    /// The host's decisions: genuine, then impostor.
    pub probes: [Probe; 2],
    /// MACs per inference.
    pub macs: u64,
}

/// Runs the scenario on `model` with the engine and verifier, and encodes the vectors.
pub fn vectors_for(
    model_bytes: &[u8],
    faces: &Faces,
    scenario: Scenario,
) -> Result<(Vec<u8>, [Probe; 2]), BoardError> {
    let model = Model::decode(model_bytes)?;
    let shape = model.input().shape();
    if shape.c != 1 {
        return Err(BoardError::Invalid(format!(
            "the board's face vectors are grey; the model takes {} channels",
            shape.c
        )));
    }
    let images = scenario.faces(faces)?;
    let expected_len = shape.elements() as usize;
    let mut inputs = Vec::new();
    let mut embeddings = Vec::new();
    for face in images {
        if face.pixels.len() != expected_len {
            return Err(BoardError::Invalid(format!(
                "image has {} pixels, the model input {}x{} needs {expected_len}",
                face.pixels.len(),
                shape.h,
                shape.w
            )));
        }
        // The area means, quantized by the preprocessing contract (as the trainer, the edge and
        // the firmware's fused area path do).
        let mut input = vec![0i8; expected_len];
        quantize_means(model.input(), &face.pixels, &mut input)
            .map_err(|e| BoardError::Invalid(e.to_string()))?;
        embeddings.push(run_model(&model, &input)?);
        inputs.push(input);
    }
    let (id, scale) = (model.id(), model.embedding().scale);
    let embedding = |i: usize| EmbeddingRef {
        model: id,
        scale,
        values: &embeddings[i],
    };
    let verifier = Verifier::new(&model);
    let template = verifier.enroll(
        u32::from(scenario.subject),
        &[embedding(0), embedding(1)],
        POLICY,
    )?;
    let probe = |image: usize| -> Result<Probe, BoardError> {
        let d = verifier.verify(&template, embedding(image))?;
        Ok(Probe {
            image: image as u16,
            accept: d.accept,
            distance: d.distance,
            score: d.score,
        })
    };
    let probes = [probe(2)?, probe(3)?];
    let spec = VectorsSpec {
        model: id,
        source: faces.source,
        subject: u32::from(scenario.subject),
        policy: POLICY,
        labels: images.iter().map(|f| f.identity).collect(),
        inputs,
        embeddings: embeddings.clone(),
        enroll: vec![0, 1],
        probes: probes.to_vec(),
    };
    Ok((spec.to_bytes()?, probes))
}

/// `model` (a model file) with flip averaging on
/// ([`EmbeddingSpec::flip_average`](siamedge_format::EmbeddingSpec::flip_average)): the same
/// weights and thresholds in a version-3 file, its arena grown by the keep region
/// ([`Model::flip_keep_bytes`]); another model id.
pub fn with_flip_average(model: &[u8]) -> Result<Vec<u8>, BoardError> {
    let mut spec = ModelSpec::from_model(&Model::decode(model)?);
    let before = spec.min_arena_bytes();
    spec.embedding.flip_average = true;
    let keep = spec.min_arena_bytes() - before;
    spec.arena_bytes = spec
        .arena_bytes
        .map(|a| u32::try_from(u64::from(a) + keep).unwrap_or(u32::MAX));
    Ok(spec.to_bytes()?)
}

/// [`board_inputs`], then with flip averaging when `flip`: the same model (the fixture too, whose
/// threshold then no longer needs to separate the probes) through [`with_flip_average`], with
/// the host's flip-averaged embeddings and decisions.
pub fn board_inputs_with(
    model: Option<&[u8]>,
    faces: &Faces,
    scenario: Scenario,
    seed: u64,
    flip: bool,
) -> Result<BoardInputs, BoardError> {
    let inputs = board_inputs(model, faces, scenario, seed)?;
    if !flip {
        return Ok(inputs);
    }
    let flipped = with_flip_average(&inputs.model)?;
    board_inputs(Some(&flipped), faces, scenario, seed)
}

/// MACs of one inference (every tap of every output, padding included; both passes of a
/// flip-average model).
pub fn macs(model: &Model<'_>) -> u64 {
    let mut buffer = vec![0i8; siamedge_engine::needed_arena_bytes(model)];
    siamedge_engine::Engine::with_buffer(model, &mut buffer).map_or(0, |e| e.macs())
}

/// The board's model and vectors: `model` if given, else the [`fixture`] (seed `seed`,
/// calibrated on `faces.calibration`, threshold halfway between the scenario's genuine and
/// impostor distances; an error if the genuine probe is not the nearer).
pub fn board_inputs(
    model: Option<&[u8]>,
    faces: &Faces,
    scenario: Scenario,
    seed: u64,
) -> Result<BoardInputs, BoardError> {
    let (model, fixture) = match model {
        Some(bytes) => (bytes.to_vec(), false),
        None => {
            let calibration: Vec<Vec<f32>> =
                faces.calibration.iter().map(|f| f.pixels.clone()).collect();
            let provisional = fixture::model_spec(seed, &calibration, 1.0)?.to_bytes()?;
            let (_, [genuine, impostor]) = vectors_for(&provisional, faces, scenario)?;
            if genuine.distance >= impostor.distance {
                return Err(BoardError::Invalid(format!(
                    "the fixture puts the genuine probe at {} and the impostor at {}: no \
                     threshold separates them; try another seed",
                    genuine.distance, impostor.distance
                )));
            }
            let threshold = (genuine.distance + impostor.distance) / 2.0;
            let spec = fixture::model_spec(seed, &calibration, threshold)?;
            (spec.to_bytes()?, true)
        }
    };
    let (vectors, probes) = vectors_for(&model, faces, scenario)?;
    let macs = macs(&Model::decode(&model)?);
    Ok(BoardInputs {
        model,
        vectors,
        fixture,
        probes,
        macs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::vectors::{Source, TestVectors};

    #[test]
    fn flip_average_inputs_are_the_engines_two_pass_embeddings() {
        let faces = faces::synthetic(fixture::HEIGHT.into(), fixture::WIDTH.into());
        let plain = board_inputs(None, &faces, Scenario::SYNTHETIC, 7).unwrap();
        let inputs = board_inputs_with(None, &faces, Scenario::SYNTHETIC, 7, true).unwrap();
        assert!(!inputs.fixture);
        let (p, m) = (
            Model::decode(&plain.model).unwrap(),
            Model::decode(&inputs.model).unwrap(),
        );
        assert!(m.embedding().flip_average && !p.embedding().flip_average);
        assert_eq!(m.version(), 3);
        assert_ne!(m.id(), p.id());
        // 56 x 46 input + 64 values, a multiple of 8 already.
        assert_eq!(m.flip_keep_bytes(), 56 * 46 + 64);
        assert_eq!(
            u64::from(m.arena_bytes()),
            u64::from(p.arena_bytes()) + m.flip_keep_bytes()
        );
        assert_eq!(inputs.macs, 2 * plain.macs);
        assert_eq!(m.decision(), p.decision());
        let v = TestVectors::decode(&inputs.vectors).unwrap();
        assert_eq!(v.model(), m.id());
        // Each embedding is the average of the plain model's on the image and its mirror.
        let pv = TestVectors::decode(&plain.vectors).unwrap();
        for i in 0..v.images() {
            let x = v.input(i).unwrap();
            assert_eq!(x, pv.input(i).unwrap());
            let mut mirror = vec![0i8; x.len()];
            siamedge_engine::kernels::flip::mirror_columns(x, &mut mirror, 46, 1);
            let a = run_model(&p, x).unwrap();
            let b = run_model(&p, &mirror).unwrap();
            assert_eq!(a, pv.embedding(i).unwrap());
            let mut first = a.clone();
            let mut second = b.clone();
            siamedge_engine::kernels::flip::FlipAverage::prepare(&m)
                .unwrap()
                .combine(&mut first, &mut second);
            assert_eq!(second, v.embedding(i).unwrap(), "image {i}");
        }
    }

    #[test]
    fn synthetic_inputs_round_trip_and_separate() {
        let faces = faces::synthetic(fixture::HEIGHT.into(), fixture::WIDTH.into());
        let inputs = board_inputs(None, &faces, Scenario::SYNTHETIC, 7).unwrap();
        let model = Model::decode(&inputs.model).unwrap();
        let v = TestVectors::decode(&inputs.vectors).unwrap();
        assert_eq!(v.model(), model.id());
        assert_eq!((v.images(), v.input_len(), v.dim()), (4, 56 * 46, 64));
        assert_eq!(v.source(), Source::Synthetic);
        assert_eq!(inputs.macs, 6_320_384, "the reference CNN at 56x46, 64-d");
        let [genuine, impostor] = inputs.probes;
        assert!(genuine.accept && !impostor.accept);
        assert!(genuine.distance < impostor.distance);
        // The embeddings are the engine's, unit length in int8 (128 = 1.0).
        let e = v.embedding(0).unwrap();
        let norm2: i32 = e.iter().map(|&x| i32::from(x) * i32::from(x)).sum();
        assert!(
            (128 * 128 * 9 / 10..=128 * 128 * 11 / 10).contains(&norm2),
            "{norm2}"
        );
    }
}
