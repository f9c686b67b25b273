//! The packed (DSP) kernels against the reference kernels, bit for bit, on random layers: the
//! host runs the portable emulation of SXTB16/SXTAB16/SMLAD with the very panel layout the
//! Cortex-M build runs. These tests run with and without the `dsp` feature.

mod reference;

use proptest::prelude::*;
use reference::random::{
    conv_model, conv_pool_model, depthwise_model, narrow_conv_pool_model, random_model, Rng,
};
use siamedge_engine::dsp::conv_pool::{self, ConvPool};
use siamedge_engine::dsp::{self, matmul, panel};
use siamedge_engine::kernels::conv2d::Conv2d;
use siamedge_engine::kernels::dense::Dense;
use siamedge_engine::kernels::depthwise::Depthwise;
use siamedge_engine::kernels::pool::{Pool, Reduce};
use siamedge_format::{LayerKind, Model};

/// Runs every Conv2d and Dense layer of `bytes` through both kernels on random inputs.
fn compare_layers(bytes: &[u8], seed: u64) -> Result<usize, TestCaseError> {
    let model = Model::decode(bytes).unwrap();
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut compared = 0;
    for (i, layer) in model.layers().iter().enumerate() {
        let input = rng.bytes(layer.input.elements() as usize);
        let n = layer.output.elements() as usize;
        let (mut reference, mut packed) = (vec![0i8; n], vec![0x55i8; n]);
        match &layer.kind {
            LayerKind::Conv2d(w) => {
                let k = Conv2d::prepare(i, layer, w).unwrap();
                let mut scratch = vec![0i8; matmul::conv_panel(&k).scratch_bytes()];
                k.eval(&input, &mut reference);
                // An unaligned start: the kernel aligns its words inside the scratch.
                let offset = (seed % 4) as usize;
                let mut shifted = vec![0i8; scratch.len() + offset];
                prop_assert!(matmul::conv2d(
                    &k,
                    &input,
                    &mut packed,
                    &mut shifted[offset..]
                ));
                // Too little scratch: refused, nothing written.
                let short = scratch.len() - 4;
                let mut untouched = vec![0x55i8; n];
                prop_assert!(!matmul::conv2d(
                    &k,
                    &input,
                    &mut untouched,
                    &mut scratch[..short]
                ));
                prop_assert!(untouched.iter().all(|&v| v == 0x55));
            }
            LayerKind::DepthwiseConv2d {
                window,
                depth_multiplier,
            } => {
                let k = Depthwise::prepare(i, layer, window, *depth_multiplier).unwrap();
                k.eval(&input, &mut reference);
                let ran = dsp::depthwise::depthwise(&k, &input, &mut packed);
                prop_assert_eq!(ran, dsp::depthwise::supported(&k));
                if !ran {
                    prop_assert!(packed.iter().all(|&v| v == 0x55));
                    continue;
                }
            }
            LayerKind::Dense => {
                let k = Dense::prepare(i, layer).unwrap();
                let mut scratch = vec![0i8; matmul::dense_panel(&k).scratch_bytes()];
                k.eval(&input, &mut reference);
                prop_assert!(matmul::dense(&k, &input, &mut packed, &mut scratch));
            }
            _ => continue,
        }
        prop_assert_eq!(&packed, &reference, "layer {}", i);
        compared += 1;
    }
    Ok(compared)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn packed_conv_matches_reference(seed in any::<u64>()) {
        let bytes = conv_model(seed).to_bytes().unwrap();
        prop_assert!(compare_layers(&bytes, seed)? >= 1);
    }

    /// Depthwise layers with 4 to 16 channels (a multiple of 4: the packed kernel runs).
    #[test]
    fn packed_depthwise_matches_reference(seed in any::<u64>()) {
        let bytes = depthwise_model(seed).to_bytes().unwrap();
        prop_assert!(compare_layers(&bytes, seed)? >= 2);
    }

    #[test]
    fn packed_layers_of_random_models_match_reference(seed in any::<u64>()) {
        let bytes = random_model(seed, seed % 2 == 0).to_bytes().unwrap();
        prop_assert!(compare_layers(&bytes, seed)? >= 1);
    }
}

