//! siamedge-engine: the int8 inference engine. It runs a `siamedge-format` [`Model`] (decoded
//! zero-copy, typically from flash) in a caller-provided [`Arena`], without an allocator.
//!
//! One engine runs the int8 models everywhere: the firmware on a Cortex-M (`no_std`), the edge
//! runtime on a Linux box and the trainer's integer reference ([`run_model`], feature `std`), so
//! there is one int8 answer per model and input. Nothing here needs `std` unless the feature asks.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let bytes = siamedge_engine::doc_model()?;
//! use siamedge_engine::{quantize_image, Arena, Engine};
//! use siamedge_format::Model;
//!
//! let model = Model::decode(&bytes)?;
//! let mut arena = Arena::<1024>::new(); // in firmware: a `static`
//! let mut engine = Engine::new(&model, &mut arena)?;
//! let pixels = [128u8; 16]; // a 4x4 grey image
//! quantize_image(model.input(), &pixels, engine.input_mut())?;
//! let embedding: &[i8] = engine.invoke();
//! assert_eq!(embedding.len(), usize::from(model.embedding().dim));
//! # Ok(()) }
//! ```
//!
//! Features: `std` (host helpers such as [`run_model`]), `dsp` (packed SMLAD kernels on
//! Cortex-M4/M7, emulated bit-exactly elsewhere), `defmt` (`defmt::Format` on [`EngineError`]).
//!
//! # Phases
//! [`Engine::new`] is the prepare phase: it checks the arena size, checks each weighted layer's
//! accumulator range, and plans every layer (kernel parameters, tensor places; see `plan`).
//! [`Engine::invoke`] is the eval phase: no allocation, no failure, no panic on a model that
//! decoded.
//!
//! # Arithmetic (the contract the trainer's fake-quant matches)
//! - Conv2d, DepthwiseConv2d, Dense: `acc = bias[o] + sum w * (x - zp_in)` in i32 (int8 x int8
//!   products; padding taps contribute 0); then
//!   `y = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[o], shift[o]) + zp_out, act.min,
//!   act.max)`, TFLite's double rounding: `SaturatingRoundingDoublingHighMul` (round to nearest,
//!   ties toward +infinity) then `RoundingDivideByPOT` (round to nearest, ties away from zero);
//!   see [`kernels::requant`]. Prepare refuses a layer whose accumulator could overflow i32.
//! - MaxPool2d: maximum of the real cells (padding excluded).
//! - AvgPool2d and GlobalAvgPool: `sum(q) / count` over the real cells, rounded half away from
//!   zero (TFLite: `(sum ± count/2) / count` truncating), on the raw int8 values `q`.
//! - L2Normalize: `clamp(round(128 * d_i / ||d||), -128, 127)`, `d = q - zp_in`, correctly
//!   rounded (half away from zero) in exact integers; see [`kernels::l2norm`].
//! - Every layer's output is then clamped to its activation range (a Reshape with an activation
//!   clamps in place).
//! - Flip averaging (a model whose `embedding.flip_average` is set): [`Engine::invoke`] runs the
//!   network on the input and on its mirror image (columns reversed), averages the two int8
//!   embeddings (`round((a + b) / 2)`, ties away from zero) and, for an L2-normalized model,
//!   normalizes the average with the model's L2Normalize kernel; see [`kernels::flip`]. The input
//!   and the first embedding are kept in the arena's first [`Model::flip_keep_bytes`] bytes.
//!
//! # Kernels
//! The reference kernels ([`kernels`]) run everywhere and define the arithmetic; the faster
//! paths give the same bytes and are chosen with [`Kernels`] ([`Engine::with_kernels`];
//! [`Kernels::best`] by default):
//! - [`Kernels::Packed`], the default with the `dsp` feature: convolutions, dense layers and
//!   depthwise convolutions (depth multiplier 1, channels a multiple of 4) use the packed
//!   kernels of [`dsp`] (SMLAD/SXTB16 on Cortex-M4/M7, a bit-exact portable emulation
//!   elsewhere); convolutions and dense layers need scratch in the arena
//!   ([`dsp::arena_bytes`]) and run the reference kernel where it is missing. On that path a
//!   convolution followed by a 2x2 stride-2 unpadded max pool runs as one fused step
//!   ([`dsp::conv_pool`]) that writes the pool's output; the pool's own step does nothing.
//!   [`Engine::packed_layers`] says how many layers run packed (a fused pair counts once).
//! - [`Kernels::Simd`], the default on x86-64 and aarch64 without `dsp`: convolutions and
//!   dense layers run the int8 GEMM of [`host`] (SSE2, AVX2, AVX-512 VNNI or NEON, picked at
//!   run time with the `std` feature), with weights re-laid out once by [`Engine::with_kernels`]
//!   into a host region at the end of the arena ([`host::arena_bytes`]); a layer whose blocks
//!   do not fit runs the reference kernel. Never compiled for Cortex-M.
//!
//! [`Engine::layer_kernel`] says what each layer runs.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]

