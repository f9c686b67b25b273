//! `siamedge-train bench` as `scripts/bench-train.sh` runs it, for a couple of steps: the shipped
//! recipe from its config file, the phase split and peak RSS in the JSON, a peer of another thread
//! count refused, a missing config named.

use std::path::{Path, PathBuf};
use std::process::Command;

fn recipe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl/train.toml")
}

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_siamedge-train"))
        .args(["bench", "--steps", "2", "--warmup", "1", "--threads", "1"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn benches_the_shipped_recipe_with_the_phase_split() {
    let out = bench(&["--config", recipe().to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["candle"];
    // models/face-orl/train.toml: P x K = 8 x 8.
    assert_eq!(c["batch"], 64);
    assert!(c["recipe"].as_str().unwrap().ends_with("train.toml"));
    let phases = &c["phase_ms"];
    for p in ["data", "forward", "backward", "optimizer"] {
        assert!(phases[p].as_f64().unwrap() > 0.0, "{p}: {phases}");
    }
    assert!(c["peak_rss_mib"].as_f64().unwrap() > 1.0);
    assert!(c["mean_loss"].as_f64().unwrap().is_finite());
}

#[test]
fn a_peer_of_another_run_and_a_missing_config_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let peer = dir.path().join("peer.json");
    std::fs::write(
        &peer,
        r#"{"framework":"pytorch","version":"2","threads":2,"batch":64,"steps":2,
            "images_per_second":100.0,"median_ms_per_step":640.0,"mean_loss":1.0}"#,
    )
    .unwrap();
    let out = bench(&[
        "--config",
        recipe().to_str().unwrap(),
        "--peer",
        peer.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 thread(s)") && err.contains("not the same run"),
        "{err}"
    );
    let out = bench(&["--config", "no/such/recipe.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/recipe.toml"));
}

/// The trainer's own kernels split work into pieces whose sums do not depend on the schedule
/// (images, channel ranges, fixed row blocks, partials added in order), and gemm splits only
/// rows and columns: the same steps at one and at two threads give the same loss, bit for bit.
#[test]
fn the_loss_is_the_same_at_one_and_two_threads() {
    let loss = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_siamedge-train"))
            .args([
                "bench",
                "--steps",
                "2",
                "--warmup",
                "1",
                "--threads",
                threads,
            ])
            .args(["--config", recipe().to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["candle"]["mean_loss"].as_f64().unwrap()
    };
    let (one, two) = (loss("1"), loss("2"));
    assert_eq!(
        one.to_bits(),
        two.to_bits(),
        "1 thread {one}, 2 threads {two}"
    );
}
