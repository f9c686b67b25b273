//! Stack high-water mark by painting.
//!
//! cortex-m-rt's `paint-stack` feature fills everything between `_stack_end` (the end of the
//! statics) and `_stack_start` (the top of RAM) with `0xCCCC_CCCC` before `main`. The stack grows
//! down from the top; the lowest word that no longer holds the paint marks the deepest the stack
//! has been. A frame that reserves space it never writes is not seen, so the figure is a lower
//! bound on the true peak (tight in practice: locals are written).

use cortex_m_rt::heap_start;

extern "C" {
    static _stack_start: u32;
}

/// The word `paint-stack` writes.
const PAINT: u32 = cortex_m_rt::STACK_PAINT_VALUE;

/// Stack use seen so far.
#[derive(Debug, Clone, Copy)]
pub struct StackUse {
    /// Deepest use, bytes below the top of RAM.
    pub peak: usize,
    /// Bytes between the end of the statics and the top of RAM.
    pub size: usize,
}

/// Scans the painted region from its bottom for the first word that is not paint.
pub fn high_water() -> StackUse {
    let bottom = heap_start() as usize;
    // Only the symbol's address is taken; the linker places it at the top of RAM.
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut at = bottom;
    while at < top {
        // SAFETY: `bottom..top` is RAM owned by the stack region, word-aligned (cortex-m-rt's
        // linker script asserts it); a volatile read of it has no side effect.
        if unsafe { core::ptr::read_volatile(at as *const u32) } != PAINT {
            break;
        }
        at += 4;
    }
    StackUse {
        peak: top - at,
        size: top - bottom,
    }
}