pub mod arena;
pub mod dsp;
pub mod error;
pub mod host;
pub mod kernels;
pub mod plan;

pub use arena::Arena;
pub use error::EngineError;

use siamedge_format::preprocess::PreprocessError;
use siamedge_format::{Field, FileKind, FormatError, InputSpec, Model, MAX_LAYERS};

use self::host::{Gemm, Isa, Placed};
use self::kernels::flip::FlipAverage;
use self::plan::{Op, Side, Step};

/// Which kernels an [`Engine`] runs (each gives the reference kernels' bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernels {
    /// The reference kernels only.
    Reference,
    /// The packed DSP kernels where the arena leaves their scratch ([`dsp`]).
    Packed,
    /// The host SIMD kernels of this instruction set where the arena holds their blocks
    /// ([`host`]).
    Simd(Isa),
}

impl Kernels {
    /// The fastest choice for this build and CPU: [`Kernels::Packed`] with the `dsp` feature,
    /// else [`Kernels::Simd`] with [`Isa::best`] on x86-64 and aarch64, else the reference.
    pub fn best() -> Self {
        if cfg!(feature = "dsp") {
            return Kernels::Packed;
        }
        Isa::best().map_or(Kernels::Reference, Kernels::Simd)
    }

    /// Arena bytes at which every layer that has a faster kernel of this choice runs it
    /// ([`dsp::arena_bytes`], [`host::arena_bytes`], or the model's need for the reference).
    pub fn arena_bytes(self, model: &Model<'_>) -> usize {
        match self {
            Kernels::Reference => needed_arena_bytes(model),
            Kernels::Packed => dsp::arena_bytes(model),
            Kernels::Simd(_) => host::arena_bytes(model),
        }
    }
}

impl Default for Kernels {
    fn default() -> Self {
        Self::best()
    }
}

/// What one layer of a prepared [`Engine`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKernel {
    /// A reference kernel (or nothing: a Reshape).
    Reference,
    /// A packed DSP kernel.
    Packed,
    /// Nothing: the layer is a max pool computed by the fused packed step before it.
    FusedIntoPrevious,
    /// The host SIMD GEMM on this instruction set.
    Simd(Isa),
}

/// A model prepared to run in an arena. `'m`: the model bytes; `'a`: the arena.
///
/// The input tensor is `height x width x channels` int8 (NHWC, the model input's quantization);
/// the output is the embedding, `model.embedding().dim` int8 values at scale
/// `model.embedding().scale`, zero point 0 (for a flip-average model, the integer average of
/// two passes: [`kernels::flip`]).
pub struct Engine<'m, 'a> {
    steps: heapless::Vec<Step<'m>, MAX_LAYERS>,
    /// Flip averaging's rule, for a model that flip-averages.
    flip: Option<FlipAverage>,
    /// The arena's first [`Model::flip_keep_bytes`] bytes: the input, then the first pass's
    /// embedding (empty without flip averaging).
    keep: &'a mut [i8],
    /// The tensors (and the DSP kernels' scratch between them).
    arena: &'a mut [i8],
    /// The host region: every host layer's table and weights, then one panel at `panel`
    /// (empty unless some layer runs the host kernels).
    host: &'a mut [i8],
    panel: usize,
    isa: Option<Isa>,
    input_len: usize,
    output: Side,
    output_len: usize,
}

impl core::fmt::Debug for Engine<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("layers", &self.steps.len())
            .field("flip", &self.flip)
            .field("keep_bytes", &self.keep.len())
            .field("arena_bytes", &self.arena.len())
            .field("host_bytes", &self.host.len())
            .field("isa", &self.isa)
            .field("input_len", &self.input_len)
            .field("output_len", &self.output_len)
            .finish()
    }
}

