//! Picks the model file and its test vectors that the board embeds, and sizes the arena.
//!
//! - `SIAMEDGE_BOARD_MODEL`: the model file (`siamedge-format`), default
//!   `models/face-orl/model.sgm` in the repository;
//! - `SIAMEDGE_BOARD_VECTORS`: its test vectors (`SGTV`), default `models/face-orl/vectors.bin`,
//!   written by `cargo run -p siamedge-tests --bin board-vectors`.
//!
//! Writes `$OUT_DIR/model.rs` with the paths for `include_bytes!` and `ARENA_BYTES`: the arena
//! the model asks for (plus the DSP kernels' scratch with the `dsp` feature), so the static
//! arena is exactly what this model needs. Puts `memory.x` on
//! the linker's search path, and with the `defmt` feature adds defmt's linker script
//! (`-Tdefmt.x`, the `.defmt` section of format strings).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest.join("../../..");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copying memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    // Only for the feature: without the defmt crate linked there is no defmt.x to find.
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }

    let model = input(
        "SIAMEDGE_BOARD_MODEL",
        &repo.join("models/face-orl/model.sgm"),
    );
    let vectors = input(
        "SIAMEDGE_BOARD_VECTORS",
        &repo.join("models/face-orl/vectors.bin"),
    );
    let bytes = fs::read(&model).unwrap_or_else(|e| fail(&model, &e.to_string()));
    let decoded = siamedge_format::Model::decode(&bytes)
        .unwrap_or_else(|e| fail(&model, &format!("not a valid model file: {e}")));
    // The DSP kernels use the bytes beyond the model's activations as scratch.
    let needed = siamedge_firmware::engine::needed_arena_bytes(&decoded);
    let arena = if env::var_os("CARGO_FEATURE_DSP").is_some() {
        needed.max(siamedge_firmware::engine::dsp::arena_bytes(&decoded))
    } else {
        needed
    };

    let code = format!(
        "/// The model file embedded in flash.\n\
         pub static MODEL: &[u8] = include_bytes!({model:?});\n\
         /// Its test vectors.\n\
         pub static VECTORS: &[u8] = include_bytes!({vectors:?});\n\
         /// The model's arena size (bytes), from its file.\n\
         pub const ARENA_BYTES: usize = {arena};\n"
    );
    fs::write(out.join("model.rs"), code).expect("writing model.rs");
}

/// The path in `var`, or `default`; must exist.
fn input(var: &str, default: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed={var}");
    let path = env::var_os(var).map_or_else(|| default.to_path_buf(), PathBuf::from);
    let path = path.canonicalize().unwrap_or_else(|e| {
        fail(
            &path,
            &format!(
                "{e} (set {var}, or write the default with \
                 `cargo run -p siamedge-tests --bin board-vectors`)"
            ),
        )
    });
    println!("cargo:rerun-if-changed={}", path.display());
    path
}

fn fail(path: &Path, why: &str) -> ! {
    eprintln!("error: {}: {why}", path.display());
    std::process::exit(1)
}
