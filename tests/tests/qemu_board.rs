//! The firmware on an emulated Cortex-M4F: builds `firmware/boards/qemu-mps2-an386` (release)
//! with a model and test vectors made here by the host's engine, runs it in QEMU
//! (`mps2-an386`), and checks QEMU's exit status and the verdicts the board prints. Also checks
//! that a panic and a HardFault end QEMU with their statuses instead of hanging it, and that the
//! `defmt` build sends the same report as defmt frames, decoded here by `defmt-print`.
//!
//! Model: `models/face-orl/model.sgm` when the repository has it, else the fixture encoder.
//! Faces: held-out ORL faces when fetched, else synthetic (a failure instead when
//! `SIAMEDGE_REQUIRE_DATA=1`). Skips with a message when `qemu-system-arm` is not on `PATH`,
//! unless `SIAMEDGE_REQUIRE_QEMU=1` (CI), when it fails; the defmt build's tests also need
//! `defmt-print` (`cargo install defmt-print --locked`), under the same rule. The board builds in
//! `$SIAMEDGE_BOARD_TARGET_DIR`, default `<target dir>/qemu-mps2-an386`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use siamedge_tests::board::{self, faces, fixture, BoardInputs, Scenario};
use siamedge_tests::skip::{data_required, qemu_required, skipped};

/// Board builds share one target dir and one output path: one at a time.
static BUILD: Mutex<()> = Mutex::new(());

const QEMU: &str = "qemu-system-arm";
/// The decoder of the board's defmt frames (`cargo install defmt-print --locked`).
const DEFMT_PRINT: &str = "defmt-print";
const TIMEOUT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn board_dir() -> PathBuf {
    repo().join("firmware/boards/qemu-mps2-an386")
}

/// `true` when the program `name` is on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// `true` when QEMU is there; `false` (after saying why) when the test should skip.
fn qemu_available() -> bool {
    if on_path(QEMU) {
        return true;
    }
    if qemu_required() {
        panic!(
            "SIAMEDGE_REQUIRE_QEMU=1 but {QEMU} is not on PATH (apt-get install qemu-system-arm)"
        );
    }
    skipped(format_args!(
        "{QEMU} is not on PATH (apt-get install qemu-system-arm; \
         SIAMEDGE_REQUIRE_QEMU=1 makes this a failure)"
    ));
    false
}

/// The shipped face model if there is one, else the fixture; ORL faces if fetched.
fn inputs() -> BoardInputs {
    inputs_with(false)
}

/// [`inputs`], with flip averaging turned on in the model when `flip`.
fn inputs_with(flip: bool) -> BoardInputs {
    let shipped = std::fs::read(repo().join("models/face-orl/model.sgm")).ok();
    let (h, w) = match &shipped {
        Some(bytes) => {
            let m = siamedge_format::Model::decode(bytes).expect("models/face-orl/model.sgm");
            (usize::from(m.input().height), usize::from(m.input().width))
        }
        None => (fixture::HEIGHT.into(), fixture::WIDTH.into()),
    };
    let (faces, scenario) = match faces::orl(None, 0, h, w) {
        Ok(f) => (f, Scenario::orl(0)),
        Err(e) if data_required() => {
            panic!("SIAMEDGE_REQUIRE_DATA=1 but the ORL faces are not loadable: {e}")
        }
        Err(e) => {
            skipped(format_args!(
                "the board's ORL vectors: ORL faces not loadable ({e}); synthetic faces instead"
            ));
            (faces::synthetic(h, w), Scenario::SYNTHETIC)
        }
    };
    board::board_inputs_with(shipped.as_deref(), &faces, scenario, 7, flip).expect("board inputs")
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIAMEDGE_BOARD_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("qemu-mps2-an386")
}

/// Writes `bytes` to `path` unless it already holds them (an unchanged file keeps the board's
/// build fresh).
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