/// The bytes of `side` for a tensor of `len` bytes in an arena of `total`.
fn range(side: Side, len: usize, total: usize) -> core::ops::Range<usize> {
    match side {
        Side::Front => 0..len,
        Side::Back => total - len..total,
    }
}

/// Appends the step of layer `index`. A decoded model has at most `MAX_LAYERS` layers and each
/// makes one step, so this fails only for a model that bypassed the decoder's check.
fn push_step<'m>(
    steps: &mut heapless::Vec<Step<'m>, MAX_LAYERS>,
    index: usize,
    step: Step<'m>,
) -> Result<(), EngineError> {
    steps.push(step).map_err(|_| EngineError::Unsupported {
        layer: index,
        kind: "model",
        reason: "more layers than MAX_LAYERS steps",
    })
}

/// The arena bytes `model` needs: `max(model.arena_bytes(), model.min_arena_bytes())`.
pub fn needed_arena_bytes(model: &Model<'_>) -> usize {
    let need = u64::from(model.arena_bytes()).max(model.min_arena_bytes());
    usize::try_from(need).unwrap_or(usize::MAX)
}

impl<'m, 'a> Engine<'m, 'a> {
    /// Prepares `model` to run in `arena`. [`EngineError::ArenaTooSmall`] when `N` is below
    /// `max(model.arena_bytes(), model.min_arena_bytes())`; [`EngineError::Unsupported`] for a
    /// layer whose i32 accumulator could overflow.
    pub fn new<const N: usize>(
        model: &Model<'m>,
        arena: &'a mut Arena<N>,
    ) -> Result<Self, EngineError> {
        Self::with_buffer(model, arena.as_mut_slice())
    }

    /// As [`Engine::new`], in any buffer (e.g. a heap buffer on a host), with
    /// [`Kernels::best`]. Every byte of `buffer` is used: bytes beyond what the model needs
    /// become scratch for the faster kernels.
    pub fn with_buffer(model: &Model<'m>, buffer: &'a mut [i8]) -> Result<Self, EngineError> {
        Self::with_kernels(model, buffer, Kernels::best())
    }

