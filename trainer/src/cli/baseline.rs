//! `siamedge-train baseline`: the classic baselines on the reference protocols, as a table.
//!
//! Runs every baseline of [`siamedge_trainer::baseline`] (the pipeline is
//! [`siamedge_trainer::baseline::pipeline`]) on the same splits and pairs (ORL folds or the MNIST
//! open-set split of `shared/REFERENCE.md`), prints a Markdown summary (EER per fold, mean EER,
//! mean TAR@FAR=1e-3, mean AUC) and a per-fold table with trial counts, and writes the full report
//! (every rate with its 95% interval) as JSON.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use siamedge_trainer::baseline::pipeline::{baseline_splits, run_baselines, BaselineOptions};
use siamedge_trainer::baseline::Method;
use siamedge_trainer::eval::pairs::DEFAULT_PAIR_SEED;
use siamedge_trainer::protocol::{DataKind, DEFAULT_FOLDS, ORL_SIZE};

/// Arguments of `siamedge-train baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Data set and protocol.
    #[arg(long, value_enum)]
    pub data: BaselineData,
    /// Root folder of a `folder` or `signature` data set.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Number of identity-disjoint folds of a folder or signature set.
    #[arg(long, default_value_t = DEFAULT_FOLDS)]
    pub n_folds: usize,
    /// Folds to run (ORL: fold k tests on people 10k..10k+9; folder and signature: 0..n-folds-1).
    #[arg(long, value_delimiter = ',', default_values_t = [0usize, 1, 2, 3])]
    pub folds: Vec<usize>,
    /// Image size, HEIGHTxWIDTH (ORL: area resize from 112x92; folder and signature sets are
    /// area-resized to it too).
    #[arg(long, default_value = "56x46", value_parser = parse_size)]
    pub size: ImageSize,
    /// Baselines to run, comma-separated: raw-l2, pca-l2, pca-whitened, lda-l2, histogram-l1
    /// [default: all].
    #[arg(long, value_delimiter = ',', value_parser = parse_method)]
    pub methods: Vec<Method>,
    /// Seed of the sampled MNIST pairs (ChaCha8).
    #[arg(long, default_value_t = DEFAULT_PAIR_SEED)]
    pub seed: u64,
    /// Cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Write the full report as JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the Markdown tables to FILE (they are printed on stdout too, unless `--json -`).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// The protocol on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineData {
    /// ORL faces, four identity-disjoint folds.
    Orl,
    /// MNIST open-set: fit on digits 0-4, test on digits 5-9.
    Mnist,
    /// Your own images, `--data-dir DIR` with one sub-folder per identity; identity-disjoint folds.
    Folder,
    /// Your own signatures, `--data-dir DIR` with `WRITER/genuine/*` and `WRITER/forged/*`;
    /// writer-disjoint folds, tested against skilled forgeries.
    Signature,
}

/// An image size, `(height, width)` in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize(pub usize, pub usize);

fn parse_size(s: &str) -> Result<ImageSize, String> {
    let (h, w) = s
        .split_once('x')
        .ok_or_else(|| format!("{s:?}: expected HEIGHTxWIDTH, e.g. 56x46"))?;
    let parse = |v: &str| v.trim().parse::<usize>().ok().filter(|&n| n > 0);
    match (parse(h), parse(w)) {
        (Some(h), Some(w)) => Ok(ImageSize(h, w)),
        _ => Err(format!("{s:?}: expected two positive integers, e.g. 56x46")),
    }
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse()
}

impl BaselineArgs {
    /// The pipeline's options.
    pub fn options(&self) -> BaselineOptions {
        BaselineOptions {
            data: match self.data {
                BaselineData::Orl => DataKind::Orl,
                BaselineData::Mnist => DataKind::Mnist,
                BaselineData::Folder => DataKind::Folder,
                BaselineData::Signature => DataKind::Signature,
            },
            data_dir: self.data_dir.clone(),
            n_folds: self.n_folds,
            folds: self.folds.clone(),
            size: (self.size.0, self.size.1),
            methods: self.methods.clone(),
            seed: self.seed,
            cache: self.cache.clone(),
        }
    }
}

/// Runs `siamedge-train baseline`; `verbose` > 0 prints what each baseline fitted.
pub fn run(args: BaselineArgs, verbose: u8) -> Result<()> {
    let opts = args.options();
    let start = Instant::now();
    if args.data == BaselineData::Orl && opts.size != ORL_SIZE {
        eprintln!(
            "note: the reference numbers are at {}x{}",
            ORL_SIZE.0, ORL_SIZE.1
        );
    }
    let splits = baseline_splits(&opts)?;
    let bar = ProgressBar::new((opts.methods().len() * splits.splits.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = run_baselines(&opts, &splits, |m, fold| {
        bar.set_message(format!("{} fold {}", m.id(), fold.fold));
        bar.inc(1);
        if verbose > 0 {
            bar.println(format!(
                "{} fold {}: EER {:.2}% in {:.2} s",
                m.id(),
                fold.fold,
                100.0 * fold.verification.eer.rate,
                fold.seconds
            ));
        }
    })?;
    bar.finish_and_clear();
    if verbose > 0 {
        for r in &report.methods {
            eprintln!("{}: {}", r.method, r.detail);
        }
        eprintln!("total {:.1} s", start.elapsed().as_secs_f64());
    }
    let markdown = report.to_markdown();
    let json_to_stdout = args.json.as_deref() == Some(Path::new("-"));
    if !json_to_stdout {
        print!("{markdown}");
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        if json_to_stdout {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_methods_parse() {
        assert_eq!(parse_size("56x46"), Ok(ImageSize(56, 46)));
        assert!(parse_size("56").is_err());
        assert!(parse_size("0x46").is_err());
        assert_eq!(parse_method("lda-l2"), Ok(Method::LdaL2));
        assert!(parse_method("lda").is_err());
    }
}
