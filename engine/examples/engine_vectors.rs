//! Writes a model with the shapes of the trainer's encoders (random int8 weights), an input and
//! the host engine's output, for running the same engine on a board and comparing:
//! `cargo run -p siamedge-engine --features std --example engine_vectors -- OUT_DIR [mcu|cnn]`
//! writes `OUT_DIR/model.sgm`, `OUT_DIR/input.bin` and `OUT_DIR/expected.bin`, and prints the
//! model's MACs and arena sizes.
//!
//! `mcu`: 48x40 grey, conv3x3 8 + maxpool, then three separable blocks (depthwise 3x3 + 1x1)
//! 16, 32, 32 each with maxpool, dense 64, L2 normalization (the trainer's compact encoder).
//! `cnn`: 48x40 grey, conv3x3 16, 32, 64 each with maxpool, dense 64, L2 normalization.

use std::error::Error;
use std::path::PathBuf;

use siamedge_engine::{self as engine, dsp, Engine};
use siamedge_format::{
    Activation, DecisionSpec, EmbeddingSpec, InputSpec, LayerKind, LayerSpec, MetricSpec, Model,
    ModelSpec, OperatingPoint, Quant, Shape, Task, Window,
};

/// A linear congruential generator: reproducible weights without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> i8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 56) as i8
    }
    fn bytes(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() / 2).collect()
    }
}

struct Builder {
    rng: Lcg,
    layers: Vec<LayerSpec>,
    shape: Shape,
    quant: Quant,
}

impl Builder {
    fn weighted(
        &mut self,
        kind: LayerKind,
        out_c: usize,
        taps: usize,
    ) -> Result<(), Box<dyn Error>> {
        let q_out = Quant::new(0.05, -20);
        // Weight scale so that typical accumulators (|w| ~ 32, |x - zp| ~ 40) land near 40 steps.
        let ws = 0.05 * 40.0 / (32.0 * 40.0 * (taps as f32).sqrt()) / self.quant.scale;
        let n = taps * out_c;
        let layer = LayerSpec::weighted(
            kind,
            self.shape,
            self.quant,
            q_out,
            self.rng.bytes(n),
            vec![ws; out_c],
            (0..out_c as i32).map(|i| i * 37 - 200).collect(),
        )?
        .with_activation(Activation::relu(q_out));
        self.push(layer);
        Ok(())
    }
    fn conv(&mut self, out_c: usize, k: u16) -> Result<(), Box<dyn Error>> {
        let w = Window::new(k, k, 1, 1).same(self.shape);
        let taps = usize::from(k * k * self.shape.c);
        self.weighted(LayerKind::Conv2d(w), out_c, taps)
    }
    fn depthwise(&mut self) -> Result<(), Box<dyn Error>> {
        let window = Window::new(3, 3, 1, 1).same(self.shape);
        let kind = LayerKind::DepthwiseConv2d {
            window,
            depth_multiplier: 1,
        };
        self.weighted(kind, usize::from(self.shape.c), 9)
    }
    fn pool(&mut self) -> Result<(), Box<dyn Error>> {
        let l = LayerSpec::pool(
            LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)),
            self.shape,
            self.quant,
        )?;
        self.push(l);
        Ok(())
    }
    fn push(&mut self, l: LayerSpec) {
        self.shape = l.output;
        self.quant = l.output_quant;
        self.layers.push(l);
    }
}

fn model(kind: &str) -> Result<ModelSpec, Box<dyn Error>> {
    let input = Shape::new(48, 40, 1);
    let q_in = Quant::new(1.0 / 64.0, 0);
    let mut b = Builder {
        rng: Lcg(7),
        layers: Vec::new(),
        shape: input,
        quant: q_in,
    };
    if kind == "cnn" {
        for c in [16, 32, 64] {
            b.conv(c, 3)?;
            b.pool()?;
        }
    } else {
        b.conv(8, 3)?;
        b.pool()?;
        for c in [16, 32, 32] {
            b.depthwise()?;
            b.conv(c, 1)?;
            b.pool()?;
        }
    }
    let depth = b.shape.elements() as usize;
    let q_emb = Quant::new(0.02, 0);
    let ws = 0.02 * 40.0 / (32.0 * 40.0 * (depth as f32).sqrt()) / b.quant.scale;
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        b.shape,
        b.quant,
        q_emb,
        b.rng.bytes(64 * depth),
        vec![ws; 64],
        vec![0; 64],
    )?;
    b.push(dense);
    let l2 = LayerSpec::l2_normalize(b.shape, q_emb);
    b.push(l2);
    let mut spec = ModelSpec {
        task: Task::Face,
        input: InputSpec {
            width: input.w,
            height: input.h,
            channels: 1,
            mean: heapless::Vec::from_slice(&[0.5]).map_err(|_| "mean")?,
            std: heapless::Vec::from_slice(&[0.5]).map_err(|_| "std")?,
            quant: q_in,
        },
        embedding: EmbeddingSpec {
            dim: 64,
            scale: 1.0 / 128.0,
            l2_normalized: true,
            flip_average: false,
        },
        metric: MetricSpec::Cosine,
        decision: DecisionSpec::new(
            &[OperatingPoint {
                far: 1e-3,
                threshold: 0.5,
            }],
            0,
            1.0,
        )?,
        arena_bytes: None,
        layers: b.layers,
    };
    // Ask for the arena that gives every packed kernel its scratch.
    let bytes = spec.to_bytes()?;
    spec.arena_bytes = Some(dsp::arena_bytes(&Model::decode(&bytes)?) as u32);
    Ok(spec)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: engine_vectors OUT_DIR [mcu|cnn]")?,
    );
    let kind = args.next().unwrap_or_else(|| "mcu".into());
    let bytes = model(&kind)?.to_bytes()?;
    let model = Model::decode(&bytes)?;
    let n = model.input().shape().elements() as usize;
    let pixels: Vec<u8> = (0..n).map(|i| ((i * 7919) % 251) as u8).collect();
    let mut input = vec![0i8; n];
    engine::quantize_image(model.input(), &pixels, &mut input)?;
    let expected = engine::run_model(&model, &input)?;
    let mut buffer = vec![0i8; model.arena_bytes() as usize];
    let macs = Engine::with_buffer(&model, &mut buffer)?.macs();
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("model.sgm"), &bytes)?;
    std::fs::write(
        out.join("input.bin"),
        input.iter().map(|&v| v as u8).collect::<Vec<_>>(),
    )?;
    std::fs::write(
        out.join("expected.bin"),
        expected.iter().map(|&v| v as u8).collect::<Vec<_>>(),
    )?;
    println!(
        "{kind}: {} bytes, {macs} MACs, arena {} (min {})",
        bytes.len(),
        model.arena_bytes(),
        model.min_arena_bytes()
    );
    Ok(())
}
