//! Flip averaging through the engine: a flip-average model's embedding is, bit for bit, the
//! documented rule ([`siamedge_engine::kernels::flip`]) worked by hand on two runs of the same
//! model without the flag, one on the input and one on its mirror image; with the reference,
//! packed (DSP) and host SIMD kernels, and arenas from the least to the roomiest.

mod reference;

use proptest::prelude::*;
use reference::random::{conv_model, conv_pool_model, random_model, Rng};
use siamedge_engine::host::{self, Isa};
use siamedge_engine::{dsp, needed_arena_bytes, Engine, Kernels};
use siamedge_format::{Model, ModelSpec, Shape};

/// The mirror image of an NHWC tensor, by index: column `x` becomes `w - 1 - x`.
fn mirrored(x: &[i8], s: Shape) -> Vec<i8> {
    let (h, w, c) = (usize::from(s.h), usize::from(s.w), usize::from(s.c));
    let mut out = vec![0i8; x.len()];
    for y in 0..h {
        for col in 0..w {
            for ch in 0..c {
                out[(y * w + col) * c + ch] = x[(y * w + (w - 1 - col)) * c + ch];
            }
        }
    }
    out
}

/// The rule of `kernels::flip` in floating point: the mean of the two passes rounded half away
/// from zero (`f64::round`), then for an L2-normalized model `round(128 m / ||m||)` clamped to
/// int8 and to the last layer's activation.
fn by_hand(spec: &ModelSpec, a: &[i8], b: &[i8]) -> Vec<i8> {
    let m: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(&a, &b)| ((f64::from(a) + f64::from(b)) / 2.0).round())
        .collect();
    if !spec.embedding.l2_normalized {
        return m.iter().map(|&v| v as i8).collect();
    }
    let act = spec.layers.last().unwrap().activation;
    let norm = m.iter().map(|v| v * v).sum::<f64>().sqrt();
    m.iter()
        .map(|&v| {
            let q = if norm == 0.0 {
                0.0
            } else {
                (128.0 * v / norm).round().clamp(-128.0, 127.0)
            };
            (q as i8).clamp(act.min, act.max)
        })
        .collect()
}

/// `spec` with flip averaging (its arena recomputed: the keep region joins the rule).
fn flipped(spec: &ModelSpec) -> ModelSpec {
    let mut flip = spec.clone();
    flip.embedding.flip_average = true;
    flip.arena_bytes = None;
    flip
}

/// Every kernel choice this build and CPU run, each with the arena sizes that exercise it.
fn choices(model: &Model<'_>) -> Vec<(Kernels, usize)> {
    let least = needed_arena_bytes(model);
    let mut out = vec![
        (Kernels::Reference, least),
        (Kernels::Packed, least),
        (Kernels::Packed, dsp::arena_bytes(model)),
    ];
    for isa in Isa::all_available() {
        out.push((Kernels::Simd(isa), least));
        out.push((Kernels::Simd(isa), host::arena_bytes(model)));
    }
    out
}

