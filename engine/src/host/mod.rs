//! The host path: convolution and dense layers as an int8 GEMM with SIMD kernels for x86-64
//! (SSE2, AVX2, AVX-512 VNNI) and aarch64 (NEON), bit-exact with the reference kernels.
//!
//! What: a weighted layer is `out[p][o] = requant_o(bias[o] + sum_k w[o][k] * a[p][k])` over
//! `P` rows `p` (output positions of a convolution, one row for a dense layer) and `K` values
//! per row (`kernel_h * kernel_w * in_c`, or the dense input size), `a = x - zp_in` (0 in the
//! padding). The rows are built on the fly as an im2col panel of at most [`MAX_ROWS`] rows,
//! widened to i16 ([`fill`]); the weights are re-laid out once, when the engine is prepared,
//! into tiles of [`TILE`] output channels of i16 pairs ([`pack_weights`]); the kernels multiply
//! pairs of i16 and add them into i32 lanes (`pmaddwd`/`vpmaddwd`, `vpdpwssd`, NEON `smull`
//! and pairwise adds), which is exact: every product fits in i32 and the sums wrap in i32 as
//! the reference's do. Requantization is [`Requant::apply`](crate::kernels::requant::Requant)
//! per lane (vectorized on AVX2 and AVX-512, scalar elsewhere), with the per-channel
//! parameters laid out beside the weights ([`pack_table`]). Nothing here uses
//! `u8 x s8 -> i16` saturating multiply-adds (`vpmaddubsw`), whose intermediate sums saturate.
//!
//! When: [`Isa::best`] says what the CPU runs (at run time with the `std` feature; SSE2 and
//! NEON are baseline); the engine runs the host path when [`Kernels::Simd`](crate::Kernels)
//! is chosen (the default on x86-64 and aarch64 without the `dsp` feature) and the arena holds
//! the packed weights, the tables and one panel after the model's tensors
//! ([`arena_bytes`]). Layers that do not fit, depthwise convolutions, pools and
//! normalizations run the reference kernels. Never compiled for other architectures (the
//! Cortex-M build has no host path at all).

pub mod fill;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod x86;

use siamedge_format::Model;

use crate::kernels::conv2d::Conv2d;
use crate::kernels::dense::Dense;
use crate::plan::Op;

/// Output channels per weight tile (one 512-bit vector of i32 lanes, two of 256 bits).
pub const TILE: usize = 16;

/// Panel rows a kernel multiplies at a time, at most.
pub const MAX_ROWS: usize = 8;

/// Alignment of every block in the host region, in bytes (a cache line).
pub const ALIGN: usize = 64;

/// Words of requantization parameters per channel in a table (see [`pack_table`]).
pub const TABLE_FIELDS: usize = 9;

/// An instruction set the host kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// x86-64 baseline: 128-bit `pmaddwd`, 2 rows x 16 channels; scalar requantization.
    Sse2,
    /// x86-64 AVX2: 256-bit `vpmaddwd`, 6 rows x 16 channels (12 accumulators); vector requantization.
    Avx2,
    /// x86-64 AVX-512 with VNNI (`avx512f`, `avx512bw`, `avx512vnni`): `vpdpbusd` on unsigned
    /// bytes `x + 128` times int8 weights, four exact products summed into each i32 lane (no
    /// 16-bit intermediate; the bias absorbs `-(zp + 128) * sum w`), 8 rows x 16 channels;
    /// vector requantization.
    Avx512Vnni,
    /// aarch64 NEON (baseline): `smull`/`smull2` and pairwise adds, 6 rows x 16 channels;
    /// scalar requantization.
    Neon,
}

