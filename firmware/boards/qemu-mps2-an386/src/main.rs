//! siamedge on an emulated Cortex-M4F (QEMU `mps2-an386`): runs the int8 engine on the embedded
//! model and test images, enrolls a subject, verifies a genuine and an impostor capture, and
//! exits with status 0 only if every embedding and decision equals the host's.
//!
//! What it prints over semihosting (one fact per line, `key: ...`; the `bench:` line is for
//! `scripts/bench-firmware.sh`): the model and vectors, each image's embedding check and
//! instruction count, each verdict next to the host's, the stack peak, and `result: PASS` or
//! `result: FAIL (...)`. Exit statuses: [`exit::Status`]. With the `defmt` feature the same lines
//! leave as defmt frames instead of text, for `defmt-print -e ELF` to decode (see [`say`]).
//!
//! The model and vectors come from `build.rs` (`SIAMEDGE_BOARD_MODEL`, `SIAMEDGE_BOARD_VECTORS`).
//! Instruction counts are exact only under `qemu-system-arm -icount shift=0` (see [`clock`]).
#![no_std]
#![no_main]

mod clock;
mod exit;
mod profile;
mod report;
mod run;
mod say;
mod stack;

use cortex_m_rt::entry;
use siamedge_firmware::engine::Arena;

use crate::exit::{exit, Status};
use crate::say::say;

/// The model and vectors chosen by `build.rs`, and the model's arena size.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

/// Iterations of the calibration loop (2 instructions each).
const CALIBRATION_LOOPS: u32 = 1_000_000;

/// The kernels compiled in.
const KERNELS: &str = if cfg!(feature = "dsp") {
    "dsp"
} else {
    "reference"
};

/// Activation memory, sized by `build.rs` for the embedded model (in `.bss`).
static mut ARENA: Arena<{ embedded::ARENA_BYTES }> = Arena::new();

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        exit(Status::Unexpected)
    };
    let clock = clock::Clock::start(peripherals.SYST);
    let calibration = clock.calibrate(CALIBRATION_LOOPS);
    say!(
        "siamedge board qemu-mps2-an386 (Cortex-M4F), kernels {}, SysTick {} instructions per tick (40 under -icount shift=0)",
        KERNELS,
        calibration.per_tick()
    );
    selftest();

    // SAFETY: the only reference to ARENA ever made, here, before anything else can run.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let outcome = run::run(
        embedded::MODEL,
        embedded::VECTORS,
        arena,
        &clock,
        calibration,
    );
    let stack = stack::high_water();
    say!(
        "stack: peak {} B of {} B between the statics and the top of RAM",
        stack.peak,
        stack.size
    );
    if let Some(m) = outcome.measured {
        say!(
            "bench: kernels={} macs={} passes={} inferences={} instructions_min={} instructions_max={} instructions_total={} stack_peak={} arena={} ticks_per_calibration={}",
            KERNELS,
            m.macs,
            m.passes,
            m.inferences,
            m.min,
            m.max,
            m.total,
            stack.peak,
            embedded::ARENA_BYTES,
            calibration.ticks
        );
    }
    match outcome.status {
        Status::Pass => say!("result: PASS"),
        other => say!("result: FAIL ({:?})", other),
    }
    exit(outcome.status)
}

/// With `selftest-panic` or `selftest-hardfault`, ends the run the way those features name, to
/// prove that both reach QEMU's exit status instead of hanging it.
fn selftest() {
    #[cfg(feature = "selftest-panic")]
    {
        let n = core::hint::black_box(3usize);
        let table = [1u8, 2, 3];
        say!("selftest: indexing past the end of a table");
        say!("{}", table[n]);
    }
    #[cfg(feature = "selftest-hardfault")]
    {
        say!("selftest: reading unmapped memory");
        // SAFETY: deliberately faults: 0xF000_0000 is not mapped on mps2-an386. The read raises a
        // BusFault, which escalates to HardFault (BusFault is not enabled).
        let v = unsafe { core::ptr::read_volatile(0xF000_0000 as *const u32) };
        say!("read {}", v);
    }
}
