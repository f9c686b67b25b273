//! Leaving QEMU with a status: success, a failed check, or a fault.
//!
//! QEMU (`-semihosting-config enable=on,target=native`) turns the semihosting call
//! `SYS_EXIT_EXTENDED` with reason `ADP_Stopped_ApplicationExit` into its own process exit status,
//! so the integration test and the bench script read the verdict from QEMU's exit code.
//!
//! Panics and every fault end here too: a Cortex-M that panics into a HardFault loop would
//! otherwise hang QEMU until a timeout, with nothing said.

use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};

use crate::report::Text;
use crate::say::say;

/// Why the board stopped; the discriminant is QEMU's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum Status {
    /// Every embedding and decision matched the host's.
    Pass = 0,
    /// An embedding or a decision differed from the host's.
    Mismatch = 1,
    /// The model or the vectors were refused (decode or engine error).
    BadInput = 2,
    /// A Rust panic.
    Panic = 3,
    /// A HardFault (or a fault escalated to it).
    HardFault = 4,
    /// An exception or interrupt without a handler.
    Unexpected = 5,
}

/// `ADP_Stopped_ApplicationExit`: the reason that carries an exit code.
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
/// The semihosting operation `SYS_EXIT_EXTENDED` (semihosting v2): exit with a reason and a code.
const SYS_EXIT_EXTENDED: usize = 0x20;

/// Ends the program: QEMU exits with `status as u32`.
pub fn exit(status: Status) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, status as usize];
    // SAFETY: SYS_EXIT_EXTENDED reads the two words (reason, code) at the pointer it is given,
    // which `block` provides for the duration of the call; under QEMU it does not return.
    unsafe {
        cortex_m_semihosting::syscall(SYS_EXIT_EXTENDED, &block);
    }
    // Without a debugger or QEMU the call may return: stop here.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Set by the first panic: a panic while reporting one (say, in the logger) exits at once.
static PANICKED: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if PANICKED.swap(true, Ordering::Relaxed) {
        exit(Status::Panic)
    }
    say!("panic: {}", Text(info));
    say!("result: FAIL (panic)");
    exit(Status::Panic)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // SAFETY: reading the System Control Block's fault status registers has no side effect.
    let scb = unsafe { &*cortex_m::peripheral::SCB::PTR };
    say!(
        "hardfault: pc {:#010x} lr {:#010x} hfsr {:#010x} cfsr {:#010x}",
        frame.pc(),
        frame.lr(),
        scb.hfsr.read(),
        scb.cfsr.read()
    );
    say!("result: FAIL (hardfault)");
    exit(Status::HardFault)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    say!("unexpected exception or interrupt {}", irqn);
    say!("result: FAIL (unexpected exception)");
    exit(Status::Unexpected)
}