    /// As [`Engine::with_buffer`], running `kernels` where the buffer leaves them room (see
    /// [`Kernels::arena_bytes`]) and the reference kernels elsewhere.
    /// [`EngineError::IsaUnavailable`] for [`Kernels::Simd`] with an instruction set this CPU
    /// lacks.
    ///
    /// A flip-average model keeps the buffer's first [`Model::flip_keep_bytes`] bytes; the
    /// tensors and scratch use the rest.
    ///
    /// With [`Kernels::Simd`], layers are given their host blocks in order while
    /// `needed_arena_bytes + blocks + largest panel + ALIGN` fits in `buffer`; the blocks are
    /// written here (the weights re-laid out once), at the end of the buffer.
    pub fn with_kernels(
        model: &Model<'m>,
        buffer: &'a mut [i8],
        kernels: Kernels,
    ) -> Result<Self, EngineError> {
        let needed = needed_arena_bytes(model);
        if buffer.len() < needed {
            return Err(EngineError::ArenaTooSmall {
                needed,
                available: buffer.len(),
            });
        }
        let flip = FlipAverage::prepare(model);
        let keep_len = usize::try_from(model.flip_keep_bytes()).unwrap_or(usize::MAX);
        let input_len = model.input().shape().elements() as usize;
        let dim = usize::from(model.embedding().dim);
        if flip.is_some() && keep_len < input_len + dim {
            // The format's keep region holds both (cannot fail on a decoded model).
            return Err(EngineError::Unsupported {
                layer: 0,
                kind: "model",
                reason: "the flip-average keep region does not hold the input and the embedding",
            });
        }
        // `needed` counts the keep region: the tensors need `needed - keep_len` of the rest.
        let (keep, buffer) = buffer.split_at_mut(keep_len.min(needed));
        let needed = needed - keep.len();
        let isa = match kernels {
            Kernels::Simd(isa) if !isa.available() => {
                return Err(EngineError::IsaUnavailable { isa: isa.name() })
            }
            Kernels::Simd(isa) => Some(isa),
            _ => None,
        };
        let packed = kernels == Kernels::Packed;
        // Host region budget: what the buffer has beyond the tensors, less the alignment slack.
        let budget = buffer.len().saturating_sub(needed + host::ALIGN);
        let (mut blocks, mut panel) = (0usize, 0usize);
        let mut steps = heapless::Vec::new();
        let mut side = Side::Front;
        let layers = model.layers();
        let mut fused_into_previous = false;
        for (index, layer) in layers.iter().enumerate() {
            if core::mem::take(&mut fused_into_previous) {
                // The pool the previous step already computed: its output is that step's.
                let len = layer.output.elements() as usize;
                push_step(
                    &mut steps,
                    index,
                    Step {
                        op: Op::Nothing,
                        input: side,
                        input_len: len,
                        output: side,
                        output_len: len,
                        packed: false,
                        host: None,
                    },
                )?;
                continue;
            }
            let op = Op::prepare(index, layer)?;
            let output = if op.in_place() { side } else { side.other() };
            let mut step = Step {
                op,
                input: side,
                input_len: layer.input.elements() as usize,
                output,
                output_len: layer.output.elements() as usize,
                packed: false,
                host: None,
            };
            step.packed = packed && !op.in_place() && packed_fits(buffer, &step);
            if step.packed {
                if let Some(fused) = fuse_next(index, &step, layers.get(index + 1), buffer)? {
                    step = fused;
                    fused_into_previous = true;
                }
            }
            if let (Some(_), Some(gemm)) = (isa, Gemm::of(&step.op)) {
                let with_panel = panel.max(gemm.panel_bytes());
                if blocks + gemm.layer_bytes() + with_panel <= budget {
                    step.host = Some(Placed {
                        gemm,
                        table: blocks,
                        weights: blocks + host::align(4 * gemm.table_words()),
                    });
                    blocks += gemm.layer_bytes();
                    panel = with_panel;
                }
            }
            push_step(&mut steps, index, step)?;
            side = output;
        }
        let output_len = model
            .layers()
            .last()
            .map_or(input_len, |l| l.output.elements() as usize);
        let (arena, host) = split_host(buffer, blocks + panel);
        if host.len() < blocks + panel {
            // No aligned room after all (cannot happen: the budget kept ALIGN bytes of slack).
            steps.iter_mut().for_each(|s| s.host = None);
        }
        for step in steps.iter_mut() {
            if let Some(p) = step.host {
                if !isa.is_some_and(|isa| pack_host(isa, &step.op, &p, host)) {
                    step.host = None;
                }
            }
        }
        Ok(Self {
            steps,
            flip,
            keep,
            arena,
            host,
            panel: blocks,
            isa,
            input_len,
            output: side,
            output_len,
        })
    }

    /// Elements of the input tensor (`height * width * channels`).
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Elements of the output (the embedding dimension).
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// Layers that run a packed DSP kernel (feature `dsp`, and the arena leaves room for its
    /// scratch; see [`dsp::arena_bytes`]); the others run the reference kernels.
    pub fn packed_layers(&self) -> usize {
        self.steps.iter().filter(|s| s.packed).count()
    }

    /// Convolution and dense layers that run the host SIMD GEMM ([`Kernels::Simd`], and the
    /// arena holds their blocks; see [`host::arena_bytes`]). Windowed pools need no blocks: they
    /// run on the host path whenever [`host::pool_runs`] (see [`layer_kernel`](Self::layer_kernel)).
    pub fn simd_layers(&self) -> usize {
        self.steps.iter().filter(|s| s.host.is_some()).count()
    }

    /// What layer `index` runs (the reference past the last layer).
    pub fn layer_kernel(&self, index: usize) -> LayerKernel {
        let Some(step) = self.steps.get(index) else {
            return LayerKernel::Reference;
        };
        match (step.host, self.isa) {
            (Some(_), Some(isa)) => LayerKernel::Simd(isa),
            (None, Some(isa)) if matches!(step.op, Op::Pool(_)) && host::pool_runs(isa) => {
                LayerKernel::Simd(isa)
            }
            _ if step.packed => LayerKernel::Packed,
            _ if index > 0
                && matches!(step.op, Op::Nothing)
                && matches!(self.steps[index - 1].op, Op::ConvPool(_)) =>
            {
                LayerKernel::FusedIntoPrevious
            }
            _ => LayerKernel::Reference,
        }
    }