#[test]
fn arena_bytes_cover_the_packed_scratch() {
    for seed in 0..50 {
        let bytes = conv_model(seed).to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let size = dsp::arena_bytes(&model);
        assert!(size >= siamedge_engine::needed_arena_bytes(&model));
        let mut buffer = vec![0i8; size];
        let engine = siamedge_engine::Engine::with_buffer(&model, &mut buffer).unwrap();
        let weighted = model
            .layers()
            .iter()
            .enumerate()
            .filter(|(i, l)| match &l.kind {
                LayerKind::Conv2d(_) | LayerKind::Dense => true,
                LayerKind::DepthwiseConv2d {
                    window,
                    depth_multiplier,
                } => dsp::depthwise::supported(
                    &Depthwise::prepare(*i, l, window, *depth_multiplier).unwrap(),
                ),
                _ => false,
            })
            .count();
        let expected = if cfg!(feature = "dsp") { weighted } else { 0 };
        assert_eq!(engine.packed_layers(), expected, "seed {seed}");
    }
}

/// The first Conv2d followed by a 2x2, stride-2, unpadded MaxPool2d.
fn fusable_pair(model: &Model<'_>) -> Option<usize> {
    let layers = model.layers();
    (0..layers.len().saturating_sub(1)).find(|&i| {
        matches!(layers[i].kind, LayerKind::Conv2d(_))
            && matches!(&layers[i + 1].kind, LayerKind::MaxPool2d(w)
                if w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 && w.stride_w == 2
                    && w.padding.top == 0 && w.padding.left == 0
                    && w.padding.bottom == 0 && w.padding.right == 0)
    })
}

