//! The `siamedge` binary on bad input: every broken image, model, store and gallery file gives a
//! non-zero exit and a message on stderr naming the file, never a panic, and the store's bytes
//! stay as they were. Also: `--help` lists every subcommand, `--json` parses on every command,
//! and a REJECT decision exits 0.
#![cfg(all(feature = "cli", feature = "service"))]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// PNG chunks use CRC-32/ISO-HDLC, the one the format crate implements.
use siamedge_format::crc::crc32;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const OTHER_KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// A scratch folder with a key file and a store enrolled with subjects 1 and 2.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), KEY).unwrap();
        std::fs::write(dir.path().join("other.key"), OTHER_KEY).unwrap();
        for (i, seed) in [(1u32, 3u32), (2, 11)] {
            std::fs::write(dir.path().join(format!("face{i}.png")), face(seed)).unwrap();
        }
        let f = Fixture { dir };
        for subject in ["1", "2"] {
            let out = f.run(&[
                "enroll",
                "--store",
                &f.s("store.db"),
                "--subject",
                subject,
                &f.s(&format!("face{subject}.png")),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        f
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.p(name).display().to_string()
    }

    /// `siamedge --model models/face-orl --key-file KEY args...`.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_siamedge"));
        cmd.arg("--model")
            .arg(models().join("face-orl"))
            .arg("--key-file")
            .arg(self.p("key"))
            .args(args)
            .env_remove("SIAMEDGE_KEY")
            .env_remove("SIAMEDGE_STORE")
            .env_remove("SIAMEDGE_MODEL");
        cmd.output().unwrap()
    }

    /// The bytes of every file of the store (the database and any journal beside it).
    fn store_bytes(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("store.db"))
            })
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    }
}

