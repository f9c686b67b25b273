//! The activation arena: one statically sized, 8-byte aligned buffer that holds every activation
//! tensor (and the DSP kernels' scratch) while a model runs.
//!
//! Its size is a const generic, so the RAM a model needs is visible in the binary's `.bss` and
//! checked when the [`Engine`](super::Engine) is built: a model that needs more is
//! [`EngineError::ArenaTooSmall`](super::EngineError::ArenaTooSmall), never an overrun.
//!
//! ```
//! use siamedge_engine::Arena;
//! // In firmware: `static mut` or a cell, e.g. `static ARENA: StaticCell<Arena<65536>>`.
//! let mut arena = Arena::<4096>::new();
//! assert_eq!(arena.len(), 4096);
//! assert_eq!(arena.as_mut_slice().as_ptr() as usize % 8, 0);
//! ```

/// `N` bytes of activation memory, 8-byte aligned. `Arena::new()` is a `const fn`, so an arena
/// can live in a `static` (placed in `.bss`, zero-initialized by the runtime).
#[repr(C, align(8))]
pub struct Arena<const N: usize> {
    bytes: [i8; N],
}

impl<const N: usize> Arena<N> {
    /// A zeroed arena.
    pub const fn new() -> Self {
        Self { bytes: [0; N] }
    }

    /// Its size in bytes, `N`.
    pub const fn len(&self) -> usize {
        N
    }

    /// Whether `N` is 0.
    pub const fn is_empty(&self) -> bool {
        N == 0
    }

    /// The whole buffer.
    pub fn as_mut_slice(&mut self) -> &mut [i8] {
        &mut self.bytes
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for Arena<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Arena<{N}>")
    }
}
