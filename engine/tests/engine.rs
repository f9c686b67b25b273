//! Whole-model tests of the engine: random models against the independent scalar reference,
//! the shared fixtures, arena and input errors, image quantization, and a golden output.

#[path = "../../shared/tests/common/mod.rs"]
mod common;
mod reference;

use proptest::prelude::*;
use reference::random::{random_model, Rng as SeedRng};
use siamedge_engine::{self as engine, quantize_image, Arena, Engine, EngineError};
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

    /// With an L2Normalize at the end: exact too, the normalized output is `round(128 d / |d|)`.
    #[test]
    fn l2_normalized_models_match_the_reference(seed in any::<u64>()) {
        let spec = random_model(seed, true);
        let input = random_input(&spec, seed);
        let outs = reference::run(&spec, &input);
        let before = without_l2(&spec).to_bytes().unwrap();
        prop_assert_eq!(run_engine(&before, &input), outs[outs.len() - 2].data.clone());
        let got = run_engine(&spec.to_bytes().unwrap(), &input);
        prop_assert_eq!(&got, &outs[outs.len() - 1].data);
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
            assert_eq!(got, outs[outs.len() - 1].data);
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

#[test]
fn pools_over_more_channels_than_one_block() {
    use siamedge_format::{Activation, LayerKind, LayerSpec, Quant, Shape, Window};
    let mut spec = common::tiny_model_spec().unwrap();
    spec.input.width = 5;
    spec.input.height = 6;
    let q = spec.input.quant;
    let q1 = Quant::new(0.03, 0);
    let c = 130;
    let wide = LayerSpec::weighted(
        LayerKind::Conv2d(Window::new(1, 1, 1, 1)),
        Shape::new(6, 5, 1),
        q,
        q1,
        (0..c).map(|i| (i * 37 % 255) as u8 as i8).collect(),
        (0..c).map(|i| 0.001 * (1 + i % 7) as f32).collect(),
        (0..c).map(|i| i * 11 - 700).collect(),
    )
    .unwrap();
    let avg = LayerSpec::pool(
        LayerKind::AvgPool2d(Window::new(3, 3, 2, 2).same(wide.output)),
        wide.output,
        q1,
    )
    .unwrap();
    let max = LayerSpec::pool(
        LayerKind::MaxPool2d(Window::new(2, 2, 1, 1).same(avg.output)),
        avg.output,
        q1,
    )
    .unwrap()
    .with_activation(Activation { min: -20, max: 90 });
    let gap = LayerSpec::pool(LayerKind::GlobalAvgPool, max.output, q1).unwrap();
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        gap.output,
        q1,
        Quant::new(0.02, 0),
        (0..3 * c).map(|i| (i * 13 % 255) as u8 as i8).collect(),
        vec![0.001, 0.002, 0.003],
        vec![1, 2, 3],
    )
    .unwrap();
    spec.layers = vec![wide, avg, max, gap, dense];
    let bytes = spec.to_bytes().unwrap();
    // The same model cut after the global average: its 130 channels are the embedding.
    let mut cut = spec.clone();
    cut.layers.truncate(4);
    cut.embedding.dim = c as u16;
    cut.embedding.scale = q1.scale;
    cut.metric = siamedge_format::MetricSpec::Cosine;
    let cut_bytes = cut.to_bytes().unwrap();
    for seed in 0..20 {
        let input = random_input(&spec, seed);
        let outs = reference::run(&spec, &input);
        assert_eq!(run_engine(&cut_bytes, &input), outs[3].data);
        assert_eq!(run_engine(&bytes, &input), outs[4].data);
    }
}

/// A pinned output: the documentation model (`engine::doc_model`: Conv2d 3x3 1 -> 2 with ReLU on
/// a 4x4 input, GlobalAvgPool, Dense 2 -> 3) on input `x[i] = (23 i mod 256) - 128`.
///
/// The values come from this independent Python implementation of the same TFLite arithmetic
/// (Python's unbounded integers; `np.float32` for the scales as the file stores them), which
/// prints `conv [-2, 56, -2, 69, -3, -3, -3, -3]`, `gap [-3, 30]`, `out [-8, 8, 0]`. By hand for
/// the last: `gap - zp = [0, 33]`; channel 0: `acc = 1 - 100 * 33 = -3299`, real multiplier
/// `0.05 * 0.001 / 0.02 = 0.0025`, `-8.2475 -> -8`; channel 1: `2 + 50 * 33 = 1652`, `x 0.005 =
/// 8.26 -> 8`; channel 2: `3 + 33 = 36`, `x 0.0075 = 0.27 -> 0`.
///
/// ```python
/// import math
/// import numpy as np
/// f32 = lambda v: float(np.float32(v))
/// def qm(real):  # TFLite QuantizeMultiplier
///     m, e = math.frexp(real)
///     q = math.floor(m * 2**31 + 0.5)
///     if q == 2**31: q //= 2; e += 1
///     return q, e
/// def srdhm(a, b):  # ties toward +inf
///     return (a * b + 2**30) >> 31
/// def rdbpot(x, e):  # ties away from zero
///     if e == 0: return x
///     q = (abs(x) + 2**(e - 1)) >> e
///     return -q if x < 0 else q
/// def mbqm(acc, m, s):
///     return rdbpot(srdhm(acc * 2**max(s, 0), m), max(-s, 0))
/// x = [(i * 23 % 256) - 128 for i in range(16)]
/// s_in, s1, s2 = f32(1/128), f32(0.05), f32(0.02)
/// filters = [[1,-2,3,-4,5,-6,7,-8,9], [10,20,30,-40,-50,-60,70,80,127]]
/// ws, bias = [f32(0.01), f32(0.02)], [10, -5]
/// conv = []
/// for oy in range(2):
///     for ox in range(2):
///         for o in range(2):
///             acc = bias[o] + sum(filters[o][ky*3+kx] * (x[(oy+ky)*4 + ox+kx] - 0) for ky in range(3) for kx in range(3))
///             m, s = qm(s_in * ws[o] / s1)
///             conv.append(min(max(mbqm(acc, m, s) - 3, -3), 127))
/// gap = []
/// for c in range(2):
///     t = sum(conv[p*2 + c] for p in range(4))
///     gap.append(int((t + 2) / 4) if t > 0 else int((t - 2) / 4))  # C truncation
/// dw = [[100,-100],[50,50],[-1,1]]; dws = [f32(0.001), f32(0.002), f32(0.003)]; db = [1,2,3]
/// out = []
/// for o in range(3):
///     acc = db[o] + sum(dw[o][k] * (gap[k] + 3) for k in range(2))
///     m, s = qm(s1 * dws[o] / s2)
///     out.append(min(max(mbqm(acc, m, s), -128), 127))
/// print("input", x); print("conv", conv); print("gap", gap); print("out", out)
/// ```
#[test]
fn golden_output_of_the_documentation_model() {
    let bytes = engine::doc_model().unwrap();
    let input: Vec<i8> = (0..16).map(|i| ((i * 23 % 256) - 128) as i8).collect();
    assert_eq!(run_engine(&bytes, &input), [-8, 8, 0]);
    let model = Model::decode(&bytes).unwrap();
    let mut arena = Arena::<256>::new();
    let mut engine = Engine::new(&model, &mut arena).unwrap();
    assert_eq!(engine.run(&input).unwrap(), [-8, 8, 0]);
    assert_eq!(engine.macs(), 2 * 2 * 2 * 9 + 3 * 2);
}