/// The fused convolution + 2x2 max pool of `bytes` (its last Conv2d and the MaxPool2d after it)
/// against the reference convolution followed by the reference pool, with the model's
/// monotonicity proof and with the always-exact fallback (requantize the 4 cells, then max).
fn compare_conv_pool(bytes: &[u8], seed: u64) -> Result<bool, TestCaseError> {
    let model = Model::decode(bytes).unwrap();
    let layers = model.layers();
    let Some(i) = fusable_pair(&model) else {
        return Ok(false);
    };
    let (LayerKind::Conv2d(cw), LayerKind::MaxPool2d(pw)) = (&layers[i].kind, &layers[i + 1].kind)
    else {
        unreachable!()
    };
    let conv = Conv2d::prepare(i, &layers[i], cw).unwrap();
    let pool = Pool::prepare(&layers[i + 1], pw, Reduce::Max);
    let fused = ConvPool::fuse(&conv, &pool).expect("a 2x2 stride-2 max pool after a conv fuses");
    let mut rng = Rng::new(seed ^ 0xC0DE);
    let input = rng.bytes(layers[i].input.elements() as usize);
    let mut conv_out = vec![0i8; layers[i].output.elements() as usize];
    let mut reference = vec![0i8; layers[i + 1].output.elements() as usize];
    conv.eval(&input, &mut conv_out);
    pool.eval(&conv_out, &mut reference);
    for (monotone, narrow, fast, wide) in [
        (fused.monotone, fused.narrow, fused.fast, fused.wide),
        (fused.monotone, fused.narrow, fused.fast, false),
        (fused.monotone, fused.narrow, false, false),
        (false, fused.narrow, false, false),
        (
            fused.monotone,
            false,
            fused.fast,
            fused.fast && !fused.narrow && fused.wide,
        ),
        (fused.monotone, false, fused.fast, false),
        (fused.monotone, false, false, false),
    ] {
        let k = ConvPool {
            monotone,
            narrow,
            fast,
            wide,
            ..fused
        };
        let mut packed = vec![0x55i8; reference.len()];
        let offset = (seed % 4) as usize;
        let mut scratch = vec![0i8; k.scratch_bytes() + offset];
        prop_assert!(conv_pool::conv_pool(
            &k,
            &input,
            &mut packed,
            &mut scratch[offset..]
        ));
        prop_assert_eq!(
            &packed,
            &reference,
            "monotone {} narrow {} fast {} wide {}",
            monotone,
            narrow,
            fast,
            wide
        );
        // Too little scratch: refused, nothing written.
        let mut untouched = vec![0x55i8; reference.len()];
        let short = k.scratch_bytes() - 4;
        prop_assert!(!conv_pool::conv_pool(
            &k,
            &input,
            &mut untouched,
            &mut scratch[..short]
        ));
        prop_assert!(untouched.iter().all(|&v| v == 0x55));
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Fused convolution + max pool, bit for bit the two reference kernels.
    #[test]
    fn fused_conv_pool_matches_reference(seed in any::<u64>()) {
        let spec = conv_pool_model(seed);
        let bytes = spec.to_bytes().unwrap();
        let fusable = fusable_pair(&Model::decode(&bytes).unwrap()).is_some();
        prop_assert_eq!(compare_conv_pool(&bytes, seed)?, fusable);
    }

    /// The single-channel 3x3 kernel (and the panel on the same layers).
    #[test]
    fn fused_narrow_conv_pool_matches_reference(seed in any::<u64>()) {
        let spec = narrow_conv_pool_model(seed);
        let bytes = spec.to_bytes().unwrap();
        let fusable = fusable_pair(&Model::decode(&bytes).unwrap()).is_some();
        prop_assert_eq!(compare_conv_pool(&bytes, seed)?, fusable);
    }

    /// Whole models with a fusable chain: the engine (fused with the `dsp` feature) gives the
    /// independent scalar reference's bytes.
    #[test]
    fn engine_with_fused_conv_pool_matches_reference(seed in any::<u64>()) {
        let spec = if seed % 2 == 0 { conv_pool_model(seed) } else { narrow_conv_pool_model(seed) };
        let bytes = spec.to_bytes().unwrap();
        let input = Rng::new(seed ^ 0xABCD).bytes(spec.input.shape().elements() as usize);
        let expected = reference::run(&spec, &input).pop().unwrap().data;
        let model = Model::decode(&bytes).unwrap();
        let mut buffer = vec![0i8; dsp::arena_bytes(&model)];
        let mut engine = siamedge_engine::Engine::with_buffer(&model, &mut buffer).unwrap();
        prop_assert_eq!(engine.run(&input).unwrap(), &expected[..]);
    }
}

#[test]
fn fused_steps_keep_the_layer_count_and_the_macs() {
    let (mut fused, mut fast, mut wide) = (0, 0, 0);
    for seed in 0..40 {
        let spec = conv_pool_model(seed);
        let bytes = spec.to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let mut buffer = vec![0i8; dsp::arena_bytes(&model)];
        let engine = siamedge_engine::Engine::with_buffer(&model, &mut buffer).unwrap();
        let macs: u64 = (0..model.layers().len())
            .map(|i| engine.layer_macs(i))
            .sum();
        assert_eq!(macs, engine.macs());
        assert_eq!(engine.layer_macs(model.layers().len()), 0);
        fused += usize::from(fusable_pair(&model).is_some());
        if let Some(i) = fusable_pair(&model) {
            let l = &model.layers()[i];
            let (LayerKind::Conv2d(cw), LayerKind::MaxPool2d(pw)) =
                (&l.kind, &model.layers()[i + 1].kind)
            else {
                unreachable!()
            };
            let conv = Conv2d::prepare(i, l, cw).unwrap();
            let pool = Pool::prepare(&model.layers()[i + 1], pw, Reduce::Max);
            let k = ConvPool::fuse(&conv, &pool).unwrap();
            fast += usize::from(k.fast);
            wide += usize::from(k.wide);
        }
    }
    assert!(fused > 20, "only {fused} of 40 models have a fusable chain");
    assert!(
        fast > 5,
        "only {fast} of {fused} fused layers take the fast requantization"
    );
    assert!(wide > 0, "none of {fused} fused layers widens its filters");
}

#[test]
fn window_fill_equals_four_column_fills() {
    let (mut windows, mut interior) = (0, 0);
    for seed in 0..200 {
        let bytes = conv_pool_model(seed).to_bytes().unwrap();
        let model = Model::decode(&bytes).unwrap();
        let Some(i) = fusable_pair(&model) else {
            continue;
        };
        let LayerKind::Conv2d(w) = &model.layers()[i].kind else {
            unreachable!()
        };
        let k = Conv2d::prepare(i, &model.layers()[i], w).unwrap();
        let g = k.geometry;
        let panel = matmul::conv_panel(&k);
        let input = Rng::new(seed).bytes(g.in_h * g.in_w * g.in_c);
        for oy in (0..g.out_h.saturating_sub(1)).step_by(2) {
            for ox in (0..g.out_w.saturating_sub(1)).step_by(2) {
                let mut a = vec![0x5555_5555u32; panel.words()];
                let mut b = a.clone();
                windows += 1;
                if !panel::fill_window(&mut a, panel, &g, &input, (oy, ox), k.input_offset) {
                    assert_eq!(a, b, "a refused fill writes nothing");
                    continue;
                }
                interior += 1;
                for j in 0..4 {
                    let cell = (oy + j / 2, ox + j % 2);
                    panel::fill_im2col(&mut b, panel, j, &g, &input, cell, k.input_offset);
                }
                assert_eq!(a, b, "seed {seed} window ({oy}, {ox})");
            }
        }
    }
    assert!(
        interior > 50,
        "only {interior} of {windows} windows were interior"
    );
}