/// Builds the board with `features` around `inputs`; returns a private copy of the ELF.
fn build(inputs: &BoardInputs, features: &str, out: &Path) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target = target_dir();
    let staged = target.join("inputs");
    std::fs::create_dir_all(&staged).unwrap();
    let (model, vectors) = (staged.join("model.sgm"), staged.join("vectors.bin"));
    write_if_changed(&model, &inputs.model);
    write_if_changed(&vectors, &inputs.vectors);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The board's .cargo/config.toml (target, linker script) is found from the working dir. Not
    // `--locked`: the board's Cargo.lock follows the firmware's dependencies, which other work
    // changes; an update shows up as a diff of that file.
    cmd.current_dir(board_dir())
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", &target)
        .env("SIAMEDGE_BOARD_MODEL", &model)
        .env("SIAMEDGE_BOARD_VECTORS", &vectors);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("running cargo build for the board");
    assert!(
        output.status.success(),
        "board build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let elf = target.join("thumbv7em-none-eabihf/release/siamedge-board-qemu-mps2-an386");
    let copy = out.join(format!("board{}", features.replace(',', "-")));
    std::fs::copy(&elf, &copy).unwrap_or_else(|e| panic!("copying {}: {e}", elf.display()));
    copy
}

/// Runs `elf` in QEMU; its exit status and everything it printed (stdout, then stderr).
fn run(elf: &Path) -> (Option<i32>, String) {
    let (status, stdout, stderr) = run_raw(elf);
    (
        status,
        format!("{}{stderr}", String::from_utf8_lossy(&stdout)),
    )
}

/// Runs `elf` in QEMU; its exit status, its stdout as bytes (defmt frames are not text), and its
/// stderr. Kills it after `TIMEOUT`.
fn run_raw(elf: &Path) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(QEMU)
        .args([
            "-cpu",
            "cortex-m4",
            "-machine",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "null",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting qemu-system-arm");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for qemu") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let printed = reader.join().unwrap_or_default();
            panic!(
                "QEMU still running after {TIMEOUT:?}; it printed:\n{}",
                String::from_utf8_lossy(&printed)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let printed = reader.join().unwrap_or_default();
    (status.code(), printed, stderr)
}

fn verdict(accept: bool) -> &'static str {
    if accept {
        "ACCEPT"
    } else {
        "REJECT"
    }
}

/// Builds the board with `features`, runs it, and checks the run against `inputs`.
fn check_board(inputs: &BoardInputs, features: &str, kernels: &str) {
    let dir = tempfile::tempdir().unwrap();
    let elf = build(inputs, features, dir.path());
    let (status, printed) = run(&elf);
    assert_eq!(status, Some(0), "board ({kernels}) failed:\n{printed}");
    assert!(
        printed.contains(&format!("kernels {kernels},")),
        "{printed}"
    );
    assert!(printed.contains("result: PASS"), "{printed}");
    assert_eq!(
        printed.matches("embedding matches the host").count(),
        4,
        "{printed}"
    );
    let verifies: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("verify image"))
        .collect();
    assert_eq!(verifies.len(), 2, "{printed}");
    for (line, expected) in verifies.iter().zip(&inputs.probes) {
        let v = verdict(expected.accept);
        assert!(line.contains(&format!(": {v} distance")), "{line}");
        assert!(line.contains(&format!("| host {v} distance")), "{line}");
        assert!(line.ends_with("| match"), "{line}");
    }
    if inputs.fixture {
        // The fixture's threshold separates the two probes by construction.
        assert!(verifies[0].contains(": ACCEPT distance"), "{printed}");
        assert!(verifies[1].contains(": REJECT distance"), "{printed}");
    }
    let bench = printed
        .lines()
        .find(|l| l.starts_with("bench: "))
        .unwrap_or_else(|| panic!("no bench line:\n{printed}"));
    assert!(
        bench.contains(&format!("macs={} ", inputs.macs)),
        "the board counts the host's MACs: {bench}"
    );
}

#[test]
fn the_board_reproduces_the_host_under_qemu() {
    if !qemu_available() {
        return;
    }
    check_board(&inputs(), "", "reference");
}

/// The DSP kernels' inline assembly (SMLAD, SXTB16) runs only on the Cortex-M: here QEMU
/// executes it, and it must give the host's bytes.
#[test]
fn the_dsp_kernels_reproduce_the_host_under_qemu() {
    if !qemu_available() {
        return;
    }
    check_board(&inputs(), "dsp", "dsp");
}

/// A flip-average model (the same model with `embedding.flip_average`, a version-3 file): the
/// board runs both passes and the integer average, and gives the host's bytes and decisions with
/// the reference and the DSP kernels.
#[test]
fn a_flip_average_model_reproduces_the_host_under_qemu() {
    if !qemu_available() {
        return;
    }
    let inputs = inputs_with(true);
    check_board(&inputs, "", "reference");
    check_board(&inputs, "dsp", "dsp");
}

