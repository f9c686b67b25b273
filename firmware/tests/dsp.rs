//! The packed (DSP) kernels against the reference kernels, bit for bit, on random layers: the
//! host runs the portable emulation of SXTB16/SXTAB16/SMLAD with the very panel layout the
//! Cortex-M build runs. These tests run with and without the `dsp` feature.

mod reference;

use proptest::prelude::*;
use reference::random::{conv_model, random_model, Rng};
use siamedge_firmware::engine::dsp::{self, matmul};
use siamedge_firmware::engine::kernels::conv2d::Conv2d;
use siamedge_firmware::engine::kernels::dense::Dense;
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
        assert!(size >= siamedge_firmware::engine::needed_arena_bytes(&model));
        let mut buffer = vec![0i8; size];
        let engine = siamedge_firmware::Engine::with_buffer(&model, &mut buffer).unwrap();
        let weighted = model
            .layers()
            .iter()
            .filter(|l| matches!(l.kind, LayerKind::Conv2d(_) | LayerKind::Dense))
            .count();
        let expected = if cfg!(feature = "dsp") { weighted } else { 0 };
        assert_eq!(engine.packed_layers(), expected, "seed {seed}");
    }
}
