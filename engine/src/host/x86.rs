//! x86-64 kernels of the host GEMM: SSE2 (baseline), AVX2 and AVX-512 VNNI. Each module's
//! `tile::<R>` multiplies `R` panel rows with one tile of [`TILE`](super::TILE) channels,
//! starting from the biases, then requantizes and stores them.
//!
//! The products are signed i16 x i16 pairs added into i32 lanes (`pmaddwd`, `vpmaddwd`,
//! `vpdpwssd`), exact for the panel's `|x - zp| <= 255` and int8 weights; the lane sums wrap
//! in i32 as the reference kernels' `wrapping_add` does.

use core::arch::x86_64::*;

/// Writes the first `lanes` bytes of `v` (16 int8 outputs) to `out`.
///
/// # Safety
/// `out` is valid for `lanes <= 16` bytes of writes.
#[inline(always)]
unsafe fn store16(out: *mut i8, v: [i8; 16], lanes: usize) {
    // SAFETY: the caller's contract; `v` holds 16 bytes and `lanes <= 16`.
    unsafe {
        if lanes >= 16 {
            out.cast::<[i8; 16]>().write_unaligned(v);
        } else {
            core::ptr::copy_nonoverlapping(v.as_ptr(), out, lanes);
        }
    }
}

/// Scalar requantization of 16 accumulators (table order) into `out` (`lanes` of them).
///
/// # Safety
/// As [`store16`].
#[inline(always)]
unsafe fn requant_scalar(acc: [i32; 16], table: &[i32], out: *mut i8, lanes: usize) {
    let mut v = [0i8; 16];
    for (c, (o, &a)) in v.iter_mut().zip(&acc).enumerate().take(lanes) {
        *o = super::table_requant(table, c).apply(a);
    }
    // SAFETY: the caller's contract.
    unsafe { store16(out, v, lanes) }
}

pub(super) mod sse2 {
    use super::*;

    super::super::driver!("sse2", 2);

    /// `R` rows (at most 2 in use) x 16 channels: 4 x `pmaddwd` per row and pair.
    ///
    /// # Safety
    /// `panel` holds `R` rows of `pairs` i16 pairs, `w` `pairs` pairs of 16 channels, `out`
    /// `R` rows of `stride` bytes of which `lanes` are written; `table` is one tile's table.
    #[target_feature(enable = "sse2")]
    #[inline]
    pub(super) unsafe fn tile<const R: usize>(
        panel: *const i16,
        pairs: usize,
        w: *const i16,
        table: &[i32],
        out: *mut i8,
        stride: usize,
        lanes: usize,
    ) {
        // SAFETY: the caller's contract (see the function docs); loads are unaligned.
        unsafe {
            let bias = table.as_ptr().cast::<__m128i>();
            let b = [
                _mm_loadu_si128(bias),
                _mm_loadu_si128(bias.add(1)),
                _mm_loadu_si128(bias.add(2)),
                _mm_loadu_si128(bias.add(3)),
            ];
            let mut acc = [b; R];
            let a = panel.cast::<i32>();
            for j in 0..pairs {
                let wj = w.add(j * 32).cast::<__m128i>();
                let ws = [
                    _mm_loadu_si128(wj),
                    _mm_loadu_si128(wj.add(1)),
                    _mm_loadu_si128(wj.add(2)),
                    _mm_loadu_si128(wj.add(3)),
                ];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm_set1_epi32(a.add(r * pairs + j).read_unaligned());
                    for (acc, &wq) in acc.iter_mut().zip(&ws) {
                        *acc = _mm_add_epi32(*acc, _mm_madd_epi16(x, wq));
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let mut v = [0i32; 16];
                for (q, &a) in acc.iter().enumerate() {
                    _mm_storeu_si128(v.as_mut_ptr().add(4 * q).cast(), a);
                }
                requant_scalar(v, table, out.add(r * stride), lanes);
            }
        }
    }
}

pub(super) mod avx2 {
    use super::*;

    super::super::driver!("avx2", 6);

    /// [`max_pool`](crate::host::max_pool) compiled with AVX2 (see `host::pool`).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn pool(k: &crate::kernels::pool::Pool, input: &[i8], output: &mut [i8]) {
        crate::host::max_pool(k, input, output)
    }

    /// One half tile's (8 channels') requantization parameters as vectors.
    struct Requant8 {
        multiplier: __m256i,
        left: __m256i,
        right: __m256i,
        mask: __m256i,
        half_mask: __m256i,
        zero_point: __m256i,
        min: __m256i,
        max: __m256i,
    }