#[test]
fn panics_and_hardfaults_end_qemu_with_their_status() {
    if !qemu_available() {
        return;
    }
    let inputs = inputs();
    let dir = tempfile::tempdir().unwrap();
    for (feature, status, says) in [
        ("selftest-panic", 3, "panic: "),
        ("selftest-hardfault", 4, "hardfault: pc "),
    ] {
        let elf = build(&inputs, feature, dir.path());
        let (code, printed) = run(&elf);
        assert_eq!(code, Some(status), "{feature}:\n{printed}");
        assert!(printed.contains(says), "{feature}:\n{printed}");
        assert!(printed.contains("result: FAIL"), "{feature}:\n{printed}");
    }
}

/// The check can fail: one expected embedding value changed (CRC made right again) must end the
/// board with status 1 and say which image differs.
#[test]
fn a_wrong_expectation_fails_the_board() {
    if !qemu_available() {
        return;
    }
    let mut inputs = inputs();
    let v = siamedge_format::vectors::TestVectors::decode(&inputs.vectors).unwrap();
    let n = inputs.vectors.len();
    // The embeddings end 4 bytes before the end: the first value of image 0's embedding.
    let at = n - 4 - v.dim() * v.images();
    inputs.vectors[at] = inputs.vectors[at].wrapping_add(1);
    let crc = siamedge_format::crc::crc32(&inputs.vectors[..n - 4]);
    inputs.vectors[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let elf = build(&inputs, "", dir.path());
    let (status, printed) = run(&elf);
    assert_eq!(status, Some(1), "{printed}");
    assert!(
        printed.contains("image 0 (identity") && printed.contains("embedding MISMATCH in 1 of"),
        "{printed}"
    );
    assert!(printed.contains("result: FAIL (Mismatch)"), "{printed}");
}

/// `defmt-print`: on `PATH`, or where `cargo install` puts it (`$CARGO_HOME/bin`, default
/// `~/.cargo/bin`).
fn find_defmt_print() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(DEFMT_PRINT))
            .find(|f| f.is_file())
    });
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path.or_else(|| {
        cargo_home
            .map(|h| h.join("bin").join(DEFMT_PRINT))
            .filter(|f| f.is_file())
    })
}

/// `defmt-print` when it and QEMU are there; `None` (after saying why) when the test should skip.
fn defmt_print_available() -> Option<PathBuf> {
    if !qemu_available() {
        return None;
    }
    if let Some(found) = find_defmt_print() {
        return Some(found);
    }
    if qemu_required() {
        panic!(
            "SIAMEDGE_REQUIRE_QEMU=1 but {DEFMT_PRINT} is neither on PATH nor in $CARGO_HOME/bin \
             (cargo install defmt-print --locked)"
        );
    }
    skipped(format_args!(
        "{DEFMT_PRINT} is not on PATH (cargo install defmt-print --locked; \
         SIAMEDGE_REQUIRE_QEMU=1 makes this a failure)"
    ));
    None
}

/// The defmt frames `frames` that `elf` sent, decoded by `defmt-print`: one line per frame, the
/// message only. A frame it cannot decode fails the test.
fn decode(defmt_print: &Path, elf: &Path, frames: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new(defmt_print)
        .args(["--log-format", "{s}", "--show-skipped-frames", "-e"])
        .arg(elf)
        .arg("stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting defmt-print");
    let mut stdin = child.stdin.take().expect("piped");
    let frames = frames.to_vec();
    // Written from a thread: defmt-print's output pipe could fill while we still write.
    let writer = std::thread::spawn(move || stdin.write_all(&frames));
    let output = child.wait_with_output().expect("waiting for defmt-print");
    writer
        .join()
        .expect("writer thread")
        .expect("writing the frames to defmt-print");
    let decoded = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "defmt-print failed ({}):\n{stderr}\n{decoded}",
        output.status
    );
    assert!(
        !decoded.contains("skipped") && !stderr.contains("skipped"),
        "defmt-print skipped malformed frames:\n{stderr}\n{decoded}"
    );
    decoded
}