impl Isa {
    /// Its name as the CPU manuals spell it, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Neon => "neon",
        }
    }

    /// Whether this CPU runs it (detected at run time with the `std` feature; without it, only
    /// what the build targets statically).
    pub fn available(self) -> bool {
        match self {
            Isa::Sse2 => cfg!(target_arch = "x86_64"),
            Isa::Avx2 => x86_has_avx2(),
            Isa::Avx512Vnni => x86_has_avx512vnni(),
            Isa::Neon => cfg!(target_arch = "aarch64"),
        }
    }

    /// The fastest instruction set this CPU runs, `None` off x86-64 and aarch64.
    pub fn best() -> Option<Isa> {
        [Isa::Avx512Vnni, Isa::Avx2, Isa::Sse2, Isa::Neon]
            .into_iter()
            .find(|isa| isa.available())
    }

    /// Whether its kernels take bytes (weights as int8 quads, rows as `x + 128`; see
    /// [`pack_weights`]) rather than i16 pairs.
    pub fn bytes(self) -> bool {
        self == Isa::Avx512Vnni
    }

    /// Every instruction set this CPU runs, slowest first (for tests and benchmarks).
    pub fn all_available() -> impl Iterator<Item = Isa> {
        [Isa::Sse2, Isa::Avx2, Isa::Avx512Vnni, Isa::Neon]
            .into_iter()
            .filter(|isa| isa.available())
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn x86_has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
fn x86_has_avx2() -> bool {
    cfg!(target_feature = "avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn x86_has_avx2() -> bool {
    false
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn x86_has_avx512vnni() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
fn x86_has_avx512vnni() -> bool {
    cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vnni"
    ))
}

#[cfg(not(target_arch = "x86_64"))]
fn x86_has_avx512vnni() -> bool {
    false
}

/// The shape of one weighted layer's GEMM: `K` values per row, padded to `pairs` i16 pairs,
/// `n` output channels in `tiles` tiles of [`TILE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gemm {
    /// Values per row (`K`).
    pub k: usize,
    /// `ceil(K / 2)`: i16 pairs per row (the last one padded with 0 when `K` is odd).
    pub pairs: usize,
    /// Output channels.
    pub n: usize,
    /// `ceil(n / TILE)`.
    pub tiles: usize,
}

impl Gemm {
    /// The GEMM of `k` values per row and `n` output channels.
    pub const fn new(k: usize, n: usize) -> Self {
        Self {
            k,
            pairs: k.div_ceil(2),
            n,
            tiles: n.div_ceil(TILE),
        }
    }

    /// The GEMM of a convolution.
    pub fn conv(k: &Conv2d<'_>) -> Self {
        let g = &k.geometry;
        Self::new(g.kernel_h * g.kernel_w * g.in_c, g.out_c)
    }

    /// The GEMM of a dense layer.
    pub fn dense(k: &Dense<'_>) -> Self {
        Self::new(k.depth, k.out_c)
    }

    /// The GEMM of `op`, if it runs on the host path (convolutions and dense layers).
    pub fn of(op: &Op<'_>) -> Option<Self> {
        match op {
            Op::Conv2d(k) => Some(Self::conv(k)),
            Op::Dense(k) => Some(Self::dense(k)),
            _ => None,
        }
    }

    /// i16 values of the packed weights: `tiles * pairs * TILE * 2`.
    pub const fn weight_values(&self) -> usize {
        self.tiles * self.pairs * TILE * 2
    }

    /// i32 words of the requantization table: `tiles * TABLE_FIELDS * TILE`.
    pub const fn table_words(&self) -> usize {
        self.tiles * TABLE_FIELDS * TILE
    }

    /// i16 values of a panel of [`MAX_ROWS`] rows: `MAX_ROWS * 2 * pairs`.
    pub const fn panel_values(&self) -> usize {
        MAX_ROWS * 2 * self.pairs
    }

    /// Host-region bytes of this layer's own blocks (table and weights, each aligned).
    pub const fn layer_bytes(&self) -> usize {
        align(4 * self.table_words()) + align(2 * self.weight_values())
    }

    /// Host-region bytes of its panel, aligned.
    pub const fn panel_bytes(&self) -> usize {
        align(2 * self.panel_values())
    }
}

/// `bytes` rounded up to [`ALIGN`].
pub const fn align(bytes: usize) -> usize {
    bytes.div_ceil(ALIGN) * ALIGN
}

/// Where one layer's blocks sit in the host region (byte offsets from its aligned start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The GEMM shape.
    pub gemm: Gemm,
    /// Offset of the requantization table.
    pub table: usize,
    /// Offset of the packed weights.
    pub weights: usize,
}

