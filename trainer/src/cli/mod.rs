//! Subcommands of `siamedge-train`: one module per subcommand, each with an `Args` struct (clap derive)
//! and a `run` function. `anyhow` is used here only, at the binary's edge.

pub mod baseline;
pub mod bench;
pub mod calibrate;
pub mod data;
pub mod eval;
pub mod export;
pub mod quantize;
pub mod splits;
pub mod train;