/// Checks one model and input: the unflagged runs against the scalar reference, then the
/// flagged engine against the rule by hand, for every kernel choice.
fn check(spec: &ModelSpec, input: &[i8]) -> Result<(), TestCaseError> {
    let plain_bytes = spec.to_bytes().unwrap();
    let plain = Model::decode(&plain_bytes).unwrap();
    let shape = spec.input.shape();
    let mirror = mirrored(input, shape);
    let mut buffer = vec![0i8; needed_arena_bytes(&plain)];
    let mut engine = Engine::with_kernels(&plain, &mut buffer, Kernels::Reference).unwrap();
    let a = engine.run(input).unwrap().to_vec();
    let b = engine.run(&mirror).unwrap().to_vec();
    prop_assert_eq!(&a, &reference::run(spec, input).pop().unwrap().data);
    prop_assert_eq!(&b, &reference::run(spec, &mirror).pop().unwrap().data);
    let expected = by_hand(spec, &a, &b);

    let flip = flipped(spec);
    let flip_bytes = flip.to_bytes().unwrap();
    let model = Model::decode(&flip_bytes).unwrap();
    prop_assert!(model.embedding().flip_average);
    let keep = (shape.elements() + u64::from(spec.embedding.dim)).next_multiple_of(8);
    prop_assert_eq!(model.flip_keep_bytes(), keep);
    prop_assert_eq!(
        needed_arena_bytes(&model),
        needed_arena_bytes(&plain) + keep as usize
    );
    for (kernels, size) in choices(&model) {
        let mut buffer = vec![0x5Ai8; size];
        let mut engine = Engine::with_kernels(&model, &mut buffer, kernels).unwrap();
        prop_assert_eq!(engine.passes(), 2);
        let got = engine.run(input).unwrap().to_vec();
        prop_assert_eq!(&got, &expected, "{:?} arena {}", kernels, size);
        // Again in the same engine: the keep region is reused, not accumulated into.
        prop_assert_eq!(
            engine.run(input).unwrap(),
            &expected[..],
            "{:?} again",
            kernels
        );
        // The mirror image embeds to the same vector: the average is symmetric.
        prop_assert_eq!(
            engine.run(&mirror).unwrap(),
            &expected[..],
            "{:?} mirror",
            kernels
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn flip_average_is_the_rule_on_two_plain_runs(seed in any::<u64>()) {
        let spec = match seed % 4 {
            0 | 1 => random_model(seed, seed % 8 < 4),
            2 => conv_model(seed),
            _ => conv_pool_model(seed),
        };
        let input = Rng::new(seed ^ 0xF11F).bytes(spec.input.shape().elements() as usize);
        check(&spec, &input)?;
    }
}

#[test]
fn a_flip_average_model_runs_two_passes_of_each_layer() {
    let spec = flipped(&random_model(3, true));
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let plain_bytes = random_model(3, true).to_bytes().unwrap();
    let plain = Model::decode(&plain_bytes).unwrap();
    let mut buffer = vec![0i8; needed_arena_bytes(&model)];
    let mut engine = Engine::with_buffer(&model, &mut buffer).unwrap();
    let mut plain_buffer = vec![0i8; needed_arena_bytes(&plain)];
    let plain_engine = Engine::with_buffer(&plain, &mut plain_buffer).unwrap();
    assert_eq!(engine.macs(), 2 * plain_engine.macs());
    assert_eq!(engine.layer_macs(0), 2 * plain_engine.layer_macs(0));
    let mut calls = vec![0usize; model.layers().len()];
    engine.invoke_profiled(|layer| calls[layer] += 1);
    assert!(calls.iter().all(|&n| n == 2), "{calls:?}");
    // One byte short of the rule (keep region included) is refused.
    let mut small = vec![0i8; needed_arena_bytes(&model) - 1];
    assert!(Engine::with_buffer(&model, &mut small).is_err());
}

/// The keep region comes off the front of the arena: at the roomy sizes a flip-average model runs
/// exactly the layers on the packed and SIMD kernels that the plain model runs.
#[test]
fn the_keep_region_leaves_the_fast_kernels_their_room() {
    for seed in 0..12 {
        let spec = if seed % 2 == 0 {
            conv_model(seed)
        } else {
            conv_pool_model(seed)
        };
        let (plain_bytes, flip_bytes) =
            (spec.to_bytes().unwrap(), flipped(&spec).to_bytes().unwrap());
        let (plain, flip) = (
            Model::decode(&plain_bytes).unwrap(),
            Model::decode(&flip_bytes).unwrap(),
        );
        let mut a = vec![0i8; dsp::arena_bytes(&plain)];
        let mut b = vec![0i8; dsp::arena_bytes(&flip)];
        let packed = Engine::with_kernels(&plain, &mut a, Kernels::Packed).unwrap();
        assert!(packed.packed_layers() > 0, "seed {seed}");
        let flip_packed = Engine::with_kernels(&flip, &mut b, Kernels::Packed).unwrap();
        assert_eq!(
            flip_packed.packed_layers(),
            packed.packed_layers(),
            "seed {seed}"
        );
        for isa in Isa::all_available() {
            let mut a = vec![0i8; host::arena_bytes(&plain)];
            let mut b = vec![0i8; host::arena_bytes(&flip)];
            let simd = Engine::with_kernels(&plain, &mut a, Kernels::Simd(isa)).unwrap();
            assert!(simd.simd_layers() > 0, "seed {seed} {isa:?}");
            let flip_simd = Engine::with_kernels(&flip, &mut b, Kernels::Simd(isa)).unwrap();
            assert_eq!(
                flip_simd.simd_layers(),
                simd.simd_layers(),
                "seed {seed} {isa:?}"
            );
        }
    }
}

/// The corner cases of the rule: opposite passes average to zero, which normalizes to zeros;
/// -128 and -128 stay -128 (the sum, -256, never reaches the L2 kernel).
#[test]
fn opposite_and_extreme_passes() {
    let rule = siamedge_engine::kernels::flip::FlipAverage {
        width: 1,
        channels: 1,
        normalize: Some(siamedge_engine::kernels::l2norm::L2Norm {
            depth: 4,
            input_zero_point: 0,
            min: i8::MIN,
            max: i8::MAX,
        }),
    };
    let (mut a, mut b) = ([10i8, -20, 30, -40], [-10i8, 20, -30, 40]);
    rule.combine(&mut a, &mut b);
    assert_eq!(b, [0; 4]);
    let (mut a, mut b) = ([-128i8, 0, 0, 0], [-128i8, 0, 0, 0]);
    rule.combine(&mut a, &mut b);
    assert_eq!((a, b), ([-128, 0, 0, 0], [-128, 0, 0, 0]));
    // A 3-4-5 triangle: (3, 4) / 5 * 128 = (76.8, 102.4) -> (77, 102).
    let (mut a, mut b) = ([2i8, 4, 0, 0], [4i8, 4, 0, 0]);
    rule.combine(&mut a, &mut b);
    assert_eq!((a, b), ([3, 4, 0, 0], [77, 102, 0, 0]));
}
