//! How a cross-crate test skips when its data or tool is missing, and how it refuses to.
//!
//! A test that needs the fetched data or a tool asks here. Without it the test skips: it says why on
//! stderr and appends one line to the file named by `SIAMEDGE_SKIP_LOG` (set by `scripts/test.sh
//! --quick`, which counts them). Under `SIAMEDGE_REQUIRE_DATA=1` / `SIAMEDGE_REQUIRE_QEMU=1` (the
//! strict `scripts/test.sh`, and CI) the same absence fails the test instead.

use std::fmt::Display;
use std::io::Write;

/// Whether `SIAMEDGE_REQUIRE_DATA=1`: missing data fails tests instead of skipping them.
pub fn data_required() -> bool {
    std::env::var("SIAMEDGE_REQUIRE_DATA").as_deref() == Ok("1")
}

/// Whether `SIAMEDGE_REQUIRE_QEMU=1`: a missing QEMU or `defmt-print` fails tests.
pub fn qemu_required() -> bool {
    std::env::var("SIAMEDGE_REQUIRE_QEMU").as_deref() == Ok("1")
}

/// Records that the calling test skips, and why (stderr, and a line in `SIAMEDGE_SKIP_LOG`).
pub fn skipped(reason: impl Display) {
    eprintln!("skipping: {reason}");
    if let Some(path) = std::env::var_os("SIAMEDGE_SKIP_LOG") {
        // One short line in one append-mode write, so lines from parallel tests do not interleave;
        // a log that cannot be written only loses the count, never the test's verdict.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{reason}\n").as_bytes());
        }
    }
}

/// `Some(value)`, or `None` after recording the skip (`what` could not be loaded: `error`); panics
/// instead when [`data_required`].
pub fn or_skip_data<T, E: Display>(what: &str, loaded: Result<T, E>) -> Option<T> {
    match loaded {
        Ok(v) => Some(v),
        Err(e) if data_required() => {
            panic!("SIAMEDGE_REQUIRE_DATA=1 but {what} is not loadable: {e}")
        }
        Err(e) => {
            skipped(format_args!(
                "{what} is not cached ({e}); run `siamedge-train data fetch`"
            ));
            None
        }
    }
}
