//! Instruction counts from SysTick, exact under QEMU's `-icount shift=0`.
//!
//! With `-icount shift=0`, QEMU's virtual clock advances one nanosecond per guest instruction,
//! and the mps2-an386 SysTick counts the 25 MHz CPU clock: one tick per 40 instructions. SysTick
//! is a 24-bit down-counter, so [`Clock`] reloads it at its maximum and counts the wraps in the
//! SysTick exception; [`Clock::ticks`] is then a 64-bit tick count. [`Clock::calibrate`] runs a
//! loop of known length (two instructions per iteration) to find the instructions per tick
//! instead of assuming it.
//!
//! When not: without `-icount`, QEMU's virtual clock follows the host's wall clock and the
//! counts mean nothing (the calibration then shows a ratio other than 40). On real silicon
//! SysTick counts cycles, not instructions.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

/// The largest 24-bit reload: one wrap every 2^24 ticks.
const RELOAD: u32 = 0x00FF_FFFF;

/// SysTick wraps since [`Clock::start`].
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// A running SysTick with wrap counting.
pub struct Clock {
    _syst: SYST,
}

/// Instructions per SysTick tick, measured: `instructions / ticks` over a known loop.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    /// Instructions the loop executed.
    pub instructions: u64,
    /// Ticks it took.
    pub ticks: u64,
}

impl Calibration {
    /// Instructions for `ticks` ticks, rounded to the nearest.
    pub fn instructions(&self, ticks: u64) -> u64 {
        if self.ticks == 0 {
            return 0;
        }
        (ticks * self.instructions + self.ticks / 2) / self.ticks
    }

    /// Instructions per tick, rounded (40 under `-icount shift=0` on this machine).
    pub fn per_tick(&self) -> u64 {
        self.instructions(1)
    }
}

impl Clock {
    /// Starts SysTick from the CPU clock, reload at the maximum, wrap interrupt on.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        // The current value reads 0 until the first tick loads the reload value (no wrap
        // interrupt for that one): wait for it, or the first reading would be 2^24 - 1 ticks
        // ahead of the next.
        while SYST::get_current() == 0 {}
        Self { _syst: syst }
    }

    /// Ticks since [`Clock::start`].
    pub fn ticks(&self) -> u64 {
        loop {
            let wraps = WRAPS.load(Ordering::SeqCst);
            let current = SYST::get_current();
            // A wrap between the two reads moves `WRAPS`: read again.
            if WRAPS.load(Ordering::SeqCst) == wraps {
                return u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
            }
        }
    }

    /// Times `iterations` passes of a two-instruction loop (`subs`, `bne`).
    pub fn calibrate(&self, iterations: u32) -> Calibration {
        let before = self.ticks();
        // SAFETY: a register-only countdown loop; touches no memory and no stack.
        unsafe {
            core::arch::asm!(
                "2:",
                "subs {n}, {n}, #1",
                "bne 2b",
                n = inout(reg) iterations => _,
                options(nomem, nostack),
            );
        }
        let after = self.ticks();
        Calibration {
            instructions: 2 * u64::from(iterations),
            ticks: after - before,
        }
    }
}
