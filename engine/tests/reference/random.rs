//! Random valid models for the engine tests: a seeded generator of layer chains covering every
//! kind, windows with strides, dilations and padding, zero points, activations and a wide range
//! of requantization multipliers and shifts.
#![allow(dead_code)]

use siamedge_format::{
    Activation, DecisionSpec, EmbeddingSpec, InputSpec, LayerKind, LayerSpec, MetricSpec,
    ModelSpec, OperatingPoint, Padding, Quant, Shape, Task, Window,
};

/// xorshift64*: small, seedable, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Log-uniform in `[lo, hi]`.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp() as f32
    }
    pub fn i8(&mut self) -> i8 {
        self.next() as i8
    }
    pub fn bytes(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.i8()).collect()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn quant(rng: &mut Rng) -> Quant {
    Quant::new(rng.log_uniform(0.005, 0.2), rng.i8())
}

fn activation(rng: &mut Rng, q: Quant) -> Activation {
    match rng.range(0, 3) {
        0 => Activation::relu(q),
        1 => {
            let a = rng.i8();
            let b = rng.i8();
            Activation {
                min: a.min(b),
                max: a.max(b),
            }
        }
        _ => Activation::NONE,
    }
}

/// A window for `input`: kernel up to 3 (or 5 dilated), stride up to 2, random padding.
fn window(rng: &mut Rng, input: Shape, dilate: bool) -> Window {
    let kh = rng.range(1, 3.min(i64::from(input.h) + 1)) as u16;
    let kw = rng.range(1, 3.min(i64::from(input.w) + 1)) as u16;
    let mut w = Window::new(kh, kw, rng.range(1, 2) as u16, rng.range(1, 2) as u16);
    if dilate && rng.chance(0.3) {
        w = w.with_dilation(rng.range(1, 2) as u16, rng.range(1, 2) as u16);
    }
    match rng.range(0, 2) {
        0 => w.same(input),
        1 => {
            let (eh, ew) = (w.effective_h() as i64, w.effective_w() as i64);
            w.padding = Padding {
                top: rng.range(0, eh - 1) as u16,
                left: rng.range(0, ew - 1) as u16,
                bottom: rng.range(0, eh - 1) as u16,
                right: rng.range(0, ew - 1) as u16,
            };
            w
        }
        _ => w,
    }
}

/// A weighted layer with random weights and biases and scales giving varied multipliers.
fn weighted(
    rng: &mut Rng,
    kind: LayerKind,
    input: Shape,
    q_in: Quant,
    q_out: Quant,
    out_c: usize,
    taps: usize,
) -> Option<LayerSpec> {
    let n = match kind {
        LayerKind::DepthwiseConv2d { .. } => taps * out_c,
        _ => out_c * taps,
    };
    // Typical |acc| ~ 80 * 60 * sqrt(taps); aim the output at about +-40 steps, spread widely.
    let spread = rng.log_uniform(0.05, 20.0) as f64;
    let scales: Vec<f32> = (0..out_c)
        .map(|_| {
            let target = f64::from(q_out.scale) * 40.0 / (4800.0 * (taps as f64).sqrt());
            (target / f64::from(q_in.scale) * spread * (0.5 + rng.unit())) as f32
        })
        .collect();
    let bias = (0..out_c).map(|_| rng.range(-3000, 3000) as i32).collect();
    let layer = LayerSpec::weighted(kind, input, q_in, q_out, rng.bytes(n), scales, bias).ok()?;
    let act = activation(rng, q_out);
    Some(layer.with_activation(act))
}

