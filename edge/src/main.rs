//! `siamedge`: face and signature verification on a Linux box (a camera, a checkout scanner).
//!
//! One binary, subcommands in `cli/` (see `siamedge --help`): `demo`, `compare`, `enroll`,
//! `verify`, `identify`, `gallery`, `inspect`, `bench`, `serve`. The library does the work;
//! this file parses the command line and maps errors to a non-zero exit with the message (and
//! its causes) on stderr. A decision, accept or reject, is never an error.

mod cli;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siamedge: error: {}", message(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-joined, each cause left out when the text so far already says
/// it (library errors print their source inside their own message, as `image PATH: {source}`).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn run(cli: &Cli) -> Result<()> {
    let common = &cli.common;
    match &cli.command {
        Command::Demo(a) => cli::demo::run(common, a),
        Command::Compare(a) => cli::compare::run(common, a),
        Command::Enroll(a) => cli::match_::enroll(common, a),
        Command::Verify(a) => cli::match_::verify(common, a),
        Command::Identify(a) => cli::match_::identify(common, a),
        Command::Gallery(c) => cli::gallery::run(common, c),
        Command::Inspect(a) => cli::inspect::run(common, a),
        Command::Bench(a) => cli::bench::run(common, a),
        Command::Serve(a) => {
            let rt = common.runtime()?;
            let store = common.store(&a.store, &rt, true)?;
            cli::serve::run(a, rt, store, common.json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "failed to fill whole buffer",
        );
        let e = anyhow::Error::new(io).context("image a.pgm: failed to fill whole buffer");
        assert_eq!(message(&e), "image a.pgm: failed to fill whole buffer");
        let e = anyhow::anyhow!("disk full").context("writing store.db");
        assert_eq!(message(&e), "writing store.db: disk full");
    }
}
