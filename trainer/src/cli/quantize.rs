//! `siamedge-train quantize`: a trained run to the int8 model file the firmware runs, with a report
//! of what quantization costs. The pipeline (PTQ or QAT, thresholds on validation identities) is
//! [`siamedge_trainer::quant::pipeline`]; this module parses flags, draws the QAT progress bar,
//! writes the file atomically and prints the report.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use siamedge_format::Task;
use siamedge_trainer::eval::VerificationReport;
use siamedge_trainer::quant::pipeline::{
    quantize_run, Comparison, QuantMethod, QuantizeOptions, QuantizeReport,
};

/// Quantization method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Post-training quantization: calibrate activation ranges, no training.
    Ptq,
    /// Quantization-aware fine-tuning from the float weights.
    Qat,
}

/// What the model recognizes (written into the model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// Faces.
    Face,
    /// Handwritten signatures.
    Signature,
    /// Anything else (digits).
    Generic,
}

/// Arguments of `siamedge-train quantize`.
#[derive(Debug, Clone, Args)]
pub struct QuantizeArgs {
    /// Run folder of `siamedge-train train` (summary.json, model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Model file to write (`.sgm`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Quantization method.
    #[arg(long, value_enum, default_value = "ptq")]
    pub method: Method,
    /// Training images used to calibrate activation ranges (a seeded sample).
    #[arg(long, default_value_t = 200)]
    pub calib_images: usize,
    /// Percentile of |activation| that sets each range (100 = min/max).
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// QAT fine-tuning steps.
    #[arg(long, default_value_t = 300)]
    pub qat_steps: usize,
    /// QAT peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub qat_lr: f64,
    /// Where the QAT weights go [default: RUN/qat.safetensors].
    #[arg(long, value_name = "FILE")]
    pub qat_checkpoint: Option<PathBuf>,
    /// Task written into the model file [default: face for ORL, generic for MNIST].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// MNIST runs: the run's --limit [default: 10000].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Flip averaging: every device embeds each image and its mirror image and averages them in
    /// integers (two inferences per embedding; a version-3 model file). The thresholds and the
    /// int8 numbers are then flip-averaged, the f32 ones their float counterpart (`eval
    /// --flip-tta`). For faces, not signatures.
    #[arg(long)]
    pub flip_average: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl From<Method> for QuantMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Ptq => QuantMethod::Ptq,
            Method::Qat => QuantMethod::Qat,
        }
    }
}

impl From<TaskArg> for Task {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Face => Task::Face,
            TaskArg::Signature => Task::Signature,
            TaskArg::Generic => Task::Generic,
        }
    }
}

impl QuantizeArgs {
    /// The pipeline's options.
    pub fn options(&self) -> QuantizeOptions {
        QuantizeOptions {
            run: self.run.clone(),
            out: self.out.clone(),
            method: self.method.into(),
            calib_images: self.calib_images,
            percentile: self.percentile,
            qat_steps: self.qat_steps,
            qat_lr: self.qat_lr,
            qat_checkpoint: self.qat_checkpoint.clone(),
            task: self.task.map(Into::into),
            cache: self.cache.clone(),
            limit: self.limit,
            flip_average: self.flip_average,
        }
    }
}

/// Runs `siamedge-train quantize`: the pipeline, then the model file written atomically and the
/// report printed.
pub fn run(args: QuantizeArgs, verbose: u8) -> Result<()> {
    let opts = args.options();
    let bar = indicatif::ProgressBar::new(opts.qat_steps as u64);
    if opts.method != QuantMethod::Qat || (args.json && verbose == 0) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let (bytes, report) = quantize_run(&opts, |step, loss| {
        bar.set_position(step as u64);
        bar.set_message(format!("QAT loss {loss:.4}"));
    })?;
    bar.finish_and_clear();
    siamedge_format::file::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &QuantizeReport) {
    println!(
        "{} -> {} ({} bytes, arena {} bytes, id {})",
        r.run.display(),
        r.model_file.display(),
        r.model_bytes,
        r.arena_bytes,
        &r.model_id[..16]
    );
    println!(
        "{:?}, {} calibration images, percentile {}{}{}; {}",
        r.method,
        r.calib_images,
        r.percentile,
        if r.qat_steps > 0 {
            format!(", {} QAT steps", r.qat_steps)
        } else {
            String::new()
        },
        if r.flip_average {
            ", flip-averaged (int8 and f32)"
        } else {
            ""
        },
        r.protocol
    );
    for p in &r.operating_points {
        println!(
            "  threshold {:.4} at FAR {:.0e} on {} ({} of {} impostor, TAR {:.1}%)",
            p.threshold,
            p.target_far,
            r.thresholds_from,
            p.far.count,
            p.far.total,
            100.0 * p.tar.value
        );
    }
    println!("| identities | EER f32 % | EER int8 % | TAR@1e-3 f32 % | TAR@1e-3 int8 % | cosine mean | cosine min |");
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str, c: &Comparison| {
        let tar = |v: &VerificationReport| {
            v.tar_at(1e-3)
                .map_or(f64::NAN, |t| 100.0 * t.point.tar.value)
        };
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.1} | {:.4} | {:.4} |",
            100.0 * c.f32.eer.rate,
            100.0 * c.int8.eer.rate,
            tar(&c.f32),
            tar(&c.int8),
            c.cosine_mean,
            c.cosine_min
        );
    };
    row("training", &r.train);
    if let Some(v) = &r.validation {
        row("validation", v);
    }
    row("test (information)", &r.test);
    let at = |name: &str, c: &Comparison| {
        let a = &c.int8_at_default_threshold;
        println!(
            "  int8 at the default threshold on {name}: FAR {:.2}% ({} of {}), TAR {:.1}% ({} of {})",
            100.0 * a.far.value,
            a.far.count,
            a.far.total,
            100.0 * a.tar.value,
            a.tar.count,
            a.tar.total
        );
    };
    if let Some(v) = &r.validation {
        at("validation", v);
    }
    at("test", &r.test);
}
