//! The host SIMD kernels (SSE2, AVX2, AVX-512 VNNI on x86-64; NEON on aarch64) against the
//! reference kernels, bit for bit: each kernel on random layers with every instruction set this
//! CPU has, whole random models through the engine, and arenas from the least to the roomiest.

mod reference;

use proptest::prelude::*;
use reference::random::{conv_model, random_model, wide_dense_model, Rng};
use siamedge_engine::host::{self, Gemm, Isa, Operands};
use siamedge_engine::kernels::conv2d::Conv2d;
use siamedge_engine::kernels::dense::Dense;
use siamedge_engine::kernels::pool::{Pool, Reduce};
use siamedge_engine::{needed_arena_bytes, Engine, EngineError, Kernels, LayerKernel};
use siamedge_format::{LayerKind, Model, ModelSpec};

/// Packed weights, table and panel of `gemm` for `isa` (the panel filled with garbage first).
fn blocks(
    isa: Isa,
    gemm: &Gemm,
    weights: &[i8],
    channels: &siamedge_engine::kernels::Channels<'_>,
    input_offset: i32,
) -> (Vec<i16>, Vec<i32>, Vec<i16>) {
    let mut w = vec![0x5555i16; gemm.weight_values()];
    let mut t = vec![0x5555i32; gemm.table_words()];
    host::pack_weights(isa, gemm, weights, &mut w);
    host::pack_table(isa, gemm, channels, weights, input_offset, &mut t);
    (w, t, vec![0x3333i16; gemm.panel_values()])
}