    /// Passes of the network per [`invoke`](Self::invoke): 2 for a flip-average model, else 1.
    pub fn passes(&self) -> u64 {
        if self.flip.is_some() {
            2
        } else {
            1
        }
    }

    /// Multiply-accumulates per inference ([`invoke`](Self::invoke)) over all layers (padding
    /// taps included), both passes of a flip-average model.
    pub fn macs(&self) -> u64 {
        self.passes() * self.steps.iter().map(|s| s.op.macs()).sum::<u64>()
    }

    /// Multiply-accumulates of layer `index` per inference (0 past the last layer), as
    /// [`macs`](Self::macs) counts them: a layer fused into another keeps its own count.
    pub fn layer_macs(&self, index: usize) -> u64 {
        self.passes() * self.steps.get(index).map_or(0, |s| s.op.macs())
    }

    /// The input tensor in the arena, to fill before [`invoke`](Self::invoke) (e.g. with
    /// [`quantize_image`]). `invoke` overwrites it: fill it again before each inference.
    pub fn input_mut(&mut self) -> &mut [i8] {
        let total = self.arena.len();
        &mut self.arena[range(Side::Front, self.input_len, total)]
    }

    /// Runs the model on the input tensor and returns the output (`output_len()` int8 values):
    /// the embedding, for a flip-average model the average of the input's and its mirror
    /// image's ([`kernels::flip`]). Allocation-free and infallible.
    pub fn invoke(&mut self) -> &[i8] {
        self.invoke_profiled(|_| {})
    }

    /// [`invoke`](Self::invoke), calling `after_layer(i)` once layer `i` has run (for per-layer
    /// timing on a board: read a cycle or instruction counter in the callback); twice per layer,
    /// once per pass, for a flip-average model (the mirror copy then counts in the second pass's
    /// layer 0; the averaging after the last call).
    pub fn invoke_profiled(&mut self, mut after_layer: impl FnMut(usize)) -> &[i8] {
        match self.flip {
            Some(flip) => self.flip_passes(flip, &mut after_layer),
            None => self.pass(&mut after_layer),
        }
        &self.arena[range(self.output, self.output_len, self.arena.len())]
    }

    /// Flip averaging's two passes ([`kernels::flip`]): keeps the input, runs the network, keeps
    /// its embedding, writes the mirror image of the kept input as the input, runs the network
    /// again, and combines the two embeddings into the output. Prepare checked that the keep
    /// region holds the input and the embedding. Out of line, so that the plain path's code is
    /// what it is without flip averaging.
    #[inline(never)]
    fn flip_passes(&mut self, flip: FlipAverage, after_layer: &mut impl FnMut(usize)) {
        let out = range(self.output, self.output_len, self.arena.len());
        let keep = core::mem::take(&mut self.keep);
        let (saved, first) = keep.split_at_mut(self.input_len);
        let first = &mut first[..self.output_len];
        saved.copy_from_slice(&self.arena[..self.input_len]);
        for pass in 0..2 {
            if pass == 1 {
                first.copy_from_slice(&self.arena[out.clone()]);
                flip.mirror(saved, &mut self.arena[..self.input_len]);
            }
            self.pass(after_layer);
        }
        flip.combine(first, &mut self.arena[out]);
        self.keep = keep;
    }

    /// One pass of the network over the input tensor, leaving its output in the arena. Inlined
    /// into both callers: out of line, the reference kernels' loop ran 1.4 % more instructions
    /// on the Cortex-M4 board.
    #[inline(always)]
    fn pass(&mut self, after_layer: &mut impl FnMut(usize)) {
        let total = self.arena.len();
        for (index, step) in self.steps.iter().enumerate() {
            match step.op {
                Op::Nothing => {}
                Op::Clamp { min, max } => {
                    let r = range(step.input, step.input_len, total);
                    kernels::clamp(&mut self.arena[r], min, max);
                }
                op => {
                    let (input, output, scratch) = split(self.arena, step);
                    let simd = match (step.host, self.isa) {
                        (Some(p), Some(isa)) => {
                            eval_host(isa, &op, &p, self.host, self.panel, input, output)
                        }
                        _ => false,
                    };
                    if !simd {
                        eval(&op, step.packed, self.isa, input, output, scratch);
                    }
                }
            }
            after_layer(index);
        }
    }

