//! Subcommands of `siamedge-train`: one module per subcommand, each with an `Args` struct (clap
//! derive) that converts into a library pipeline's plain options, and a `run` function that calls
//! the pipeline and prints. Declared by `main.rs` only: the library names no clap type, and no
//! subcommand calls another. `anyhow` is used here only, at the binary's edge.

pub mod baseline;
pub mod bench;
pub mod calibrate;
pub mod choices;
pub mod data;
pub mod eval;
pub mod export;
pub mod faceapi;
pub mod onnx;
pub mod quantize;
pub mod train;
pub mod transfer;
