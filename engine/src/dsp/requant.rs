//! The fused kernels' requantization: [`Requant::apply`](crate::kernels::requant::Requant)
//! of the maximum of a pooling window's accumulators, in about a dozen instructions, prepared
//! once per layer and inference into a per-channel table in the scratch.
//!
//! With `a = acc * 2^left`, the reference's `high = (a * m + 2^30) >> 31` equals `SMMULR(2a, m)`
//! (`(2a * m + 2^31) >> 32`) when `2a` fits in i32; its `RoundingDivideByPOT(high, right)` plus
//! the zero point equals `(high + 2^(right-1) + zp * 2^right - (high < 0)) >> right` for
//! `right >= 1` when nothing wraps. [`entry`] gives the channel's table entry only when its
//! reachable accumulators (`|acc| <= |bias| + 255 * sum |w|`) satisfy all of that: then the
//! fast form is bit for bit the reference on every accumulator the layer can produce, and it is
//! monotone (the max-then-requantize fusion holds). Otherwise the kernel uses the reference
//! [`Requant`] per channel.

use super::packed::smmulr;
use crate::kernels::requant::Requant;

/// Words per channel entry: `[bias, left + 1, multiplier, nudge, right, min, max, 0]`.
pub const WORDS: usize = 8;

/// A channel's table entry.
pub type Entry = [i32; WORDS];

/// The largest `right` shift the fast form takes (`zp * 2^right` must stay far from `2^31`).
const MAX_RIGHT: u32 = 22;

/// The entry of a channel with bias `bias`, requantization `rq` (whose own clamp is replaced by
/// `[min, max]`, `min <= max`) and accumulator bound `bound` (`|bias| + 255 * sum |w|`), or
/// `None` when the fast form is not exact on `[-bound, bound]`.
pub fn entry(bias: i32, rq: &Requant, bound: u64, min: i32, max: i32) -> Option<Entry> {
    let exact = rq.multiplier >= 0
        && (1..=MAX_RIGHT).contains(&rq.right)
        && rq.left < 30
        && (bound << (rq.left + 1)) < (1u64 << 31);
    exact.then(|| make(bias, rq, min, max))
}

/// The entry without the exactness check (the caller proved it at prepare).
#[inline(always)]
pub fn make(bias: i32, rq: &Requant, min: i32, max: i32) -> Entry {
    // Wrapping, so that an entry made without the check is wrong but never a panic.
    let nudge = 1i32
        .wrapping_shl(rq.right.wrapping_sub(1))
        .wrapping_add(rq.zero_point.wrapping_shl(rq.right));
    [
        bias,
        rq.left as i32 + 1,
        rq.multiplier,
        nudge,
        rq.right as i32,
        min,
        max,
        0,
    ]
}

/// The int8 output of accumulator `acc` for entry `e` (see the module docs).
#[inline(always)]
pub fn apply(e: &Entry, acc: i32) -> i8 {
    let high = smmulr(acc.wrapping_shl(e[1] as u32), e[2]);
    let t = high
        .wrapping_add(e[3])
        .wrapping_sub(((high as u32) >> 31) as i32);
    t.wrapping_shr(e[4] as u32).max(e[5]).min(e[6]) as i8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::requant::multiply_by_quantized_multiplier;

    /// TFLite's definition on one accumulator, clamped to int8.
    fn reference(acc: i32, m: i32, shift: i32, zp: i32) -> i8 {
        (multiply_by_quantized_multiplier(acc, m, shift) + zp).clamp(-128, 127) as i8
    }

    /// Checks every `acc` when the fast form takes the channel; whether it did.
    fn check(m: i32, shift: i32, zp: i32, bound: u64, accs: impl Iterator<Item = i32>) -> bool {
        let rq = Requant::new(m, shift, zp, -128, 127);
        let Some(e) = entry(7, &rq, bound, -128, 127) else {
            return false;
        };
        assert_eq!(e[0], 7);
        for acc in accs {
            let expected = reference(acc, m, shift, zp);
            assert_eq!(
                apply(&e, acc),
                expected,
                "acc {acc} m {m} shift {shift} zp {zp}"
            );
        }
        true
    }

    #[test]
    fn exact_on_edges_and_ties() {
        for shift in [-1, -2, -7, -8, -15, -22] {
            for m in [0, 1 << 30, (1 << 30) + 1, 1_518_500_250, i32::MAX] {
                for zp in [-128, -1, 0, 5, 127] {
                    let bound = (1u64 << 30) - 1;
                    let right = -shift as u32;
                    // Ties of both roundings: acc * m / 2^31 = k + 1/2 and high / 2^right = k + 1/2.
                    let ties = (-40..40).flat_map(|k: i32| {
                        [
                            k << right,
                            (k << right) + (1 << (right - 1)),
                            (2 * k + 1) << 14,
                        ]
                    });
                    let edges = [
                        0,
                        1,
                        -1,
                        bound as i32,
                        -(bound as i32),
                        (bound as i32) - 1,
                        1 - bound as i32,
                    ];
                    assert!(check(m, shift, zp, bound, ties.chain(edges)));
                }
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_do_exactly() {
        let rq = |m, shift| Requant::new(m, shift, 0, -128, 127);
        // No right shift (also every left shift), a bound whose double leaves i32, a negative
        // multiplier, a right shift beyond MAX_RIGHT.
        assert!(entry(0, &rq(1 << 30, 0), 1000, -128, 127).is_none());
        assert!(entry(0, &rq(1 << 30, 2), 1000, -128, 127).is_none());
        assert!(entry(0, &rq(1 << 30, -3), 1 << 30, -128, 127).is_none());
        assert!(entry(0, &rq(-(1 << 30), -3), 1000, -128, 127).is_none());
        assert!(entry(0, &rq(1 << 30, -23), 1000, -128, 127).is_none());
        assert!(entry(0, &rq(1 << 30, -3), (1 << 30) - 1, -128, 127).is_some());
        assert!(entry(0, &rq(1 << 30, -22), 1000, -128, 127).is_some());
    }

    #[test]
    fn random_channels_match_the_reference() {
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        for _ in 0..3000 {
            let m = (1 << 30) + (next() % (1 << 30)) as i32;
            let shift = (next() % 40) as i32 - 30;
            let zp = (next() % 256) as i32 - 128;
            let bound = next() % (1 << (next() % 31));
            let accs: Vec<i32> = (0..50)
                .map(|_| (next() % (2 * bound + 1)) as i32 - bound as i32)
                .collect();
            checked += usize::from(check(m, shift, zp, bound, accs.into_iter()));
        }
        assert!(checked > 1000, "only {checked} channels took the fast form");
    }
}
