//! How the trainer's own CPU kernels split work across candle's thread count.
//!
//! Every kernel that uses this splits its output into pieces whose values do not depend on how the
//! pieces are scheduled (an image, a channel range, a fixed block of rows), and combines partial
//! sums in piece order afterwards, so the bits are the same at any thread count.

use rayon::prelude::*;

/// The `with_min_len` for a rayon iterator over pieces: 1 (any split) when candle's thread count
/// (`RAYON_NUM_THREADS`, `candle_core::utils::get_num_threads`) is above one, else one job for
/// all pieces.
pub(crate) fn min_len() -> usize {
    if candle_core::utils::get_num_threads() > 1 {
        1
    } else {
        usize::MAX
    }
}

/// `len` copies of `value`, written in pieces on candle's threads: what `vec![value; len]` gives,
/// without a serial fill (or calloc's memset) of megabytes on the calling thread.
pub(crate) fn par_filled<T: Copy + Send + Sync>(len: usize, value: T) -> Vec<T> {
    const PIECE: usize = 1 << 16;
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(PIECE)
        .with_min_len(min_len())
        .for_each(|piece| {
            for slot in piece {
                slot.write(value);
            }
        });
    // SAFETY: the loop above wrote all `len` values.
    unsafe { v.set_len(len) };
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn par_filled_is_vec_of_the_value() {
        for len in [0, 1, 65_535, 65_536, 200_001] {
            assert_eq!(super::par_filled(len, 7u32), vec![7u32; len]);
        }
    }
}