/// Arena bytes that run every convolution and dense layer of `model` on the host path: the
/// model's own need ([`needed_arena_bytes`](crate::needed_arena_bytes)) plus every layer's
/// table and weights, the largest panel and [`ALIGN`] bytes of slack. Layers that fail to
/// prepare count as needing nothing (the engine reports their error).
pub fn arena_bytes(model: &Model<'_>) -> usize {
    let (mut layers, mut panel) = (0, 0);
    for (i, layer) in model.layers().iter().enumerate() {
        if let Some(g) = Op::prepare(i, layer).ok().as_ref().and_then(Gemm::of) {
            layers += g.layer_bytes();
            panel = panel.max(g.panel_bytes());
        }
    }
    crate::needed_arena_bytes(model) + layers + panel + ALIGN
}

/// Lays `weights` (`[n][k]` int8, row-major: OHWI filters or dense rows) out for the kernels of
/// `isa`, 0 past `n` channels or `k` values. `out` holds `gemm.weight_values()` i16.
/// - i16 pairs (all but [`Isa::bytes`]): value `((t * pairs + j) * TILE + c) * 2 + h` is
///   `w[t * TILE + c][2 * j + h]` widened to i16;
/// - int8 quads ([`Isa::bytes`]): byte `((t * quads + q) * TILE + c) * 4 + h` of `out` is
///   `w[t * TILE + c][4 * q + h]`, `quads = ceil(k / 4)` (64 bytes per quad and tile, as many as
///   a pair takes, so the blocks have one size for every instruction set).
pub fn pack_weights(isa: Isa, gemm: &Gemm, weights: &[i8], out: &mut [i16]) {
    out.fill(0);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
    let quads = gemm.k.div_ceil(4);
    for (o, row) in weights.chunks_exact(gemm.k).take(gemm.n).enumerate() {
        let (t, c) = (o / TILE, o % TILE);
        for (k, &w) in row.iter().enumerate() {
            if isa.bytes() {
                let (q, h) = (k / 4, k % 4);
                if let Some(v) = bytes.get_mut(((t * quads + q) * TILE + c) * 4 + h) {
                    *v = w as u8;
                }
            } else {
                let (j, h) = (k / 2, k % 2);
                let at = 2 * (((t * gemm.pairs + j) * TILE + c) * 2 + h);
                if let Some(v) = bytes.get_mut(at..at + 2) {
                    v.copy_from_slice(&i16::from(w).to_ne_bytes());
                }
            }
        }
    }
}

/// Lays the per-channel parameters out for the kernels of `isa`: tile `t` holds
/// [`TABLE_FIELDS`] rows of [`TILE`] i32, `[bias, multiplier, left, right, mask, half_mask,
/// zero_point, min, max]` of channels `t * TILE ..` (the fields of
/// [`Requant`](crate::kernels::requant::Requant)); channels past `n` get zeros. For the byte
/// kernels ([`Isa::bytes`]) the bias is `bias - (128 - input_offset) * sum_k w[o][k]` (wrapping,
/// as the accumulators): their rows hold `x + 128`, and `(x + 128) - (zp + 128) = x - zp`.
/// `weights` are the `[n][k]` weights, `input_offset` is `-input_zero_point`; `out` holds
/// `gemm.table_words()`.
pub fn pack_table(
    isa: Isa,
    gemm: &Gemm,
    channels: &crate::kernels::Channels<'_>,
    weights: &[i8],
    input_offset: i32,
    out: &mut [i32],
) {
    out.fill(0);
    let rows = weights.chunks_exact(gemm.k.max(1));
    for (o, row) in (0..gemm.n).zip(rows.map(Some).chain(core::iter::repeat(None))) {
        let (t, c) = (o / TILE, o % TILE);
        let r = channels.requant(o);
        let mut bias = channels.bias(o);
        if isa.bytes() {
            let sum: i32 = row.unwrap_or(&[]).iter().map(|&w| i32::from(w)).sum();
            bias = bias.wrapping_sub((128 - input_offset).wrapping_mul(sum));
        }
        let fields = [
            bias,
            r.multiplier,
            r.left as i32,
            r.right as i32,
            r.mask,
            r.half_mask,
            r.zero_point,
            r.min,
            r.max,
        ];
        for (f, v) in fields.into_iter().enumerate() {
            if let Some(slot) = out.get_mut((t * TABLE_FIELDS + f) * TILE + c) {
                *slot = v;
            }
        }
    }
}

