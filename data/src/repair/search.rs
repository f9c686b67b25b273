//! Choosing which CR LF pairs of an ambiguous damaged file are original pixels: exhaustive search
//! when the candidates are few, beam search and local refinement otherwise, all scored by the sum
//! of absolute vertical differences (see the parent module's docs).

use super::{Ambiguity, Resolution, EXHAUSTIVE_CAP};

/// Sum of absolute vertical differences of a row-major image `width` pixels wide.
pub fn vertical_cost(pixels: &[u8], width: usize) -> u64 {
    if width == 0 {
        return 0;
    }
    pixels
        .iter()
        .skip(width)
        .zip(pixels)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum()
}

/// `C(n, k)`, saturating at `u64::MAX`.
pub fn binomial(n: usize, k: usize) -> u64 {
    let k = k.min(n - k.min(n));
    let mut c: u128 = 1;
    for i in 0..k {
        c = c * (n - i) as u128 / (i + 1) as u128;
        if c > u64::MAX as u128 {
            return u64::MAX;
        }
    }
    c as u64
}

/// Copies `px` into `out`, dropping the CR of every pair whose `keep` flag is false.
pub(super) fn decode(px: &[u8], pairs: &[usize], keep: &[bool], out: &mut Vec<u8>) {
    out.clear();
    let mut start = 0;
    for (&p, &k) in pairs.iter().zip(keep) {
        if !k {
            out.extend_from_slice(&px[start..p]);
            start = p + 1;
        }
    }
    out.extend_from_slice(&px[start..]);
}

pub(super) fn resolve(
    px: &[u8],
    pairs: &[usize],
    kept: usize,
    width: usize,
    exhaustive_limit: u64,
    keep: &mut [bool],
    pixels: &mut Vec<u8>,
) -> Ambiguity {
    let candidates = binomial(pairs.len(), kept);
    let resolution = if candidates <= exhaustive_limit.min(EXHAUSTIVE_CAP) {
        let mut choice: Vec<usize> = (0..kept).collect();
        let mut best: Option<(u64, Vec<usize>)> = None;
        let mut runner_up: Option<u64> = None;
        loop {
            keep.iter_mut().for_each(|k| *k = false);
            choice.iter().for_each(|&c| keep[c] = true);
            decode(px, pairs, keep, pixels);
            let cost = vertical_cost(pixels, width);
            match &best {
                Some((b, _)) if cost >= *b => {
                    runner_up = Some(runner_up.map_or(cost, |r| r.min(cost)))
                }
                _ => {
                    runner_up = best.as_ref().map(|(b, _)| *b);
                    best = Some((cost, choice.clone()));
                }
            }
            if !next_combination(&mut choice, pairs.len()) {
                break;
            }
        }
        keep.iter_mut().for_each(|k| *k = false);
        best.into_iter()
            .flat_map(|(_, c)| c)
            .for_each(|c| keep[c] = true);
        Resolution::Exhaustive {
            runner_up_cost: runner_up,
        }
    } else {
        beam_search(px, pairs, kept, width, keep, pixels);
        Resolution::Beam
    };
    decode(px, pairs, keep, pixels);
    let mut dropped = 0;
    let mut kept_at = Vec::with_capacity(kept);
    for (&p, &k) in pairs.iter().zip(keep.iter()) {
        if k {
            kept_at.push(p - dropped);
        } else {
            dropped += 1;
        }
    }
    Ambiguity {
        pairs: pairs.len(),
        kept,
        kept_at,
        candidates,
        cost: vertical_cost(pixels, width),
        resolution,
    }
}

/// Advances `c` (strictly increasing indices below `n`) to the next combination in lexicographic
/// order; false after the last.
fn next_combination(c: &mut [usize], n: usize) -> bool {
    let k = c.len();
    for i in (0..k).rev() {
        if c[i] < n - k + i {
            c[i] += 1;
            for j in i + 1..k {
                c[j] = c[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// Width of the beam search.
pub const BEAM: usize = 64;

/// A partial choice in the beam search: decisions for the first pairs, the pixels they produce
/// and the vertical cost of those pixels.
struct Hypothesis {
    keep: Vec<bool>,
    out: Vec<u8>,
    cost: u64,
    kept: usize,
}

fn beam_search(
    px: &[u8],
    pairs: &[usize],
    kept: usize,
    width: usize,
    keep: &mut [bool],
    pixels: &mut Vec<u8>,
) {
    let first = pairs.first().copied().unwrap_or(px.len());
    let out = px[..first].to_vec();
    let cost = range_cost(&out, width, 0);
    let mut beam = vec![Hypothesis {
        keep: Vec::with_capacity(pairs.len()),
        out,
        cost,
        kept: 0,
    }];
    for j in 0..pairs.len() {
        let end = pairs.get(j + 1).copied().unwrap_or(px.len());
        let left_after = pairs.len() - j - 1;
        let mut next = Vec::with_capacity(2 * beam.len());
        for h in &beam {
            for choice in [false, true] {
                let k = h.kept + usize::from(choice);
                if k > kept || kept - k > left_after {
                    continue;
                }
                let mut out = Vec::with_capacity(px.len());
                out.extend_from_slice(&h.out);
                let from = out.len();
                if choice {
                    out.push(b'\r');
                }
                out.extend_from_slice(&px[pairs[j] + 1..end]);
                let cost = h.cost + range_cost(&out, width, from);
                let mut decisions = h.keep.clone();
                decisions.push(choice);
                next.push(Hypothesis {
                    keep: decisions,
                    out,
                    cost,
                    kept: k,
                });
            }
        }
        let common = end - (j + 1);
        next.sort_by_cached_key(|h| h.cost - range_cost(&h.out, width, common));
        next.truncate(BEAM);
        beam = next;
    }
    if let Some(best) = beam.into_iter().next() {
        keep.copy_from_slice(&best.keep);
    }
    refine(px, pairs, width, keep, pixels);
}

/// Vertical differences of `pixels[from..]`, counting only pixels that have a row above.
fn range_cost(pixels: &[u8], width: usize, from: usize) -> u64 {
    (from.max(width)..pixels.len())
        .map(|i| u64::from(pixels[i].abs_diff(pixels[i - width])))
        .sum()
}

/// Local search after the beam search: swaps the decisions of a kept and a dropped pair less than
/// two rows apart whenever that lowers the total vertical cost, until no swap does.
fn refine(px: &[u8], pairs: &[usize], width: usize, keep: &mut [bool], pixels: &mut Vec<u8>) {
    decode(px, pairs, keep, pixels);
    let mut cost = vertical_cost(pixels, width);
    let mut improved = true;
    while improved {
        improved = false;
        for a in 0..pairs.len() {
            for b in a + 1..pairs.len() {
                if pairs[b] - pairs[a] > 2 * width {
                    break;
                }
                if keep[a] == keep[b] {
                    continue;
                }
                keep.swap(a, b);
                decode(px, pairs, keep, pixels);
                let c = vertical_cost(pixels, width);
                if c < cost {
                    cost = c;
                    improved = true;
                } else {
                    keep.swap(a, b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials() {
        assert_eq!(binomial(13, 1), 13);
        assert_eq!(binomial(10, 9), 10);
        assert_eq!(binomial(40, 20), 137_846_528_820);
        assert_eq!(binomial(5, 0), 1);
        assert_eq!(binomial(3, 5), 1);
        assert_eq!(binomial(2000, 1000), u64::MAX);
    }
}
