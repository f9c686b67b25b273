//! Shared by the integration tests that need fetched data (`siamedge-train data fetch`, cached in
//! `$SIAMEDGE_DATA` or `~/.cache/siamedge`): a data set that cannot be loaded skips the test with a
//! message (and a line in `$SIAMEDGE_SKIP_LOG`, which `scripts/test.sh --quick` counts), unless
//! `SIAMEDGE_REQUIRE_DATA=1` (the strict `scripts/test.sh`, CI), where the test fails. The same
//! rule and log line as `siamedge_tests::skip` and the trainer's tests, which this crate cannot
//! depend on (they depend on it).
#![allow(dead_code)]

use std::fmt::Display;
use std::io::Write;

use siamedge_data::DataCache;

/// `Some(value)`, or `None` after printing why `what` is missing; panics instead when
/// `SIAMEDGE_REQUIRE_DATA=1`.
pub fn or_skip<T, E: Display>(what: &str, loaded: Result<T, E>) -> Option<T> {
    match loaded {
        Ok(v) => Some(v),
        Err(e) if std::env::var("SIAMEDGE_REQUIRE_DATA").as_deref() == Ok("1") => {
            panic!("SIAMEDGE_REQUIRE_DATA=1 but {what} is not loadable: {e}")
        }
        Err(e) => {
            let reason = format!("{what} is not cached ({e}); run `siamedge-train data fetch`");
            eprintln!("skipping: {reason}");
            // One line in one append-mode write, so lines from parallel tests do not interleave.
            if let Some(path) = std::env::var_os("SIAMEDGE_SKIP_LOG") {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = f.write_all(format!("{reason}\n").as_bytes());
                }
            }
            None
        }
    }
}

/// The cache folder, when one can be named.
pub fn cache() -> Option<DataCache> {
    or_skip("the data cache", DataCache::from_env())
}