/// One random body layer after `input` (quantization `q`), or `None` if the pick did not fit.
fn body_layer(rng: &mut Rng, input: Shape, q: Quant) -> Option<LayerSpec> {
    let in_c = usize::from(input.c);
    match rng.range(0, 6) {
        0 | 1 => {
            let w = window(rng, input, true);
            let out_c = rng.range(1, 8) as usize;
            let taps = usize::from(w.kernel_h) * usize::from(w.kernel_w) * in_c;
            let q_out = quant(rng);
            weighted(rng, LayerKind::Conv2d(w), input, q, q_out, out_c, taps)
        }
        2 => {
            let w = window(rng, input, true);
            let dm = rng.range(1, 2) as u16;
            let taps = usize::from(w.kernel_h) * usize::from(w.kernel_w);
            let kind = LayerKind::DepthwiseConv2d {
                window: w,
                depth_multiplier: dm,
            };
            let q_out = quant(rng);
            weighted(rng, kind, input, q, q_out, in_c * usize::from(dm), taps)
        }
        3 => {
            let w = window(rng, input, false);
            let act = activation(rng, q);
            LayerSpec::pool(LayerKind::MaxPool2d(w), input, q)
                .ok()
                .map(|l| l.with_activation(act))
        }
        4 => {
            let w = window(rng, input, false);
            let act = activation(rng, q);
            LayerSpec::pool(LayerKind::AvgPool2d(w), input, q)
                .ok()
                .map(|l| l.with_activation(act))
        }
        5 => {
            let out = Shape::new(input.w, input.h, input.c);
            let act = if rng.chance(0.5) {
                activation(rng, q)
            } else {
                Activation::NONE
            };
            Some(LayerSpec::reshape(input, out, q).with_activation(act))
        }
        _ => {
            let act = activation(rng, q);
            LayerSpec::pool(LayerKind::GlobalAvgPool, input, q)
                .ok()
                .map(|l| l.with_activation(act))
        }
    }
}

/// A random valid model: 1 to 5 body layers, then Dense (or GlobalAvgPool + Dense) to a
/// zero-point-0 embedding, optionally L2-normalized (`l2`).
pub fn random_model(seed: u64, l2: bool) -> ModelSpec {
    let mut rng = Rng::new(seed);
    let input = Shape::new(
        rng.range(1, 10) as u16,
        rng.range(1, 10) as u16,
        rng.range(1, 4) as u16,
    );
    let q_in = quant(&mut rng);
    let mut layers = Vec::new();
    let (mut shape, mut q) = (input, q_in);
    for _ in 0..rng.range(1, 5) {
        if let Some(l) = body_layer(&mut rng, shape, q) {
            shape = l.output;
            q = l.output_quant;
            layers.push(l);
        }
    }
    if rng.chance(0.3) && shape.elements() > 1 {
        let gap = LayerSpec::pool(LayerKind::GlobalAvgPool, shape, q).unwrap();
        shape = gap.output;
        layers.push(gap);
    }
    let dim = rng.range(1, 16) as usize;
    let q_emb = Quant::new(rng.log_uniform(0.005, 0.2), 0);
    let depth = shape.elements() as usize;
    let dense = weighted(&mut rng, LayerKind::Dense, shape, q, q_emb, dim, depth).unwrap();
    layers.push(dense);
    let mut embedding = EmbeddingSpec {
        dim: dim as u16,
        scale: q_emb.scale,
        l2_normalized: false,
        flip_average: false,
    };
    if l2 {
        layers.push(LayerSpec::l2_normalize(Shape::new(1, 1, dim as u16), q_emb));
        embedding.scale = 1.0 / 128.0;
        embedding.l2_normalized = true;
    }
    let channels = usize::from(input.c);
    ModelSpec {
        task: Task::Generic,
        input: InputSpec {
            width: input.w,
            height: input.h,
            channels: input.c as u8,
            mean: heapless::Vec::from_slice(&vec![0.5; channels]).unwrap(),
            std: heapless::Vec::from_slice(&vec![0.25; channels]).unwrap(),
            quant: q_in,
        },
        embedding,
        metric: MetricSpec::Cosine,
        decision: DecisionSpec::new(
            &[OperatingPoint {
                far: 1e-3,
                threshold: 0.5,
            }],
            0,
            1.0,
        )
        .unwrap(),
        arena_bytes: None,
        layers,
    }
}