    impl Requant8 {
        /// Channels `8 * half ..` of a tile's table.
        #[target_feature(enable = "avx2")]
        #[inline]
        fn load(table: &[i32], half: usize) -> Self {
            let field = |f: usize| {
                let at = f * super::super::TILE + 8 * half;
                // SAFETY: a tile's table holds `TABLE_FIELDS * TILE` words; `at + 8` is within.
                unsafe { _mm256_loadu_si256(table[at..at + 8].as_ptr().cast()) }
            };
            Self {
                multiplier: field(1),
                left: field(2),
                right: field(3),
                mask: field(4),
                half_mask: field(5),
                zero_point: field(6),
                min: field(7),
                max: field(8),
            }
        }

        /// [`Requant::apply`](crate::kernels::requant::Requant::apply) on 8 lanes: the
        /// doubling high multiply as two `vpmuldq` (even and odd lanes, exact i64 products),
        /// then the rounding shift, zero point and clamp.
        #[target_feature(enable = "avx2")]
        #[inline]
        fn apply(&self, acc: __m256i) -> __m256i {
            let a = _mm256_sllv_epi32(acc, self.left);
            let round = _mm256_set1_epi64x(1 << 30);
            // Bits 31..63 of `a * m + 2^30` are the high word; for even lanes shifted down to
            // bits 0..32, for odd lanes up to bits 32..64.
            let even = _mm256_srli_epi64(
                _mm256_add_epi64(_mm256_mul_epi32(a, self.multiplier), round),
                31,
            );
            let odd = _mm256_slli_epi64(
                _mm256_add_epi64(
                    _mm256_mul_epi32(
                        _mm256_srli_epi64(a, 32),
                        _mm256_srli_epi64(self.multiplier, 32),
                    ),
                    round,
                ),
                1,
            );
            let high = _mm256_blend_epi32(even, odd, 0b1010_1010);
            let remainder = _mm256_and_si256(high, self.mask);
            let threshold = _mm256_add_epi32(self.half_mask, _mm256_srli_epi32(high, 31));
            // `cmpgt` is -1 where the remainder rounds up.
            let scaled = _mm256_sub_epi32(
                _mm256_srav_epi32(high, self.right),
                _mm256_cmpgt_epi32(remainder, threshold),
            );
            let y = _mm256_add_epi32(scaled, self.zero_point);
            _mm256_min_epi32(_mm256_max_epi32(y, self.min), self.max)
        }
    }

    /// 16 clamped i32 lanes (`lo`: channels 0..8, `hi`: 8..16) as 16 int8 in channel order.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn narrow(lo: __m256i, hi: __m256i) -> [i8; 16] {
        // packs interleaves 128-bit halves: [lo 0..4, hi 0..4, lo 4..8, hi 4..8].
        let words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0b11_01_10_00);
        let bytes = _mm_packs_epi16(
            _mm256_castsi256_si128(words),
            _mm256_extracti128_si256(words, 1),
        );
        let mut v = [0i8; 16];
        // SAFETY: `v` holds 16 bytes.
        unsafe { _mm_storeu_si128(v.as_mut_ptr().cast(), bytes) };
        v
    }

    /// `R` rows (at most 6 in use) x 16 channels: 2 x `vpmaddwd` per row and pair.
    ///
    /// # Safety
    /// As [`sse2::tile`](super::sse2::tile).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn tile<const R: usize>(
        panel: *const i16,
        pairs: usize,
        w: *const i16,
        table: &[i32],
        out: *mut i8,
        stride: usize,
        lanes: usize,
    ) {
        // SAFETY: the caller's contract; loads are unaligned.
        unsafe {
            let bias = table.as_ptr().cast::<__m256i>();
            let b = [_mm256_loadu_si256(bias), _mm256_loadu_si256(bias.add(1))];
            let mut acc = [b; R];
            let a = panel.cast::<i32>();
            for j in 0..pairs {
                let wj = w.add(j * 32).cast::<__m256i>();
                let (w0, w1) = (_mm256_loadu_si256(wj), _mm256_loadu_si256(wj.add(1)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_epi32(a.add(r * pairs + j).read_unaligned());
                    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x, w0));
                    acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x, w1));
                }
            }
            let (q0, q1) = (Requant8::load(table, 0), Requant8::load(table, 1));
            for (r, acc) in acc.iter().enumerate() {
                let v = narrow(q0.apply(acc[0]), q1.apply(acc[1]));
                store16(out.add(r * stride), v, lanes);
            }
        }
    }
}

pub(super) mod avx512 {
    use super::*;
    use crate::host::{Operands, TABLE_FIELDS, TILE};

