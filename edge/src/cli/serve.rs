//! `siamedge serve`: the HTTP service on a store (see `siamedge_edge::service`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamedge_edge::service::{self, ServiceConfig};
use siamedge_edge::store::SqliteStore;
use siamedge_edge::Runtime;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The store (created if missing).
    #[arg(long)]
    pub store: PathBuf,
    /// Address to listen on; port 0 picks a free port. Anything beyond loopback (127.0.0.0/8,
    /// ::1) requires --token-file.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub bind: SocketAddr,
    /// A file holding the bearer token (at least 16 bytes, surrounding whitespace ignored) that
    /// every request except GET /health must carry as `Authorization: Bearer TOKEN`.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Images encoded at the same time (default: one per CPU).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests allowed to wait for an encoder; beyond that 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// Largest request body in bytes (JSON with base64 images).
    #[arg(long, default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// Largest image in pixels (width * height, checked before decoding).
    #[arg(long, default_value_t = 16_000_000)]
    pub max_pixels: u64,
}

impl ServeArgs {
    /// The service settings these flags give (reads the token file).
    pub fn config(&self) -> Result<ServiceConfig> {
        let token = match &self.token_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading the token file {}", p.display()))?;
                Some(text.trim().to_string())
            }
            None => None,
        };
        let defaults = ServiceConfig::default();
        let config = ServiceConfig {
            bind: self.bind,
            token,
            workers: self.workers.unwrap_or(defaults.workers),
            queue: self.queue,
            max_body_bytes: self.max_body_bytes,
            max_pixels: self.max_pixels,
            ..defaults
        };
        config.validate().with_context(|| match &self.token_file {
            Some(p) => format!("serve (token from {})", p.display()),
            None => "serve".to_string(),
        })?;
        Ok(config)
    }
}

/// Serves until SIGTERM or SIGINT; prints `listening on http://IP:PORT` (one line, flushed) on
/// stdout once bound, and a one-line summary on stderr when stopped (JSON with `json`).
pub fn run(args: &ServeArgs, runtime: Runtime, store: SqliteStore, json: bool) -> Result<()> {
    let config = args.config()?;
    let started = std::time::Instant::now();
    service::run(config, runtime, Box::new(store), |addr| {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the service: the line is for whoever started it.
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })
    .with_context(|| format!("serving store {}", args.store.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        eprintln!(
            "{}",
            serde_json::json!({ "stopped": true, "uptime_s": secs })
        );
    } else {
        eprintln!("siamedge serve: stopped after {secs:.1} s");
    }
    Ok(())
}
