//! Whole-model tests of the engine: random models against the independent scalar reference,
//! the shared fixtures, arena and input errors, image quantization, and a golden output.

#[path = "../../shared/tests/common/mod.rs"]
mod common;
mod reference;

use proptest::prelude::*;
use reference::random::{random_model, Rng as SeedRng};
use siamedge_firmware::engine::{self, quantize_image, Arena, Engine, EngineError};
use siamedge_format::{Model, ModelSpec};

fn random_input(spec: &ModelSpec, seed: u64) -> Vec<i8> {
    SeedRng::new(seed ^ 0xABCD).bytes(spec.input.shape().elements() as usize)
}

/// The model without its last layer (an L2Normalize), ending at the layer before.
fn without_l2(spec: &ModelSpec) -> ModelSpec {
    let mut s = spec.clone();
    s.layers.pop();
    let q = s.layers.last().unwrap().output_quant;
    s.embedding.scale = q.scale;
    s.embedding.l2_normalized = false;
    s
}

fn run_engine(bytes: &[u8], input: &[i8]) -> Vec<i8> {
    engine::run_model_bytes(bytes, input).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random models of every layer kind give the reference's bytes exactly.
    #[test]
    fn random_models_match_the_reference(seed in any::<u64>()) {
        let spec = random_model(seed, false);
        let bytes = spec.to_bytes().unwrap();
        let input = random_input(&spec, seed);
        let expected = reference::run(&spec, &input).pop().unwrap().data;
        prop_assert_eq!(run_engine(&bytes, &input), expected);
    }

    /// With an L2Normalize at the end: everything before it exact, the normalized output within
    /// one step of `round(128 d / |d|)`.
    #[test]
    fn l2_normalized_models_match_the_reference(seed in any::<u64>()) {
        let spec = random_model(seed, true);
        let input = random_input(&spec, seed);
        let outs = reference::run(&spec, &input);
        let before = without_l2(&spec).to_bytes().unwrap();
        prop_assert_eq!(run_engine(&before, &input), outs[outs.len() - 2].data.clone());
        let got = run_engine(&spec.to_bytes().unwrap(), &input);
        let ideal = &outs[outs.len() - 1].data;
        for (g, e) in got.iter().zip(ideal) {
            prop_assert!((i32::from(*g) - i32::from(*e)).abs() <= 1, "{got:?} vs {ideal:?}");
        }
    }
}

#[test]
fn shared_fixtures_match_the_reference() {
    for spec in [
        common::tiny_model_spec().unwrap(),
        common::every_kind_spec().unwrap(),
    ] {
        let bytes = spec.to_bytes().unwrap();
        for seed in 0..50 {
            let input = random_input(&spec, seed);
            let outs = reference::run(&spec, &input);
            let got = run_engine(&bytes, &input);
            if spec.embedding.l2_normalized {
                // (The layer before the L2Normalize has a nonzero output zero point, so it
                // cannot end a model; the random models check that chain exactly.)
                for (g, e) in got.iter().zip(&outs[outs.len() - 1].data) {
                    assert!((i32::from(*g) - i32::from(*e)).abs() <= 1);
                }
            } else {
                assert_eq!(got, outs[outs.len() - 1].data);
            }
        }
    }
}

#[test]
fn static_arena_runs_and_reruns() {
    let bytes = common::every_kind_spec().unwrap().to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut arena = Arena::<1024>::new();
    let mut engine = Engine::new(&model, &mut arena).unwrap();
    assert_eq!(engine.input_len(), 8 * 8 * 3);
    assert_eq!(engine.output_len(), 16);
    let input: Vec<i8> = (0..192).map(|i| (i * 7 % 256) as u8 as i8).collect();
    let first = engine.run(&input).unwrap().to_vec();
    // The arena is reused: a second run on the same input gives the same output.
    let second = engine.run(&input).unwrap().to_vec();
    assert_eq!(first, second);
    assert_eq!(first, run_engine(&bytes, &input));
    // The L2-normalized embedding has a norm near 128.
    let norm: f64 = first
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((norm - 128.0).abs() < 3.0, "{norm}");
}