    /// The byte GEMM (see `Isa::Avx512Vnni`): rows of `4 * quads` unsigned bytes, weights in
    /// int8 quads, 8 rows x 16 channels per tile.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; `ops` fit (`Operands::fit`) and `output` holds
    /// `rows * ops.gemm.n` values.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(crate) unsafe fn gemm(
        ops: Operands<'_>,
        rows: usize,
        output: &mut [i8],
        mut fill: impl FnMut(&mut [u8]),
    ) {
        let g = ops.gemm;
        let quads = g.k.div_ceil(4);
        let width = 4 * quads;
        let panel: &mut [u8] = bytemuck::cast_slice_mut(ops.panel);
        let weights: &[u8] = bytemuck::cast_slice(ops.weights);
        let tile_bytes = quads * TILE * 4;
        let tile_words = TABLE_FIELDS * TILE;
        let mut p0 = 0;
        while p0 < rows {
            let r = (rows - p0).min(8);
            for row in panel.chunks_exact_mut(width).take(r) {
                fill(row);
            }
            for t in 0..g.tiles {
                let lanes = (g.n - t * TILE).min(TILE);
                let w = weights[t * tile_bytes..].as_ptr();
                let table = &ops.table[t * tile_words..(t + 1) * tile_words];
                let out = output[p0 * g.n + t * TILE..].as_mut_ptr();
                let x = panel.as_ptr();
                // SAFETY: rows `p0..p0 + r` of the panel are filled (`r * width` bytes), tile
                // `t` of the weights holds `quads` quads of `TILE` channels (`Operands::fit`:
                // `quads <= pairs`), and the output rows `p0..p0 + r` hold `n` values each, of
                // which the tile writes `lanes` from column `t * TILE`.
                unsafe {
                    match r {
                        1 => tile::<1>(x, quads, w, table, out, g.n, lanes),
                        2 => tile::<2>(x, quads, w, table, out, g.n, lanes),
                        3 => tile::<3>(x, quads, w, table, out, g.n, lanes),
                        4 => tile::<4>(x, quads, w, table, out, g.n, lanes),
                        5 => tile::<5>(x, quads, w, table, out, g.n, lanes),
                        6 => tile::<6>(x, quads, w, table, out, g.n, lanes),
                        7 => tile::<7>(x, quads, w, table, out, g.n, lanes),
                        _ => tile::<8>(x, quads, w, table, out, g.n, lanes),
                    }
                }
            }
            p0 += r;
        }
    }

    /// `R` rows x 16 channels: one `vpdpbusd` per row and quad (the non-saturating form:
    /// `vpdpbusds` would saturate the sum; the products themselves are exact i32), and the
    /// requantization on 16 lanes.
    ///
    /// # Safety
    /// `panel` holds `R` rows of `quads` 4-byte groups, `w` `quads` quads of 16 channels, `out`
    /// `R` rows of `stride` bytes of which `lanes` are written; `table` is one tile's table.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile<const R: usize>(
        panel: *const u8,
        quads: usize,
        w: *const u8,
        table: &[i32],
        out: *mut i8,
        stride: usize,
        lanes: usize,
    ) {
        // SAFETY: the caller's contract; loads are unaligned.
        unsafe {
            let field = |f: usize| _mm512_loadu_si512(table.as_ptr().add(f * 16).cast());
            let mut acc = [field(0); R];
            let width = 4 * quads;
            for q in 0..quads {
                let wq = _mm512_loadu_si512(w.add(q * 64).cast());
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = panel.add(r * width + 4 * q).cast::<i32>().read_unaligned();
                    *acc = _mm512_dpbusd_epi32(*acc, _mm512_set1_epi32(x), wq);
                }
            }
            let (multiplier, left, right) = (field(1), field(2), field(3));
            let (mask, half_mask, zero_point) = (field(4), field(5), field(6));
            let (min, max) = (field(7), field(8));
            let round = _mm512_set1_epi64(1 << 30);
            let one = _mm512_set1_epi32(1);
            for (r, &acc) in acc.iter().enumerate() {
                // As the AVX2 `Requant8::apply`, on 16 lanes.
                let a = _mm512_sllv_epi32(acc, left);
                let even =
                    _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, multiplier), round), 31);
                let odd = _mm512_slli_epi64(
                    _mm512_add_epi64(
                        _mm512_mul_epi32(
                            _mm512_srli_epi64(a, 32),
                            _mm512_srli_epi64(multiplier, 32),
                        ),
                        round,
                    ),
                    1,
                );
                let high = _mm512_mask_blend_epi32(0xAAAA, even, odd);
                let remainder = _mm512_and_si512(high, mask);
                let threshold = _mm512_add_epi32(half_mask, _mm512_srli_epi32(high, 31));
                let up = _mm512_cmpgt_epi32_mask(remainder, threshold);
                let shifted = _mm512_srav_epi32(high, right);
                let scaled = _mm512_mask_add_epi32(shifted, up, shifted, one);
                let y = _mm512_add_epi32(scaled, zero_point);
                let y = _mm512_min_epi32(_mm512_max_epi32(y, min), max);
                let mut v = [0i8; 16];
                _mm_storeu_si128(v.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(y));
                store16(out.add(r * stride), v, lanes);
            }
        }
    }
}
