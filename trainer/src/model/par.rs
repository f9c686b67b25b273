//! How the trainer's own CPU kernels split work across candle's thread count.
//!
//! Every kernel that uses this splits its output into pieces whose values do not depend on how the
//! pieces are scheduled (an image, a channel range, a fixed block of rows), and combines partial
//! sums in piece order afterwards, so the bits are the same at any thread count.

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