#[test]
fn arena_too_small_is_a_typed_error() {
    let bytes = common::every_kind_spec().unwrap().to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let needed = engine::needed_arena_bytes(&model);
    assert_eq!(needed as u64, model.min_arena_bytes());
    let mut arena = Arena::<64>::new();
    let err = Engine::new(&model, &mut arena).unwrap_err();
    assert_eq!(
        err,
        EngineError::ArenaTooSmall {
            needed,
            available: 64
        }
    );
    assert!(err.to_string().contains(&needed.to_string()));
    // Exactly the needed size is enough.
    let mut buffer = vec![0i8; needed];
    assert!(Engine::with_buffer(&model, &mut buffer).is_ok());
    let mut short = vec![0i8; needed - 1];
    assert!(matches!(
        Engine::with_buffer(&model, &mut short),
        Err(EngineError::ArenaTooSmall { .. })
    ));
}

#[test]
fn arena_bytes_from_the_file_are_honoured() {
    let mut spec = common::tiny_model_spec().unwrap();
    let min = spec.min_arena_bytes() as usize;
    spec.arena_bytes = Some(min as u32 + 100);
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut buffer = vec![0i8; min + 99];
    assert_eq!(
        Engine::with_buffer(&model, &mut buffer).unwrap_err(),
        EngineError::ArenaTooSmall {
            needed: min + 100,
            available: min + 99
        }
    );
}

#[test]
fn wrong_input_length_is_a_typed_error() {
    let bytes = common::tiny_model_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut arena = Arena::<256>::new();
    let mut engine = Engine::new(&model, &mut arena).unwrap();
    assert_eq!(
        engine.run(&[0; 15]).unwrap_err(),
        EngineError::InputLength {
            expected: 16,
            found: 15
        }
    );
    assert!(matches!(
        engine::run_model(&model, &[0; 17]),
        Err(EngineError::InputLength {
            expected: 16,
            found: 17
        })
    ));
    assert!(matches!(
        engine::run_model_bytes(&bytes[..bytes.len() - 1], &[0; 16]),
        Err(EngineError::Model(_))
    ));
}

#[test]
fn quantize_image_uses_the_input_spec() {
    let spec = common::every_kind_spec().unwrap();
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let pixels: Vec<u8> = (0..192).map(|i| (i * 31 % 256) as u8).collect();
    let mut out = vec![0i8; 192];
    quantize_image(model.input(), &pixels, &mut out).unwrap();
    for (i, (&p, &q)) in pixels.iter().zip(&out).enumerate() {
        assert_eq!(Some(q), model.input().quantize_pixel(i % 3, p));
    }
    assert_eq!(
        quantize_image(model.input(), &pixels[..191], &mut out),
        Err(EngineError::InputLength {
            expected: 192,
            found: 191
        })
    );
    assert_eq!(
        quantize_image(model.input(), &pixels, &mut out[..10]),
        Err(EngineError::InputLength {
            expected: 192,
            found: 10
        })
    );
}

#[test]
fn accumulators_that_could_overflow_are_refused() {
    use siamedge_format::{LayerKind, LayerSpec, Quant, Shape};
    // Dense over 70,000 inputs with weights of magnitude 127: 255 * 127 * 70,000 > 2^31.
    let mut spec = common::tiny_model_spec().unwrap();
    spec.input.width = 280;
    spec.input.height = 250;
    let q = spec.input.quant;
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        Shape::new(250, 280, 1),
        q,
        Quant::new(0.02, 0),
        vec![127; 3 * 70_000],
        vec![1e-5; 3],
        vec![0; 3],
    )
    .unwrap();
    spec.layers = vec![dense];
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut buffer = vec![0i8; 70_003];
    let err = Engine::with_buffer(&model, &mut buffer).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Unsupported {
                layer: 0,
                kind: "dense",
                ..
            }
        ),
        "{err}"
    );
}