/// A 46 x 56 grey PNG: a smooth pattern that differs with `seed`.
fn face(seed: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(46, 56, |x, y| {
        let v = (x * seed + y * (seed % 7 + 1) + (x * y) % (seed + 5)) % 256;
        image::Luma([v as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A non-zero exit whose stderr names `name` and holds no panic.
fn refused(out: &Output, name: &str, what: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "{what}: exit 0; stdout {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        err.contains(name),
        "{what}: stderr does not name {name}: {err}"
    );
}

fn json(out: &Output, what: &str) -> serde_json::Value {
    assert!(out.status.success(), "{what}: {}", stderr(out));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// A truncated PNG, a garbage JPEG, an empty PGM, a text file named .png, and a PNG header
/// claiming 100,000 x 100,000 pixels.
fn bad_images(f: &Fixture) -> Vec<String> {
    let good = face(3);
    let mut bomb = good[..16].to_vec();
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&good[24..]);
    // Fix the IHDR CRC so the decoder reads the dimensions.
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
    jpeg.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    let cases: [(&str, Vec<u8>); 5] = [
        ("truncated.png", good[..good.len() / 2].to_vec()),
        ("garbage.jpg", jpeg),
        ("empty.pgm", Vec::new()),
        ("notes.png", b"this is a text file\n".to_vec()),
        ("bomb.png", bomb),
    ];
    cases
        .into_iter()
        .map(|(name, bytes)| {
            std::fs::write(f.p(name), bytes).unwrap();
            name.to_string()
        })
        .collect()
}

#[test]
fn help_lists_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_siamedge"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "demo", "compare", "enroll", "verify", "identify", "gallery", "inspect", "bench", "serve",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing from --help:\n{text}"
        );
    }
}

#[test]
fn bad_images_are_refused_by_every_command_and_the_store_is_unchanged() {
    let f = Fixture::new();
    let before = f.store_bytes();
    assert!(!before.is_empty());
    for name in bad_images(&f) {
        let img = f.s(&name);
        let store = f.s("store.db");
        let good = f.s("face1.png");
        let runs: [(&str, Vec<&str>); 5] = [
            ("compare", vec!["compare", &good, &img]),
            (
                "enroll",
                vec!["enroll", "--store", &store, "--subject", "3", &img],
            ),
            (
                "enroll --replace",
                vec![
                    "enroll",
                    "--store",
                    &store,
                    "--subject",
                    "1",
                    "--replace",
                    &good,
                    &img,
                ],
            ),
            (
                "verify",
                vec!["verify", "--store", &store, "--subject", "1", &img],
            ),
            ("identify", vec!["identify", "--store", &store, &img]),
        ];
        for (what, args) in runs {
            refused(&f.run(&args), &name, &format!("{what} {name}"));
            assert_eq!(f.store_bytes(), before, "{what} {name} changed the store");
        }
        if name == "bomb.png" {
            let out = f.run(&["compare", &good, &img]);
            assert!(stderr(&out).contains("40000000"), "{}", stderr(&out));
        }
    }
}

#[test]
fn bad_models_are_refused_naming_the_file() {
    let f = Fixture::new();
    let before = f.store_bytes();
    let folder = f.p("model");
    std::fs::create_dir(&folder).unwrap();
    for entry in std::fs::read_dir(models().join("face-orl")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, folder.join(p.file_name().unwrap())).unwrap();
    }
    let run_with = |model: &Path, extra: &[&str], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_siamedge"));
        cmd.arg("--model")
            .arg(model)
            .arg("--key-file")
            .arg(f.p("key"))
            .args(extra)
            .args(args)
            .env_remove("SIAMEDGE_KEY");
        cmd.output().unwrap()
    };
    let (a, b) = (f.s("face1.png"), f.s("face2.png"));
    let verify = ["verify", "--store", &f.s("store.db"), "--subject", "1", &a];
    // The other shipped model's file next to face-orl's graphs.
    let digits = models().join("digits-mnist/model.sgm");
    let digits_s = digits.display().to_string();
    refused(
        &run_with(&folder, &["--sgm", &digits_s], &["compare", &a, &b]),
        "model.sgm",
        "--sgm digits",
    );
    // A truncated model file, then a garbage and a truncated ONNX with --float.
    let sgm = std::fs::read(models().join("face-orl/model.sgm")).unwrap();
    std::fs::write(folder.join("model.sgm"), &sgm[..sgm.len() / 2]).unwrap();
    refused(
        &run_with(&folder, &[], &["compare", &a, &b]),
        "model.sgm",
        "truncated model.sgm",
    );
    refused(
        &run_with(&folder, &[], &verify),
        "model.sgm",
        "verify, truncated model.sgm",
    );
    refused(
        &run_with(
            &folder,
            &[],
            &["inspect", &folder.join("model.sgm").display().to_string()],
        ),
        "model.sgm",
        "inspect truncated model.sgm",
    );
    std::fs::write(folder.join("model.sgm"), &sgm).unwrap();
    let onnx = std::fs::read(models().join("face-orl/model.onnx")).unwrap();
    std::fs::write(folder.join("model.onnx"), &onnx[..onnx.len() / 3]).unwrap();
    refused(
        &run_with(&folder, &["--float"], &["compare", &a, &b]),
        "model.onnx",
        "truncated model.onnx",
    );
    std::fs::write(
        folder.join("model.onnx"),
        b"\x08\x07garbage garbage garbage",
    )
    .unwrap();
    refused(
        &run_with(&folder, &["--float"], &verify),
        "model.onnx",
        "garbage model.onnx",
    );
    assert_eq!(f.store_bytes(), before);
}

