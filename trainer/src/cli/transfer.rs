//! `siamedge-train transfer`: do the operating points chosen on one group of people hold on
//! people the network never saw? Raw distances against Z-norm and S-norm over a cohort; the
//! study is [`siamedge_trainer::quant::transfer`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use siamedge_trainer::protocol::OPERATING_FARS;
use siamedge_trainer::quant::transfer::transfer_study;
use siamedge_trainer::quant::QuantizeOptions;

/// Arguments of `siamedge-train transfer`.
#[derive(Debug, Clone, Args)]
pub struct TransferArgs {
    /// Run folders (comma-separated), e.g. one recipe over folds and seeds.
    #[arg(long, value_name = "DIR,...", value_delimiter = ',', required = true)]
    pub runs: Vec<PathBuf>,
    /// Target false-accept rates (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = OPERATING_FARS)]
    pub far: Vec<f64>,
    /// PTQ: percentile of |activation| used as the range (100 = min/max), as `export`.
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// PTQ: training images used for calibration (at most), as `export`.
    #[arg(long, default_value_t = 200)]
    pub calibration_images: usize,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Print the whole report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `siamedge-train transfer`.
pub fn run(args: TransferArgs, _verbose: u8) -> Result<()> {
    let quant = QuantizeOptions {
        calib_images: args.calibration_images,
        percentile: args.percentile,
        cache: args.cache.clone(),
        ..QuantizeOptions::ptq(PathBuf::new())
    };
    let report = transfer_study(&args.runs, &quant, &args.far)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("per run: test FAR / TAR (%) at the thresholds chosen on the calibration people");
    for r in &report.runs {
        for n in &r.norms {
            let pts: Vec<String> = n
                .points
                .iter()
                .map(|p| {
                    format!(
                        "{} {:.0e}: {:.2} / {:.1}",
                        p.estimator.name(),
                        p.target_far,
                        100.0 * p.test.far.value,
                        100.0 * p.test.tar.value
                    )
                })
                .collect();
            println!(
                "  {} (fold {}, seed {}, on {}) {:<12} EER {:.2}  {}",
                r.run.display(),
                r.fold,
                r.seed,
                r.calibrated_on,
                n.norm.name(),
                100.0 * n.test_eer,
                pts.join("  ")
            );
        }
    }
    println!();
    println!("| calibrated on | score | threshold | target FAR | runs | test FAR % mean ± sd [min, max] | test TAR % mean ± sd | test EER % mean ± sd |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &report.summary {
        println!(
            "| {} | {} | {} | {:.0e} | {} | {:.3} ± {:.3} [{:.3}, {:.3}] | {:.1} ± {:.1} | {:.2} ± {:.2} |",
            s.calibrated_on,
            s.norm.name(),
            s.estimator.name(),
            s.target_far,
            s.test_far.n,
            100.0 * s.test_far.mean,
            100.0 * s.test_far.sd,
            100.0 * s.test_far.min,
            100.0 * s.test_far.max,
            100.0 * s.test_tar.mean,
            100.0 * s.test_tar.sd,
            100.0 * s.test_eer.mean,
            100.0 * s.test_eer.sd
        );
    }
    Ok(())
}