/// Runs every Conv2d and Dense layer of `bytes` on each available instruction set and the
/// reference kernel on the same random input; returns how many layers were compared.
fn compare_layers(bytes: &[u8], seed: u64) -> Result<usize, TestCaseError> {
    let model = Model::decode(bytes).unwrap();
    let mut rng = Rng::new(seed ^ 0x51D);
    let mut compared = 0;
    for (i, layer) in model.layers().iter().enumerate() {
        let input = rng.bytes(layer.input.elements() as usize);
        let n = layer.output.elements() as usize;
        let mut reference = vec![0i8; n];
        for isa in Isa::all_available() {
            let mut simd = vec![0x55i8; n];
            let ran = match &layer.kind {
                LayerKind::Conv2d(w) => {
                    let k = Conv2d::prepare(i, layer, w).unwrap();
                    k.eval(&input, &mut reference);
                    let gemm = Gemm::conv(&k);
                    let (w, t, mut p) = blocks(isa, &gemm, k.weights, &k.channels, k.input_offset);
                    let ops = Operands {
                        gemm,
                        weights: &w,
                        table: &t,
                        panel: &mut p,
                    };
                    host::conv2d(isa, &k, ops, &input, &mut simd)
                }
                LayerKind::Dense => {
                    let k = Dense::prepare(i, layer).unwrap();
                    k.eval(&input, &mut reference);
                    let gemm = Gemm::dense(&k);
                    let (w, t, mut p) = blocks(isa, &gemm, k.weights, &k.channels, k.input_offset);
                    let ops = Operands {
                        gemm,
                        weights: &w,
                        table: &t,
                        panel: &mut p,
                    };
                    host::dense(isa, &k, ops, &input, &mut simd)
                }
                _ => break,
            };
            prop_assert!(ran, "{:?} did not run layer {}", isa, i);
            prop_assert_eq!(&simd, &reference, "{:?} layer {}", isa, i);
            compared += 1;
        }
    }
    Ok(compared)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Convolutions with 1 to 20 input and 1 to 19 output channels, every window kind.
    #[test]
    fn simd_conv_matches_reference(seed in any::<u64>()) {
        let bytes = conv_model(seed).to_bytes().unwrap();
        prop_assert!(compare_layers(&bytes, seed)? >= 1);
    }

    /// Dense layers of 1 to 40 outputs (one to three tiles, full and partial).
    #[test]
    fn simd_dense_matches_reference(seed in any::<u64>()) {
        let bytes = wide_dense_model(seed).to_bytes().unwrap();
        prop_assert!(compare_layers(&bytes, seed)? >= 1);
    }

    #[test]
    fn simd_layers_of_random_models_match_reference(seed in any::<u64>()) {
        let bytes = random_model(seed, seed % 2 == 0).to_bytes().unwrap();
        compare_layers(&bytes, seed)?;
    }

    /// Whole models through the engine on each instruction set, with the least arena (the
    /// reference kernels), the roomy one (every weighted layer on the host kernels) and sizes
    /// between (some layers each way): the independent scalar reference's bytes every time.
    #[test]
    fn engine_on_simd_matches_reference(seed in any::<u64>()) {
        let spec = match seed % 3 {
            0 => random_model(seed, seed % 2 == 0),
            1 => conv_model(seed),
            _ => wide_dense_model(seed),
        };
        let bytes = spec.to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let input = Rng::new(seed ^ 0xABCD).bytes(spec.input.shape().elements() as usize);
        let expected = reference::run(&spec, &input).pop().unwrap().data;
        let (least, roomy) = (needed_arena_bytes(&model), host::arena_bytes(&model));
        let between = least + (roomy - least) * ((seed >> 8) % 100) as usize / 100;
        for isa in Isa::all_available() {
            for size in [least, between, roomy] {
                let mut buffer = vec![0i8; size + (seed % 7) as usize];
                let mut engine = Engine::with_kernels(&model, &mut buffer, Kernels::Simd(isa)).unwrap();
                if size == least {
                    prop_assert_eq!(engine.simd_layers(), 0);
                }
                if size == roomy {
                    prop_assert_eq!(engine.simd_layers(), weighted(&spec));
                }
                prop_assert_eq!(engine.run(&input).unwrap(), &expected[..], "{:?} arena {}", isa, size);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every windowed pool of random models (strides, padding, activations) on the host path:
    /// max pools give the reference's bytes, average pools are refused (nothing written).
    #[test]
    fn simd_pools_match_reference(seed in any::<u64>()) {
        let Some(isa) = Isa::all_available().find(|&i| host::pool_runs(i)) else { return Ok(()) };
        let spec = random_model(seed, false);
        let bytes = spec.to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let mut rng = Rng::new(seed ^ 0x9001);
        for layer in model.layers() {
            let (w, reduce) = match &layer.kind {
                LayerKind::MaxPool2d(w) => (w, Reduce::Max),
                LayerKind::AvgPool2d(w) => (w, Reduce::Average),
                _ => continue,
            };
            let k = Pool::prepare(layer, w, reduce);
            let input = rng.bytes(layer.input.elements() as usize);
            let n = layer.output.elements() as usize;
            let (mut reference, mut simd) = (vec![0i8; n], vec![0x55i8; n]);
            k.eval(&input, &mut reference);
            let ran = host::pool(isa, &k, &input, &mut simd);
            prop_assert_eq!(ran, reduce == Reduce::Max);
            if ran {
                prop_assert_eq!(&simd, &reference);
            } else {
                prop_assert!(simd.iter().all(|&v| v == 0x55));
            }
        }
    }
}

/// Conv2d and Dense layers of `spec`.
fn weighted(spec: &ModelSpec) -> usize {
    spec.layers
        .iter()
        .filter(|l| matches!(l.kind, LayerKind::Conv2d(_) | LayerKind::Dense))
        .count()
}

#[test]
fn layers_report_their_kernels() {
    let Some(isa) = Isa::best() else { return };
    let spec = conv_model(7);
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    let mut buffer = vec![0i8; host::arena_bytes(&model)];
    let engine = Engine::with_kernels(&model, &mut buffer, Kernels::Simd(isa)).unwrap();
    for (i, layer) in spec.layers.iter().enumerate() {
        let expected = match layer.kind {
            LayerKind::Conv2d(_) | LayerKind::Dense => LayerKernel::Simd(isa),
            _ => LayerKernel::Reference,
        };
        assert_eq!(engine.layer_kernel(i), expected, "layer {i}");
    }
    assert_eq!(engine.simd_layers(), weighted(&spec));
    let mut least = vec![0i8; needed_arena_bytes(&model)];
    let engine = Engine::with_kernels(&model, &mut least, Kernels::Simd(isa)).unwrap();
    assert!((0..spec.layers.len()).all(|i| engine.layer_kernel(i) == LayerKernel::Reference));
}

#[test]
fn isa_detection_is_consistent() {
    let all: Vec<Isa> = Isa::all_available().collect();
    assert_eq!(Isa::best(), all.iter().copied().max());
    #[cfg(target_arch = "x86_64")]
    {
        assert!(all.contains(&Isa::Sse2));
        assert_eq!(Isa::Avx2.available(), std::is_x86_feature_detected!("avx2"));
    }
    if cfg!(target_arch = "aarch64") {
        assert_eq!(all, vec![Isa::Neon]);
    }
    // An instruction set this CPU lacks is a typed error, not a crash.
    if let Some(missing) = [Isa::Sse2, Isa::Avx2, Isa::Avx512Vnni, Isa::Neon]
        .into_iter()
        .find(|i| !i.available())
    {
        let bytes = conv_model(1).to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let mut buffer = vec![0i8; host::arena_bytes(&model)];
        let err = Engine::with_kernels(&model, &mut buffer, Kernels::Simd(missing)).unwrap_err();
        assert_eq!(
            err,
            EngineError::IsaUnavailable {
                isa: missing.name()
            }
        );
    }
}

/// Golden packing: a 3-channel, 3-value layer lands where the layout says.
#[test]
fn weight_and_table_layout() {
    let gemm = Gemm::new(3, 3);
    assert_eq!((gemm.pairs, gemm.tiles), (2, 1));
    let weights = [1i8, 2, 3, 4, 5, 6, 7, 8, -9];
    let mut out = vec![0x55i16; gemm.weight_values()];
    host::pack_weights(Isa::Avx2, &gemm, &weights, &mut out);
    // Pair 0: (w[c][0], w[c][1]) for c = 0..3, then zeros to 16 channels.
    assert_eq!(&out[..8], &[1, 2, 4, 5, 7, 8, 0, 0]);
    // Pair 1: (w[c][2], 0).
    assert_eq!(&out[32..38], &[3, 0, 6, 0, -9, 0]);
    assert!(out[38..64].iter().all(|&v| v == 0));
    // Bytes: quad 0 is (w[c][0], w[c][1], w[c][2], 0) for c = 0..3.
    host::pack_weights(Isa::Avx512Vnni, &gemm, &weights, &mut out);
    let bytes: Vec<i8> = out
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .map(|b| b as i8)
        .collect();
    assert_eq!(&bytes[..12], &[1, 2, 3, 0, 4, 5, 6, 0, 7, 8, -9, 0]);
    assert!(bytes[12..].iter().all(|&v| v == 0));
}
