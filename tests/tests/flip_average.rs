//! One flip-averaged answer on every host path: a flip-average model (the shipped face model with
//! `embedding.flip_average`, or the fixture encoder when the repository has none) gives the same
//! int8 embedding through the edge's int8 runtime (`Int8Encoder`, host SIMD and reference
//! kernels), the trainer's integer reference (`Int8Embedder`) and the engine's `run_model`, and
//! that embedding is the flip rule (`kernels::flip`) applied to the plain model's two runs, on
//! the input and on its mirror image. The board's QEMU test (`qemu_board.rs`) proves the device
//! gives it too.

use std::path::Path;

use siamedge_edge::Int8Encoder;
use siamedge_engine::kernels::flip::{mirror_columns, FlipAverage};
use siamedge_engine::{run_model, Kernels};
use siamedge_format::Model;
use siamedge_tests::board::{self, faces, fixture, Scenario};
use siamedge_trainer::quant::int8::Int8Embedder;

/// The shipped face model, or the fixture encoder.
fn plain_model() -> Vec<u8> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl/model.sgm");
    std::fs::read(shipped).unwrap_or_else(|_| {
        let faces = faces::synthetic(fixture::HEIGHT.into(), fixture::WIDTH.into());
        board::board_inputs(None, &faces, Scenario::SYNTHETIC, 7)
            .unwrap()
            .model
    })
}

#[test]
fn edge_trainer_and_engine_give_the_flip_rule() {
    let plain_bytes = plain_model();
    let flip_bytes = board::with_flip_average(&plain_bytes).unwrap();
    let (plain, flip) = (
        Model::decode(&plain_bytes).unwrap(),
        Model::decode(&flip_bytes).unwrap(),
    );
    assert!(flip.embedding().flip_average);
    let shape = plain.input().shape();
    let (w, c) = (usize::from(shape.w), usize::from(shape.c));
    let rule = FlipAverage::prepare(&flip).unwrap();
    let edge = Int8Encoder::from_bytes(flip_bytes.clone(), Path::new("flip.sgm")).unwrap();
    let edge_reference = edge.clone().with_kernels(Kernels::Reference);
    let mut trainer = Int8Embedder::new(&flip);
    // Face-like gradients and noise, several seeds.
    for seed in 0..4u32 {
        let input: Vec<i8> = (0..shape.elements() as u32)
            .map(|i| {
                let x = (i as usize / c) % w;
                let v = (x as u32 * 5 + i * (seed * 2 + 3)) ^ (seed * 97 + i / 7);
                (v % 256) as u8 as i8
            })
            .collect();
        let mut mirror = vec![0i8; input.len()];
        mirror_columns(&input, &mut mirror, w, c);
        let (mut first, mut second) = (
            run_model(&plain, &input).unwrap(),
            run_model(&plain, &mirror).unwrap(),
        );
        rule.combine(&mut first, &mut second);
        let expected = second;
        assert_eq!(
            run_model(&flip, &input).unwrap(),
            expected,
            "run_model {seed}"
        );
        assert_eq!(
            edge.embed(&input).unwrap().values(),
            &expected[..],
            "edge {seed}"
        );
        assert_eq!(
            edge_reference.embed(&input).unwrap().values(),
            &expected[..],
            "edge reference {seed}"
        );
        assert_eq!(
            trainer.embed_quantized(&input).unwrap(),
            expected,
            "trainer {seed}"
        );
    }
}