#[test]
fn bad_stores_and_gallery_files_are_refused_and_left_unchanged() {
    let f = Fixture::new();
    let store = f.s("store.db");
    let img = f.s("face1.png");
    let before = f.store_bytes();
    // The wrong key.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siamedge"));
    let out = cmd
        .arg("--model")
        .arg(models().join("face-orl"))
        .arg("--key-file")
        .arg(f.p("other.key"))
        .args(["verify", "--store", &store, "--subject", "1", &img])
        .env_remove("SIAMEDGE_KEY")
        .output()
        .unwrap();
    refused(&out, "store.db", "wrong key");
    assert_eq!(f.store_bytes(), before, "a wrong key changed the store");
    // A store of another model.
    let out = Command::new(env!("CARGO_BIN_EXE_siamedge"))
        .arg("--model")
        .arg(models().join("digits-mnist"))
        .arg("--key-file")
        .arg(f.p("key"))
        .args(["identify", "--store", &store, &img])
        .output()
        .unwrap();
    refused(&out, "store.db", "store of another model");
    assert_eq!(f.store_bytes(), before);
    // Garbage and truncated gallery files to import, and to inspect.
    std::fs::write(f.p("garbage.sgg"), b"SIAMEDGE? no, garbage").unwrap();
    let out = f.run(&[
        "gallery",
        "export",
        "--store",
        &store,
        "--out",
        &f.s("export.sgg"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = std::fs::read(f.p("export.sgg")).unwrap();
    std::fs::write(f.p("cut.sgg"), &exported[..exported.len() / 2]).unwrap();
    let mut flipped = exported.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    std::fs::write(f.p("flipped.sgg"), &flipped).unwrap();
    for name in ["garbage.sgg", "cut.sgg", "flipped.sgg"] {
        refused(
            &f.run(&["gallery", "import", "--store", &store, &f.s(name)]),
            name,
            "import",
        );
        refused(
            &f.run(&[
                "gallery",
                "import",
                "--store",
                &store,
                "--replace",
                &f.s(name),
            ]),
            name,
            "import --replace",
        );
        refused(&f.run(&["inspect", &f.s(name)]), name, "inspect");
        assert_eq!(
            f.store_bytes(),
            before,
            "importing {name} changed the store"
        );
    }
    // A truncated store.
    let db = std::fs::read(f.p("store.db")).unwrap();
    std::fs::write(f.p("cut.db"), &db[..db.len() / 2]).unwrap();
    refused(
        &f.run(&["verify", "--store", &f.s("cut.db"), "--subject", "1", &img]),
        "cut.db",
        "truncated store",
    );
    refused(
        &f.run(&["inspect", &f.s("cut.db")]),
        "cut.db",
        "inspect truncated store",
    );
}

#[test]
fn a_bit_flipped_store_row_is_detected_without_a_panic() {
    let f = Fixture::new();
    let db = std::fs::read(f.p("store.db")).unwrap();
    let page = usize::from(u16::from_be_bytes([db[16], db[17]])).max(512);
    let img = f.s("face1.png");
    let mut detected = 0;
    // Row cells sit at the end of each page: flip a byte near the end of every page but the first.
    for p in 1..db.len() / page {
        for back in [16, 40, 80] {
            let mut bytes = db.clone();
            bytes[(p + 1) * page - back] ^= 0x01;
            let name = format!("flip-{p}-{back}.db");
            std::fs::write(f.p(&name), &bytes).unwrap();
            let out = f.run(&[
                "verify",
                "--json",
                "--store",
                &f.s(&name),
                "--subject",
                "1",
                &img,
            ]);
            let err = stderr(&out);
            assert!(!err.contains("panicked"), "{name}: {err}");
            if out.status.success() {
                json(&out, &name);
            } else {
                assert!(err.contains(&name), "{name}: {err}");
                detected += 1;
            }
            assert_eq!(
                std::fs::read(f.p(&name)).unwrap(),
                bytes,
                "{name} was rewritten"
            );
        }
    }
    assert!(detected > 0, "no flipped byte was detected");
}

#[test]
fn json_parses_on_every_command_and_a_reject_exits_zero() {
    let f = Fixture::new();
    let store = f.s("store.db");
    let (a, b) = (f.s("face1.png"), f.s("face2.png"));
    let v = json(
        &f.run(&["--json", "compare", "--threshold", "0", &a, &b]),
        "compare",
    );
    assert_eq!(v["same"], serde_json::Value::Bool(false), "{v}");
    let v = json(
        &f.run(&[
            "--json",
            "verify",
            "--store",
            &store,
            "--subject",
            "2",
            "--threshold",
            "0",
            &a,
        ]),
        "verify",
    );
    assert_eq!(v["accept"], serde_json::Value::Bool(false), "{v}");
    json(
        &f.run(&["--json", "verify", "--store", &store, "--subject", "1", &a]),
        "verify self",
    );
    json(
        &f.run(&["--json", "identify", "--store", &store, &a]),
        "identify",
    );
    json(
        &f.run(&["--json", "enroll", "--store", &store, "--subject", "7", &b]),
        "enroll",
    );
    json(
        &f.run(&["--json", "gallery", "list", "--store", &store]),
        "gallery list",
    );
    json(
        &f.run(&[
            "--json",
            "gallery",
            "export",
            "--store",
            &store,
            "--out",
            &f.s("g.sgg"),
        ]),
        "export",
    );
    json(
        &f.run(&[
            "--json",
            "gallery",
            "remove",
            "--store",
            &store,
            "--subject",
            "7",
        ]),
        "remove",
    );
    json(&f.run(&["--json", "inspect", &store]), "inspect store");
    json(
        &f.run(&["--json", "inspect", &f.s("g.sgg")]),
        "inspect gallery",
    );
    let model = models().join("face-orl").display().to_string();
    json(&f.run(&["--json", "inspect", &model]), "inspect model");
}