    /// Copies `input` (`input_len()` int8 values, NHWC) into the arena and runs the model.
    pub fn run(&mut self, input: &[i8]) -> Result<&[i8], EngineError> {
        if input.len() != self.input_len {
            return Err(EngineError::InputLength {
                expected: self.input_len,
                found: input.len(),
            });
        }
        self.input_mut().copy_from_slice(input);
        Ok(self.invoke())
    }
}

/// Splits the arena into a step's input, output and the free bytes between them.
fn split<'b>(arena: &'b mut [i8], step: &Step<'_>) -> (&'b [i8], &'b mut [i8], &'b mut [i8]) {
    let total = arena.len();
    match step.input {
        Side::Front => {
            let (input, rest) = arena.split_at_mut(step.input_len);
            let (scratch, output) = rest.split_at_mut(total - step.input_len - step.output_len);
            (input, output, scratch)
        }
        Side::Back => {
            let (rest, input) = arena.split_at_mut(total - step.input_len);
            let (output, scratch) = rest.split_at_mut(step.output_len);
            (input, output, scratch)
        }
    }
}

/// The packed convolution `step` fused with `next` (layer `index + 1`) when that is a 2x2 max
/// pool over its output (see [`dsp::conv_pool`]) and the fused step's scratch holds the panel.
fn fuse_next<'m>(
    index: usize,
    step: &Step<'m>,
    next: Option<&siamedge_format::Layer<'m>>,
    arena: &mut [i8],
) -> Result<Option<Step<'m>>, EngineError> {
    let (Op::Conv2d(conv), Some(next)) = (&step.op, next) else {
        return Ok(None);
    };
    let Op::Pool(pool) = Op::prepare(index + 1, next)? else {
        return Ok(None);
    };
    let Some(k) = dsp::conv_pool::ConvPool::fuse(conv, &pool) else {
        return Ok(None);
    };
    let mut fused = Step {
        op: Op::ConvPool(k),
        output_len: k.output_len(),
        ..*step
    };
    // Without the widened filters, then without the requantization table, then without the
    // 3x3 kernel's widened filters, when the scratch is too small for them.
    for k in [
        dsp::conv_pool::ConvPool { wide: false, ..k },
        dsp::conv_pool::ConvPool {
            wide: false,
            fast: false,
            ..k
        },
        dsp::conv_pool::ConvPool {
            wide: false,
            fast: false,
            narrow: false,
            ..k
        },
    ] {
        if packed_fits(arena, &fused) {
            break;
        }
        fused.op = Op::ConvPool(k);
    }
    Ok(packed_fits(arena, &fused).then_some(fused))
}

/// Whether the scratch of `step` in `arena` holds its packed kernel's panel.
fn packed_fits(arena: &mut [i8], step: &Step<'_>) -> bool {
    let (_, _, scratch) = split(arena, step);
    match &step.op {
        Op::Conv2d(k) => dsp::matmul::panel_words(scratch, dsp::matmul::conv_panel(k)).is_some(),
        Op::ConvPool(k) => scratch.len() >= k.scratch_bytes(),
        Op::Dense(k) => dsp::matmul::panel_words(scratch, dsp::matmul::dense_panel(k)).is_some(),
        Op::Depthwise(k) => dsp::depthwise::supported(k),
        _ => false,
    }
}

/// Runs one non-in-place op, through its packed kernel when `packed` (the packed kernels fall
/// back to nothing: `packed` was checked against this very scratch at prepare).
fn eval(
    op: &Op<'_>,
    packed: bool,
    isa: Option<Isa>,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut [i8],
) {
    match op {
        Op::Conv2d(k) => {
            if !(packed && dsp::matmul::conv2d(k, input, output, scratch)) {
                k.eval(input, output)
            }
        }
        Op::ConvPool(k) => {
            // Only made by prepare after checking this very scratch: the kernel always runs.
            let ran = dsp::conv_pool::conv_pool(k, input, output, scratch);
            debug_assert!(ran, "fused step without its scratch");
        }
        Op::Depthwise(k) => {
            if !(packed && dsp::depthwise::depthwise(k, input, output)) {
                k.eval(input, output)
            }
        }
        Op::Dense(k) => {
            if !(packed && dsp::matmul::dense(k, input, output, scratch)) {
                k.eval(input, output)
            }
        }
        Op::Pool(k) => {
            if !isa.is_some_and(|isa| host::pool(isa, k, input, output)) {
                k.eval(input, output)
            }
        }
        Op::GlobalAverage(k) => k.eval(input, output),
        Op::L2Norm(k) => k.eval(input, output),
        Op::Clamp { .. } | Op::Nothing => {}
    }
}