/// `line` with every run of digits replaced by `#`.
fn digits_masked(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// Report lines whose numbers are the same on every run and in every build: the model, the
/// vectors, the verdicts with their distances and scores, the tallies, the result. The others
/// carry instruction counts (exact only under `-icount`) or the stack peak (the logger's frames
/// differ from `hprintln!`'s).
const EXACT: [&str; 6] = [
    "model: ",
    "vectors: ",
    "enrolled ",
    "verify image ",
    "checked: ",
    "result: ",
];

/// The `defmt` build sends the plain build's report as defmt frames: `defmt-print` turns them back
/// into the same lines (numbers that vary from run to run aside), and QEMU's status is the same.
#[test]
fn the_defmt_board_reports_the_same_through_defmt_print() {
    let Some(defmt_print) = defmt_print_available() else {
        return;
    };
    let inputs = inputs();
    let dir = tempfile::tempdir().unwrap();
    let plain_elf = build(&inputs, "", dir.path());
    let (plain_status, plain) = run(&plain_elf);
    assert_eq!(plain_status, Some(0), "plain board failed:\n{plain}");

    let elf = build(&inputs, "defmt", dir.path());
    let (status, frames, stderr) = run_raw(&elf);
    let decoded = decode(&defmt_print, &elf, &frames);
    assert_eq!(status, Some(0), "defmt board failed:\n{decoded}{stderr}");
    // Frames, not text: the report's strings stay in the ELF.
    assert!(
        !String::from_utf8_lossy(&frames).contains("result: PASS"),
        "the defmt board printed text:\n{}",
        String::from_utf8_lossy(&frames)
    );
    assert!(decoded.contains("kernels reference,"), "{decoded}");
    assert_eq!(
        decoded.matches("embedding matches the host").count(),
        4,
        "{decoded}"
    );
    let verifies: Vec<&str> = decoded
        .lines()
        .filter(|l| l.starts_with("verify image"))
        .collect();
    assert_eq!(verifies.len(), 2, "{decoded}");
    for (line, expected) in verifies.iter().zip(&inputs.probes) {
        let v = verdict(expected.accept);
        assert!(line.contains(&format!(": {v} distance")), "{line}");
        assert!(line.contains(&format!("| host {v} distance")), "{line}");
        assert!(line.ends_with("| match"), "{line}");
    }
    assert!(
        decoded
            .lines()
            .any(|l| l.starts_with("bench: ") && l.contains(&format!("macs={} ", inputs.macs))),
        "{decoded}"
    );
    assert_eq!(decoded.lines().last(), Some("result: PASS"), "{decoded}");

    // Line for line what the plain build printed.
    let (ours, theirs): (Vec<&str>, Vec<&str>) =
        (decoded.lines().collect(), plain.lines().collect());
    assert_eq!(
        ours.len(),
        theirs.len(),
        "defmt:\n{decoded}\nplain:\n{plain}"
    );
    for (d, p) in ours.iter().zip(&theirs) {
        if EXACT.iter().any(|prefix| p.starts_with(prefix)) {
            assert_eq!(d, p, "defmt and plain lines differ");
        } else {
            assert_eq!(
                digits_masked(d),
                digits_masked(p),
                "defmt and plain lines differ"
            );
        }
    }
}

/// With defmt, a panic and a HardFault still end QEMU with their statuses, and their messages
/// arrive as frames.
#[test]
fn panics_and_hardfaults_under_defmt_end_qemu_with_their_status() {
    let Some(defmt_print) = defmt_print_available() else {
        return;
    };
    let inputs = inputs();
    let dir = tempfile::tempdir().unwrap();
    for (features, status, says) in [
        (
            "defmt,selftest-panic",
            3,
            ["selftest: indexing past the end", "index out of bounds"],
        ),
        (
            "defmt,selftest-hardfault",
            4,
            ["selftest: reading unmapped memory", "hardfault: pc 0x"],
        ),
    ] {
        let elf = build(&inputs, features, dir.path());
        let (code, frames, stderr) = run_raw(&elf);
        let decoded = decode(&defmt_print, &elf, &frames);
        assert_eq!(code, Some(status), "{features}:\n{decoded}{stderr}");
        for said in says {
            assert!(
                decoded.contains(said),
                "{features}: no {said:?} in\n{decoded}"
            );
        }
        let last = decoded.lines().last().unwrap_or_default();
        assert!(last.starts_with("result: FAIL ("), "{features}:\n{decoded}");
    }
}