/// The requantization of table entry `c` of one tile (`tile`: `TABLE_FIELDS * TILE` words).
#[inline(always)]
pub fn table_requant(tile: &[i32], c: usize) -> crate::kernels::requant::Requant {
    let f = |i: usize| tile[i * TILE + c];
    crate::kernels::requant::Requant {
        multiplier: f(1),
        left: f(2) as u32,
        right: f(3) as u32,
        mask: f(4),
        half_mask: f(5),
        zero_point: f(6),
        min: f(7),
        max: f(8),
    }
}

/// Whether [`pool`] runs the windowed pools on `isa` (x86-64 with AVX2: the byte maximum is
/// `vpmaxsb`, which SSE2 lacks).
pub fn pool_runs(isa: Isa) -> bool {
    matches!(isa, Isa::Avx2 | Isa::Avx512Vnni) && Isa::Avx2.available()
}

/// Runs a windowed max pool on the host path ([`max_pool`] compiled with AVX2: its channel
/// loops are 32-byte maxima). `false` (nothing written) unless [`pool_runs`]`(isa)` and the
/// pool is a maximum (averages run the reference kernel).
pub fn pool(isa: Isa, k: &crate::kernels::pool::Pool, input: &[i8], output: &mut [i8]) -> bool {
    let g = &k.geometry;
    if !pool_runs(isa)
        || k.reduce != crate::kernels::pool::Reduce::Max
        || input.len() < g.in_h * g.in_w * g.in_c
        || output.len() < g.out_h * g.out_w * g.in_c
    {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: AVX2 is available (`pool_runs`).
        unsafe { x86::avx2::pool(k, input, output) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (k, input, output);
        false
    }
}

/// The reference max pool's arithmetic ([`Pool::eval`](crate::kernels::pool::Pool::eval): the
/// maximum of the window's real cells, `i8::MIN` for none, then the activation clamp) with the
/// first cell copied and each further cell one slice-wide maximum. `input` and `output` hold
/// the layer's tensors (checked by [`pool`]).
#[inline(always)]
pub fn max_pool(k: &crate::kernels::pool::Pool, input: &[i8], output: &mut [i8]) {
    let g = &k.geometry;
    let c = g.in_c;
    let geometry = crate::kernels::Geometry::valid_taps;
    for (oy, out_row) in output
        .chunks_exact_mut(g.out_w * c)
        .take(g.out_h)
        .enumerate()
    {
        let (y0, y1) = geometry(oy, g.stride_h, 1, g.pad_top, g.kernel_h, g.in_h);
        let top = oy * g.stride_h + y0 - g.pad_top;
        for (ox, out) in out_row.chunks_exact_mut(c).enumerate() {
            let (x0, x1) = geometry(ox, g.stride_w, 1, g.pad_left, g.kernel_w, g.in_w);
            let left = ox * g.stride_w + x0 - g.pad_left;
            let mut first = true;
            for iy in top..top + (y1 - y0) {
                let row = &input[(iy * g.in_w + left) * c..(iy * g.in_w + left + x1 - x0) * c];
                for cell in row.chunks_exact(c) {
                    if first {
                        out.copy_from_slice(cell);
                        first = false;
                    } else {
                        for (o, &v) in out.iter_mut().zip(cell) {
                            *o = (*o).max(v);
                        }
                    }
                }
            }
            if first {
                out.fill(i8::MIN);
            }
            for o in out.iter_mut() {
                *o = (*o).clamp(k.min, k.max);
            }
        }
    }
}

/// The operands of one layer's GEMM on the host path.
pub struct Operands<'s> {
    /// The shape.
    pub gemm: Gemm,
    /// Packed weights ([`pack_weights`]).
    pub weights: &'s [i16],
    /// Requantization table ([`pack_table`]).
    pub table: &'s [i32],
    /// Panel scratch, at least `gemm.panel_values()`.
    pub panel: &'s mut [i16],
}