/// Splits `buffer` into the tensor arena and a host region of `len` bytes aligned to
/// [`host::ALIGN`] at its end (empty when `len` is 0 or the buffer has no aligned room).
fn split_host(buffer: &mut [i8], len: usize) -> (&mut [i8], &mut [i8]) {
    if len == 0 {
        return buffer.split_at_mut(buffer.len());
    }
    let Some(start) = buffer.len().checked_sub(len + host::ALIGN) else {
        return buffer.split_at_mut(buffer.len());
    };
    let (arena, rest) = buffer.split_at_mut(start);
    let pad = rest.as_ptr().align_offset(host::ALIGN);
    match rest.get_mut(pad..pad + len) {
        Some(host) => (arena, host),
        None => (arena, &mut []),
    }
}

/// `&mut [i8]` as `&mut [T]` when aligned and of whole elements.
fn cast_mut<T: bytemuck::Pod>(bytes: Option<&mut [i8]>) -> Option<&mut [T]> {
    bytemuck::try_cast_slice_mut(bytes?).ok()
}

/// Writes the packed weights and table of the host step `op` at `p` in `host` for `isa`; `false` when
/// they do not fit (the step then runs the reference kernel).
fn pack_host(isa: Isa, op: &Op<'_>, p: &Placed, host: &mut [i8]) -> bool {
    let g = &p.gemm;
    let (weights, channels, offset) = match op {
        Op::Conv2d(k) => (k.weights, &k.channels, k.input_offset),
        Op::Dense(k) => (k.weights, &k.channels, k.input_offset),
        _ => return false,
    };
    let Some(table) = cast_mut::<i32>(host.get_mut(p.table..p.table + 4 * g.table_words())) else {
        return false;
    };
    host::pack_table(isa, g, channels, weights, offset, table);
    let at = p.weights..p.weights + 2 * g.weight_values();
    let Some(packed) = cast_mut::<i16>(host.get_mut(at)) else {
        return false;
    };
    host::pack_weights(isa, g, weights, packed);
    true
}

/// Runs the host step `op` (its blocks at `p`, the panel at byte `panel` of `host`); `false`
/// when it did not run (the caller runs the reference kernel).
fn eval_host(
    isa: Isa,
    op: &Op<'_>,
    p: &Placed,
    host: &mut [i8],
    panel: usize,
    input: &[i8],
    output: &mut [i8],
) -> bool {
    let g = p.gemm;
    let Some((blocks, rest)) = (panel <= host.len()).then(|| host.split_at_mut(panel)) else {
        return false;
    };
    let table = blocks.get(p.table..p.table + 4 * g.table_words());
    let weights = blocks.get(p.weights..p.weights + 2 * g.weight_values());
    let (Some(table), Some(weights), Some(panel)) = (
        table.and_then(|b| bytemuck::try_cast_slice::<i8, i32>(b).ok()),
        weights.and_then(|b| bytemuck::try_cast_slice::<i8, i16>(b).ok()),
        cast_mut::<i16>(rest.get_mut(..2 * g.panel_values())),
    ) else {
        return false;
    };
    let ops = host::Operands {
        gemm: g,
        weights,
        table,
        panel,
    };
    match op {
        Op::Conv2d(k) => host::conv2d(isa, k, ops, input, output),
        Op::Dense(k) => host::dense(isa, k, ops, input, output),
        _ => false,
    }
}

