//! Exact integer sums of one int8 probe against a block of int8 rows, with SIMD chosen at run
//! time.
//!
//! What: `out[r] = Σ_i f(rows[r * dim + i], probe[i])` for `f` one of `(a - b)^2`, `|a - b|`
//! or `a * b` ([`Sum`]), `dim = probe.len()`, over `out.len()` rows. Every sum is exact in i32:
//! with `dim <= 1024`, `|sum| <= 1024 * 255^2 < 2^27`. One scalar loop per sum is the reference;
//! the fast paths are the same loops compiled with `avx2` or `avx512bw` enabled
//! (`#[target_feature]`), chosen once by [`Isa::detect`], so they cannot disagree with it except
//! through a compiler bug, which the tests would catch (they run every path the CPU has against
//! the shared metric functions).
//!
//! What the inner loop compiles to (x86-64, rustc 1.95, checked with `objdump -d` on the
//! release build): the squared-L2 and dot loops sign-extend the bytes to 16 bits
//! (`vpmovsxbw`), subtract in 16 bits for the L2 sum (`vpsubw`) and multiply-add pairs into i32
//! lanes (`vpmaddwd`), then add to the accumulators (`vpaddd`): 32 bytes of each row per
//! iteration with `avx2` and 64 with `avx512bw`, SSE2 (`pmaddwd` on 8 lanes) without either.
//! The L1 loop takes `|a - b| = max - min` in bytes (`vpmaxsb`, `vpminsb`, `vpsubb`), then
//! zero-extends to i32 (`vpmovzxbd`) and adds. Rows are
//! processed one after another with a horizontal add at the end of each, which the benchmark
//! shows is not the bottleneck at `dim = 128` (memory is, past the last-level cache).
//!
//! When not: the diagonal Mahalanobis metric sums f32 terms in element order and has no
//! integer form; the index scores it with a table (see the parent module).

/// Which exact integer sum a kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sum {
    /// `Σ (a_i - b_i)^2`, `>= 0`.
    SquaredL2,
    /// `Σ |a_i - b_i|`, `>= 0`.
    L1,
    /// `Σ a_i b_i`.
    Dot,
}

/// An instruction set the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// The portable loop as the target's baseline compiles it (SSE2 on x86-64).
    Baseline,
    /// x86-64 AVX2: 256-bit `vpmaddwd`.
    Avx2,
    /// x86-64 AVX-512 BW: 512-bit `vpmaddwd`.
    Avx512,
}

impl Isa {
    /// The best instruction set this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// Every instruction set this CPU runs, baseline first (for tests and benchmarks).
    pub fn available() -> Vec<Self> {
        [Isa::Baseline, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|isa| *isa <= Self::detect())
            .collect()
    }

    /// Lowercase name, e.g. `"avx2"`.
    pub fn name(&self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512bw",
        }
    }
}

#[inline(always)]
fn squared_l2(a: &[i8], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for (x, y) in a.iter().zip(b) {
        // Wrapping ops: the sums cannot overflow (module docs), and the dev profile's overflow
        // checks would otherwise keep the loop scalar.
        let d = i32::from(*x).wrapping_sub(i32::from(*y));
        s = s.wrapping_add(d.wrapping_mul(d));
    }
    s
}

#[inline(always)]
fn l1(a: &[i8], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for (x, y) in a.iter().zip(b) {
        s = s.wrapping_add(i32::from(*x).wrapping_sub(i32::from(*y)).wrapping_abs());
    }
    s
}

#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for (x, y) in a.iter().zip(b) {
        s = s.wrapping_add(i32::from(*x).wrapping_mul(i32::from(*y)));
    }
    s
}

#[inline(always)]
fn block(sum: Sum, rows: &[i8], probe: &[i8], out: &mut [i32]) {
    let dim = probe.len().max(1);
    let rows = rows.chunks_exact(dim);
    match sum {
        Sum::SquaredL2 => out
            .iter_mut()
            .zip(rows)
            .for_each(|(o, r)| *o = squared_l2(r, probe)),
        Sum::L1 => out
            .iter_mut()
            .zip(rows)
            .for_each(|(o, r)| *o = l1(r, probe)),
        Sum::Dot => out
            .iter_mut()
            .zip(rows)
            .for_each(|(o, r)| *o = dot(r, probe)),
    }
}

#[inline(never)]
fn block_baseline(sum: Sum, rows: &[i8], probe: &[i8], out: &mut [i32]) {
    block(sum, rows, probe, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_avx2(sum: Sum, rows: &[i8], probe: &[i8], out: &mut [i32]) {
    block(sum, rows, probe, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn block_avx512(sum: Sum, rows: &[i8], probe: &[i8], out: &mut [i32]) {
    block(sum, rows, probe, out)
}

/// `out[r] = sum(rows[r * dim..][..dim], probe)` for `r < min(out.len(), rows.len() / dim)`,
/// `dim = probe.len()` in `1..=1024`. `isa` must be one [`Isa::detect`] allows (the index only
/// holds such a value); another falls back to the baseline.
pub(crate) fn sums(isa: Isa, sum: Sum, rows: &[i8], probe: &[i8], out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if isa == Isa::Avx512 && Isa::detect() == Isa::Avx512 {
            // SAFETY: the CPU has avx512f and avx512bw (checked just above; the detection
            // macro caches its answer).
            return unsafe { block_avx512(sum, rows, probe, out) };
        }
        if isa >= Isa::Avx2 && Isa::detect() >= Isa::Avx2 {
            // SAFETY: the CPU has avx2 (checked just above).
            return unsafe { block_avx2(sum, rows, probe, out) };
        }
    }
    let _ = isa;
    block_baseline(sum, rows, probe, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamedge_format::metric::{dot_i8, l1_i8, squared_l2_i8};

    #[test]
    fn every_path_equals_the_format_crate_sums() {
        // A fixed pseudo-random matrix (xorshift), with the extremes in the first two rows.
        let dims = [1usize, 7, 31, 32, 33, 64, 128, 129, 1024];
        let mut x = 0x9e37_79b9_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8 as i8
        };
        for dim in dims {
            let rows = 5;
            let mut m: Vec<i8> = (0..rows * dim).map(|_| next()).collect();
            m[..dim].fill(127);
            m[dim..2 * dim].fill(-128);
            let mut probe: Vec<i8> = (0..dim).map(|_| next()).collect();
            probe[0] = -128;
            for isa in Isa::available() {
                for sum in [Sum::SquaredL2, Sum::L1, Sum::Dot] {
                    let mut out = vec![0i32; rows];
                    sums(isa, sum, &m, &probe, &mut out);
                    for (r, got) in out.iter().enumerate() {
                        let row = &m[r * dim..(r + 1) * dim];
                        let want = match sum {
                            Sum::SquaredL2 => squared_l2_i8(row, &probe).map(|s| s as i32),
                            Sum::L1 => l1_i8(row, &probe).map(|s| s as i32),
                            Sum::Dot => dot_i8(row, &probe),
                        };
                        assert_eq!(Ok(*got), want, "{isa:?} {sum:?} dim {dim} row {r}");
                    }
                }
            }
        }
    }
}