impl Operands<'_> {
    /// Whether the blocks have the sizes the kernels index.
    fn fit(&self) -> bool {
        self.weights.len() >= self.gemm.weight_values()
            && self.table.len() >= self.gemm.table_words()
            && self.panel.len() >= self.gemm.panel_values()
    }
}

/// Runs a convolution on the host path with `isa`: `output` (`out_h * out_w * out_c`) from
/// `input` (`in_h * in_w * in_c`). `false` (nothing written) when `isa` is not available or
/// the operands or tensors are short; the caller then runs the reference kernel.
pub fn conv2d(
    isa: Isa,
    k: &Conv2d<'_>,
    ops: Operands<'_>,
    input: &[i8],
    output: &mut [i8],
) -> bool {
    let g = k.geometry;
    let rows = g.out_h * g.out_w;
    if ops.gemm != Gemm::conv(k)
        || input.len() < g.in_h * g.in_w * g.in_c
        || output.len() < rows * g.out_c
    {
        return false;
    }
    let offset = k.input_offset;
    // Rows come in order: the position steps along the output row by row.
    let (mut oy, mut ox) = (0, 0);
    let mut next = move || {
        let at = (oy, ox);
        ox += 1;
        if ox == g.out_w {
            (oy, ox) = (oy + 1, 0);
        }
        at
    };
    if isa.bytes() {
        let pad = (128 - offset) as u8;
        return gemm_bytes(isa, ops, rows, output, move |row| {
            fill::im2col_u8(&g, input, next(), pad, row)
        });
    }
    gemm(isa, ops, rows, output, move |row| {
        fill::im2col(&g, input, next(), offset, row)
    })
}

/// Runs a dense layer on the host path with `isa`: `output` (`out_c`) from `input` (`depth`).
/// `false` (nothing written) as for [`conv2d`].
pub fn dense(isa: Isa, k: &Dense<'_>, ops: Operands<'_>, input: &[i8], output: &mut [i8]) -> bool {
    if ops.gemm != Gemm::dense(k) || input.len() < k.depth || output.len() < k.out_c {
        return false;
    }
    let offset = k.input_offset;
    if isa.bytes() {
        let pad = (128 - offset) as u8;
        return gemm_bytes(isa, ops, 1, output, |row| {
            fill::vector_u8(&input[..k.depth], pad, row)
        });
    }
    gemm(isa, ops, 1, output, |row| {
        fill::vector(&input[..k.depth], offset, row)
    })
}

/// `output[p][o]` for `rows` rows, the panel's rows filled by `fill(row)` (`2 * pairs` i16
/// values), called once per row `p = 0, 1, ..` in order.
fn gemm(
    isa: Isa,
    ops: Operands<'_>,
    rows: usize,
    output: &mut [i8],
    fill: impl FnMut(&mut [i16]),
) -> bool {
    if isa.bytes() || !isa.available() || !ops.fit() || output.len() < rows * ops.gemm.n {
        return false;
    }
    run(isa, ops, rows, output, fill)
}

