//! The binary's allocator settings.
//!
//! A training step allocates the same few dozen tensors every time (activations and gradients of
//! up to ~10 MiB each at batch 64) and frees them at its end. glibc's defaults return such blocks
//! to the kernel (blocks above the mmap threshold are unmapped on free; the heap's top is trimmed
//! past 128 KiB), so the next step maps them again and takes a page fault for every 4 KiB it
//! touches: `perf` put 18 % of a one-thread step of the shipped face recipe in the kernel, most
//! of it there. Keeping freed memory in the heap makes the next step reuse it; peak memory grows
//! by a few MiB (the heap keeps what it held at its peak).

/// Raise glibc's mmap threshold to its maximum (32 MiB on 64-bit targets) and its trim threshold to
/// 1 GiB, so freed tensors stay in the process for the next step. Call before any thread starts.
/// A no-op off glibc (musl, macOS, Windows: their allocators are left as they are).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; it is called from main before
    // any other thread exists. A refused value (return 0) leaves glibc's default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
