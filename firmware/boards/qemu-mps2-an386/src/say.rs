//! Where the report goes: text over semihosting by default, defmt frames with the `defmt`
//! feature.
//!
//! [`say!`] takes a format string that both `core::fmt` and defmt accept (`{}`, `{:?}`,
//! `{:#010x}`) and arguments that are both `Display` and `defmt::Format` (integers, `str`, and
//! the wrappers in [`crate::report`]). Without the feature it is `hprintln!`: one line of text per
//! call on QEMU's stdout. With it, it is `defmt::println!`: the format string stays in the ELF's
//! `.defmt` section, the board sends an index and the arguments' bytes, and the global logger
//! (`defmt-semihosting`) writes the encoded frames to semihosting stdout; `defmt-print -e ELF`
//! turns them back into the same lines.
//!
//! When not: with the feature on, nothing else may write to semihosting stdout (`hprintln!`,
//! `hio::hstdout`): text between frames corrupts the stream. Every line of the board goes
//! through here for that reason.

/// One report line: `hprintln!` (text) or, with the `defmt` feature, `defmt::println!` (frames).
#[cfg(not(feature = "defmt"))]
macro_rules! say {
    ($($arg:tt)*) => {
        cortex_m_semihosting::hprintln!($($arg)*)
    };
}

/// One report line: `hprintln!` (text) or, with the `defmt` feature, `defmt::println!` (frames).
#[cfg(feature = "defmt")]
macro_rules! say {
    ($($arg:tt)*) => {
        defmt::println!($($arg)*)
    };
}

pub(crate) use say;

// The global logger: defmt frames to semihosting stdout (SYS_WRITE), under a critical section.
#[cfg(feature = "defmt")]
use defmt_semihosting as _;