/// A model with a larger random convolution (`in_c` up to 20, so both the four-at-a-time and
/// the value-by-value panel fills run; a 1x1 convolution widens the at most 4 input channels
/// first), then a Dense to the embedding.
pub fn conv_model(seed: u64) -> ModelSpec {
    let mut rng = Rng::new(seed);
    let in_c: u16 = [1, 2, 3, 4, 8, 12, 16, 20][rng.range(0, 7) as usize];
    let c0 = in_c.min(4);
    let (h, w) = (rng.range(1, 12) as u16, rng.range(1, 12) as u16);
    let q_in = quant(&mut rng);
    let mut spec = random_model(seed, false);
    let mut layers = Vec::new();
    let (mut shape, mut q) = (Shape::new(h, w, c0), q_in);
    if in_c > c0 {
        let q1 = quant(&mut rng);
        let kind = LayerKind::Conv2d(Window::new(1, 1, 1, 1));
        let wide = weighted(
            &mut rng,
            kind,
            shape,
            q,
            q1,
            usize::from(in_c),
            usize::from(c0),
        );
        let wide = wide.unwrap();
        shape = wide.output;
        q = q1;
        layers.push(wide);
    }
    let win = window(&mut rng, shape, true);
    let out_c = rng.range(1, 19) as usize;
    let taps = usize::from(win.kernel_h) * usize::from(win.kernel_w) * usize::from(in_c);
    let q_out = quant(&mut rng);
    let Some(conv) = weighted(
        &mut rng,
        LayerKind::Conv2d(win),
        shape,
        q,
        q_out,
        out_c,
        taps,
    ) else {
        return spec;
    };
    let depth = conv.output.elements() as usize;
    let dim = usize::from(spec.embedding.dim);
    let q_emb = Quant::new(spec.embedding.scale, 0);
    let out = conv.output;
    layers.push(conv);
    layers.push(weighted(&mut rng, LayerKind::Dense, out, q_out, q_emb, dim, depth).unwrap());
    spec.input.width = w;
    spec.input.height = h;
    spec.input.channels = c0 as u8;
    spec.input.mean = heapless::Vec::from_slice(&vec![0.5; usize::from(c0)]).unwrap();
    spec.input.std = heapless::Vec::from_slice(&vec![0.25; usize::from(c0)]).unwrap();
    spec.input.quant = q_in;
    spec.layers = layers;
    spec
}

/// A model with a 1x1 convolution to 4, 8, 12 or 16 channels, then a random depthwise
/// convolution with depth multiplier 1 (window, stride, dilation, padding as elsewhere), then a
/// Dense to the embedding.
pub fn depthwise_model(seed: u64) -> ModelSpec {
    let mut rng = Rng::new(seed);
    let c = 4 * rng.range(1, 4) as u16;
    let (h, w_) = (rng.range(1, 12) as u16, rng.range(1, 12) as u16);
    let w = w_;
    let q_in = quant(&mut rng);
    let mut spec = random_model(seed, false);
    let shape = Shape::new(h, w, 1);
    let q1 = quant(&mut rng);
    let kind = LayerKind::Conv2d(Window::new(1, 1, 1, 1));
    let wide = weighted(&mut rng, kind, shape, q_in, q1, usize::from(c), 1).unwrap();
    // A window that fits (a 1x1 one always does).
    let win = (0..10)
        .map(|_| window(&mut rng, wide.output, true))
        .find(|w| w.output_hw(h, w_).is_some())
        .unwrap_or(Window::new(1, 1, 1, 1));
    let kind = LayerKind::DepthwiseConv2d {
        window: win,
        depth_multiplier: 1,
    };
    let taps = usize::from(win.kernel_h) * usize::from(win.kernel_w);
    let q2 = quant(&mut rng);
    let Some(dw) = weighted(&mut rng, kind, wide.output, q1, q2, usize::from(c), taps) else {
        return spec;
    };
    let depth = dw.output.elements() as usize;
    let dim = usize::from(spec.embedding.dim);
    let q_emb = Quant::new(spec.embedding.scale, 0);
    let out = dw.output;
    let dense = weighted(&mut rng, LayerKind::Dense, out, q2, q_emb, dim, depth).unwrap();
    spec.input.width = w;
    spec.input.height = h;
    spec.input.channels = 1;
    spec.input.mean = heapless::Vec::from_slice(&[0.5]).unwrap();
    spec.input.std = heapless::Vec::from_slice(&[0.25]).unwrap();
    spec.input.quant = q_in;
    spec.layers = vec![wide, dw, dense];
    spec
}

