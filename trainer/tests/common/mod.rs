//! Shared by the integration tests that need fetched data (`siamedge-train data fetch`, cached in
//! `$SIAMEDGE_DATA` or `~/.cache/siamedge`): a data set that cannot be loaded skips the test with a
//! message (and a line in `$SIAMEDGE_SKIP_LOG`, which `scripts/test.sh --quick` counts), unless
//! `SIAMEDGE_REQUIRE_DATA=1` (the strict `scripts/test.sh`, CI), where the test fails.
#![allow(dead_code)]

use std::fmt::Display;

use siamedge_trainer::data::{DataCache, DataSet, Mnist, OrlFaces};

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
            // `scripts/test.sh --quick` counts the skips from this log (one line each).
            if let Some(path) = std::env::var_os("SIAMEDGE_SKIP_LOG") {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = std::io::Write::write_all(&mut f, format!("{reason}\n").as_bytes());
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

/// The repaired ORL faces from the cache.
pub fn orl() -> Option<OrlFaces> {
    or_skip("ORL", OrlFaces::load(&cache()?))
}

/// MNIST from the cache.
pub fn mnist() -> Option<Mnist> {
    or_skip("MNIST", Mnist::load(&cache()?, DataSet::Mnist))
}

/// The face-api.js networks from the cache (files re-checked against their pins).
pub fn faceapi() -> Option<siamedge_trainer::faceapi::FaceApi> {
    or_skip(
        "the face-api weights",
        siamedge_trainer::faceapi::FaceApi::load(&cache()?, &candle_core::Device::Cpu),
    )
}