/// Quantizes an image to the model input: `pixels` is `height x width x channels` u8 (HWC, grey
/// when `channels` is 1), `out` the `height * width * channels` int8 input tensor; each value is
/// [`InputSpec::quantize_pixel`] of its pixel (the preprocessing contract's
/// `siamedge_format::preprocess::quantize_image`, through a 256-entry table per channel).
/// [`EngineError::InputLength`] when either length is not the input's element count;
/// [`EngineError::Model`] when the spec's `mean` or `std` list does not have `channels` entries
/// (a decoded model's never lacks them).
pub fn quantize_image(input: &InputSpec, pixels: &[u8], out: &mut [i8]) -> Result<(), EngineError> {
    let expected = input.shape().elements() as usize;
    for found in [pixels.len(), out.len()] {
        if found != expected {
            return Err(EngineError::InputLength { expected, found });
        }
    }
    siamedge_format::preprocess::quantize_image(input, pixels, out).map_err(|e| match e {
        PreprocessError::BufferSize {
            expected, found, ..
        } => EngineError::InputLength { expected, found },
        PreprocessError::Channels {
            expected, found, ..
        } => EngineError::Model(FormatError::Mismatch {
            at: Field::new(FileKind::Model, "input.channels"),
            expected: expected as u64,
            found: found as u64,
        }),
        _ => EngineError::Model(FormatError::Malformed {
            at: Field::new(FileKind::Model, "input"),
            reason: "the input spec does not fit the preprocessing contract",
        }),
    })
}

/// The host integer reference executor: runs `model` on `input` (NHWC int8, the model input's
/// quantization) with [`Kernels::best`] in a heap arena of its [`Kernels::arena_bytes`] (so
/// every layer runs its fastest kernel; all give the same bytes), and returns the embedding
/// (`model.embedding().dim` int8 values).
#[cfg(feature = "std")]
pub fn run_model(model: &Model<'_>, input: &[i8]) -> Result<Vec<i8>, EngineError> {
    let kernels = Kernels::best();
    let mut buffer = vec![0i8; kernels.arena_bytes(model)];
    let mut engine = Engine::with_kernels(model, &mut buffer, kernels)?;
    Ok(engine.run(input)?.to_vec())
}

/// [`run_model`] on the bytes of a model file ([`EngineError::Model`] when they do not decode).
#[cfg(feature = "std")]
pub fn run_model_bytes(model: &[u8], input: &[i8]) -> Result<Vec<i8>, EngineError> {
    run_model(&Model::decode(model)?, input)
}

/// The bytes of a small model for the examples in these docs.
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn doc_model() -> Result<Vec<u8>, siamedge_format::FormatError> {
    use siamedge_format::{
        Activation, DecisionSpec, EmbeddingSpec, LayerKind, LayerSpec, MetricSpec, ModelSpec,
        OperatingPoint, Quant, Shape, Task, Window,
    };
    let q_in = Quant::new(1.0 / 128.0, 0);
    let q_mid = Quant::new(0.05, -3);
    let conv = LayerSpec::weighted(
        LayerKind::Conv2d(Window::new(3, 3, 1, 1)),
        Shape::new(4, 4, 1),
        q_in,
        q_mid,
        vec![
            1, -2, 3, -4, 5, -6, 7, -8, 9, 10, 20, 30, -40, -50, -60, 70, 80, 127,
        ],
        vec![0.01, 0.02],
        vec![10, -5],
    )?
    .with_activation(Activation::relu(q_mid));
    let gap = LayerSpec::pool(LayerKind::GlobalAvgPool, conv.output, q_mid)?;
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        gap.output,
        q_mid,
        Quant::new(0.02, 0),
        vec![100, -100, 50, 50, -1, 1],
        vec![0.001, 0.002, 0.003],
        vec![1, 2, 3],
    )?;
    let mean = heapless::Vec::from_slice(&[0.5]).unwrap_or_default();
    ModelSpec {
        task: Task::Generic,
        input: siamedge_format::InputSpec {
            width: 4,
            height: 4,
            channels: 1,
            mean: mean.clone(),
            std: mean,
            quant: q_in,
        },
        embedding: EmbeddingSpec {
            dim: 3,
            scale: 0.02,
            l2_normalized: false,
            flip_average: false,
        },
        metric: MetricSpec::L2,
        decision: DecisionSpec::new(
            &[OperatingPoint {
                far: 1e-3,
                threshold: 1.0,
            }],
            0,
            1.0,
        )?,
        arena_bytes: None,
        layers: vec![conv, gap, dense],
    }
    .to_bytes()
}