/// [`conv_model`] with a 2x2, stride-2, unpadded max pool (random activation) between the
/// convolution and the Dense: the chain the DSP path fuses. Falls back to the plain
/// [`conv_model`] when the convolution's output is smaller than 2x2.
pub fn conv_pool_model(seed: u64) -> ModelSpec {
    let mut spec = conv_model(seed);
    let mut rng = Rng::new(seed ^ 0xF00D);
    let n = spec.layers.len();
    if n < 2 || !matches!(spec.layers[n - 2].kind, LayerKind::Conv2d(_)) {
        return spec;
    }
    let conv = &spec.layers[n - 2];
    let (out, q) = (conv.output, conv.output_quant);
    if out.h < 2 || out.w < 2 {
        return spec;
    }
    let act = activation(&mut rng, q);
    let pool = LayerSpec::pool(LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)), out, q)
        .unwrap()
        .with_activation(act);
    let depth = pool.output.elements() as usize;
    let dim = usize::from(spec.embedding.dim);
    let q_emb = Quant::new(spec.embedding.scale, 0);
    let dense = weighted(
        &mut rng,
        LayerKind::Dense,
        pool.output,
        q,
        q_emb,
        dim,
        depth,
    )
    .unwrap();
    spec.layers.truncate(n - 1);
    spec.layers.push(pool);
    spec.layers.push(dense);
    spec
}

/// A single-channel input, a 3x3 stride-1 convolution (same, random or no padding) and a 2x2
/// max pool, then a Dense: the chain of the DSP path's single-channel 3x3 kernel. Falls back
/// to [`conv_pool_model`] when the pick does not fit.
pub fn narrow_conv_pool_model(seed: u64) -> ModelSpec {
    let mut rng = Rng::new(seed ^ 0x3333);
    let (h, w) = (rng.range(2, 14) as u16, rng.range(2, 14) as u16);
    let input = Shape::new(h, w, 1);
    let mut win = Window::new(3, 3, 1, 1);
    match rng.range(0, 2) {
        0 => win = win.same(input),
        1 => {
            win.padding = Padding {
                top: rng.range(0, 2) as u16,
                left: rng.range(0, 2) as u16,
                bottom: rng.range(0, 2) as u16,
                right: rng.range(0, 2) as u16,
            }
        }
        _ => {}
    }
    let q_in = quant(&mut rng);
    let q_out = quant(&mut rng);
    let out_c = rng.range(1, 19) as usize;
    let Some(conv) = weighted(
        &mut rng,
        LayerKind::Conv2d(win),
        input,
        q_in,
        q_out,
        out_c,
        9,
    ) else {
        return conv_pool_model(seed);
    };
    if conv.output.h < 2 || conv.output.w < 2 {
        return conv_pool_model(seed);
    }
    let act = activation(&mut rng, q_out);
    let pool = LayerSpec::pool(
        LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)),
        conv.output,
        q_out,
    )
    .unwrap()
    .with_activation(act);
    let mut spec = random_model(seed, false);
    let dim = usize::from(spec.embedding.dim);
    let q_emb = Quant::new(spec.embedding.scale, 0);
    let depth = pool.output.elements() as usize;
    let dense = weighted(
        &mut rng,
        LayerKind::Dense,
        pool.output,
        q_out,
        q_emb,
        dim,
        depth,
    )
    .unwrap();
    spec.input.width = w;
    spec.input.height = h;
    spec.input.channels = 1;
    spec.input.mean = heapless::Vec::from_slice(&[0.5]).unwrap();
    spec.input.std = heapless::Vec::from_slice(&[0.25]).unwrap();
    spec.input.quant = q_in;
    spec.layers = vec![conv, pool, dense];
    spec
}

/// [`conv_model`] with a Dense of 1 to 40 outputs at the end (the host kernels' tiles of 16
/// channels: one, two, three, full and partial).
pub fn wide_dense_model(seed: u64) -> ModelSpec {
    let mut spec = conv_model(seed);
    let mut rng = Rng::new(seed ^ 0xD1);
    let Some(last) = spec.layers.pop() else {
        return spec;
    };
    let dim = rng.range(1, 40) as usize;
    let depth = last.input.elements() as usize;
    let q_emb = Quant::new(spec.embedding.scale, 0);
    let dense = weighted(
        &mut rng,
        LayerKind::Dense,
        last.input,
        last.input_quant,
        q_emb,
        dim,
        depth,
    )
    .unwrap();
    spec.layers.push(dense);
    spec.embedding.dim = dim as u16;
    spec
}
