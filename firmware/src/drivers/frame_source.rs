//! The camera abstraction the verifier reads frames through.

/// A source of grey frames: `height` rows of `width` u8 pixels, row-major, no padding.
///
/// [`capture`](FrameSource::capture) blocks until a whole frame is in the caller's buffer, which
/// must hold exactly [`frame_len`](FrameSource::frame_len) bytes (a typed error otherwise). The
/// frame then goes to [`preprocess`](crate::preprocess) (crop, resize) through
/// [`Gray::new`](crate::preprocess::Gray::new).
pub trait FrameSource {
    /// What can go wrong: a bus error, a timeout, a wrong buffer.
    type Error;

    /// Columns of every frame, `>= 1`.
    fn width(&self) -> u16;

    /// Rows of every frame, `>= 1`.
    fn height(&self) -> u16;

    /// Bytes of one frame, `width * height`.
    fn frame_len(&self) -> usize {
        usize::from(self.width()) * usize::from(self.height())
    }

    /// Captures one frame into `out` (`frame_len()` bytes).
    fn capture(&mut self, out: &mut [u8]) -> Result<(), Self::Error>;
}