/// [`gemm`] for the byte kernels ([`Isa::bytes`]): rows of `4 * ceil(k / 4)` bytes.
fn gemm_bytes(
    isa: Isa,
    ops: Operands<'_>,
    rows: usize,
    output: &mut [i8],
    fill: impl FnMut(&mut [u8]),
) -> bool {
    if !isa.bytes() || !isa.available() || !ops.fit() || output.len() < rows * ops.gemm.n {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: AVX-512 VNNI is available (checked above); the operands and the output have
        // the sizes the kernel indexes (`Operands::fit`, `rows * n`).
        unsafe { x86::avx512::gemm(ops, rows, output, fill) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = fill;
        false
    }
}

#[cfg(target_arch = "x86_64")]
fn run(
    isa: Isa,
    ops: Operands<'_>,
    rows: usize,
    output: &mut [i8],
    fill: impl FnMut(&mut [i16]),
) -> bool {
    // SAFETY: `isa` is available on this CPU (checked by `gemm`), and the operands and the
    // output have the sizes the kernels index (`Operands::fit`, `rows * n`).
    unsafe {
        match isa {
            Isa::Sse2 => x86::sse2::gemm(ops, rows, output, fill),
            Isa::Avx2 => x86::avx2::gemm(ops, rows, output, fill),
            Isa::Avx512Vnni | Isa::Neon => return false,
        }
    }
    true
}

#[cfg(target_arch = "aarch64")]
fn run(
    isa: Isa,
    ops: Operands<'_>,
    rows: usize,
    output: &mut [i8],
    fill: impl FnMut(&mut [i16]),
) -> bool {
    if isa != Isa::Neon {
        return false;
    }
    // SAFETY: NEON is baseline on aarch64; the operands and the output have the sizes the
    // kernels index (`Operands::fit`, `rows * n`, checked by `gemm`).
    unsafe { neon::gemm(ops, rows, output, fill) };
    true
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn run(
    _isa: Isa,
    _ops: Operands<'_>,
    _rows: usize,
    _output: &mut [i8],
    _fill: impl FnMut(&mut [i16]),
) -> bool {
    false
}

/// The driver every kernel shares, stamped into each instruction set's module (so that the
/// panel fill and the tile loops compile with that module's target features): panels of
/// `$rows` rows, each multiplied with every weight tile by `tile::<R>` (`R` the rows filled,
/// `1..=$rows`), which writes `R` rows of up to [`TILE`] outputs. Only the x86-64 and aarch64
/// modules use it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! driver {
    ($features:literal, $rows:literal) => {
        /// The GEMM on this instruction set (see the `host` module).
        ///
        /// # Safety
        /// The CPU has this module's target features; `ops` fit (`Operands::fit`) and `output`
        /// holds `rows * ops.gemm.n` values.
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn gemm(
            ops: $crate::host::Operands<'_>,
            rows: usize,
            output: &mut [i8],
            mut fill: impl FnMut(&mut [i16]),
        ) {
            let g = ops.gemm;
            let width = 2 * g.pairs;
            let tile_values = g.pairs * $crate::host::TILE * 2;
            let tile_words = $crate::host::TABLE_FIELDS * $crate::host::TILE;
            let mut p0 = 0;
            while p0 < rows {
                let r = (rows - p0).min($rows);
                for row in ops.panel.chunks_exact_mut(width).take(r) {
                    fill(row);
                }
                for t in 0..g.tiles {
                    let lanes = (g.n - t * $crate::host::TILE).min($crate::host::TILE);
                    let w = ops.weights[t * tile_values..].as_ptr();
                    let table = &ops.table[t * tile_words..(t + 1) * tile_words];
                    let out = output[p0 * g.n + t * $crate::host::TILE..].as_mut_ptr();
                    let panel = ops.panel.as_ptr();
                    // SAFETY: rows `p0..p0 + r` of the panel are filled (`r * width` values),
                    // tile `t` of the weights holds `pairs` pairs of `TILE` channels, and the
                    // output rows `p0..p0 + r` hold `n` values each, of which the tile writes
                    // `lanes` from column `t * TILE`.
                    unsafe {
                        match r {
                            1 => tile::<1>(panel, g.pairs, w, table, out, g.n, lanes),
                            2 => tile::<2>(panel, g.pairs, w, table, out, g.n, lanes),
                            3 => tile::<3>(panel, g.pairs, w, table, out, g.n, lanes),
                            4 => tile::<4>(panel, g.pairs, w, table, out, g.n, lanes),
                            5 => tile::<5>(panel, g.pairs, w, table, out, g.n, lanes),
                            6 => tile::<6>(panel, g.pairs, w, table, out, g.n, lanes),
                            7 => tile::<7>(panel, g.pairs, w, table, out, g.n, lanes),
                            _ => tile::<8>(panel, g.pairs, w, table, out, g.n, lanes),
                        }
                    }
                }
                p0 += r;
            }
        }
    };
}
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) use driver;
