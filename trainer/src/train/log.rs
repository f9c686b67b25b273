//! The training log: `OUT/log.jsonl`, one JSON object per line, for plots and for reading a run
//! afterwards.
//!
//! A line is written every `every` steps, at every validation and at the last step of a call:
//! ```text
//! {"step": 100,                 // steps taken after this one (1-based count)
//!  "total": 1500,               // steps of the whole run
//!  "loss": 0.41,                // this step's loss
//!  "mean_loss": 0.44,           // mean loss over the steps since the previous line
//!  "lr": 0.00099,               // this step's learning rate
//!  "images_per_second": 310.2,  // training throughput of this invocation so far
//!  "validation_eer": 0.08}      // only on validation lines: EER on the validation identities
//! ```
//! On `--resume` the lines after the checkpoint's step are dropped (they belong to steps that will
//! be run again), so the file describes one run without repeats.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::run::StepReport;
use super::TrainError;

/// File name of the log inside a run folder.
pub const LOG_FILE: &str = "log.jsonl";

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Steps taken.
    pub step: usize,
    /// Steps in the whole run.
    pub total: usize,
    /// This step's loss.
    pub loss: f32,
    /// Mean loss over the steps since the previous line.
    pub mean_loss: f32,
    /// This step's learning rate.
    pub lr: f64,
    /// Training images per second in this invocation so far.
    pub images_per_second: f64,
    /// Validation EER after this step, a fraction in `[0, 1]`, on validation lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_eer: Option<f64>,
}

/// Appends [`LogRecord`]s to a log file.
pub struct TrainLog {
    path: PathBuf,
    file: File,
    every: usize,
    pending: Vec<f32>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TrainLog {
    /// Opens `path` for a run that has taken `resumed_at` steps: a fresh run (`0`) starts an empty
    /// file; a resumed one keeps the lines up to that step and drops the rest. A line is written
    /// every `every` steps (0: only validation lines and the last step).
    pub fn open(path: &Path, resumed_at: usize, every: usize) -> Result<Self, TrainError> {
        let kept = if resumed_at > 0 && path.exists() {
            read_log(path)?
                .into_iter()
                .filter(|r| r.step <= resumed_at)
                .collect()
        } else {
            Vec::new()
        };
        let mut text = String::new();
        for r in &kept {
            text.push_str(&to_line(path, r)?);
        }
        fs::write(path, text).map_err(io(path))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            every,
            pending: Vec::new(),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `r`; writes a line when it is due (see [`TrainLog::open`]) or when `last` is set.
    pub fn record(&mut self, r: &StepReport, last: bool) -> Result<(), TrainError> {
        self.pending.push(r.loss);
        let due = (self.every > 0 && r.step.is_multiple_of(self.every))
            || r.validation_eer.is_some()
            || r.step == r.total
            || last;
        if !due {
            return Ok(());
        }
        let mean_loss = self.pending.iter().sum::<f32>() / self.pending.len() as f32;
        self.pending.clear();
        let line = to_line(
            &self.path,
            &LogRecord {
                step: r.step,
                total: r.total,
                loss: r.loss,
                mean_loss,
                lr: r.lr,
                images_per_second: r.images_per_second,
                validation_eer: r.validation_eer,
            },
        )?;
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(io(&self.path))
    }
}

fn to_line(path: &Path, r: &LogRecord) -> Result<String, TrainError> {
    let mut s = serde_json::to_string(r).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}

/// Reads every line of a log; a malformed line is an error naming its number.
pub fn read_log(path: &Path) -> Result<Vec<LogRecord>, TrainError> {
    let file = File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|e| TrainError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("line {}: {e}", n + 1),
            })?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: usize, eer: Option<f64>) -> StepReport {
        StepReport {
            step,
            total: 10,
            loss: step as f32,
            lr: 1e-3,
            images_per_second: 100.0,
            validation_eer: eer,
        }
    }

    #[test]
    fn writes_due_lines_and_trims_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut log = TrainLog::open(&path, 0, 4).unwrap();
        for s in 1..=7 {
            log.record(&report(s, (s == 6).then_some(0.25)), false)
                .unwrap();
        }
        let r = read_log(&path).unwrap();
        let steps: Vec<usize> = r.iter().map(|x| x.step).collect();
        assert_eq!(steps, [4, 6]);
        assert_eq!(r[0].mean_loss, 2.5);
        assert_eq!(r[1].validation_eer, Some(0.25));
        assert_eq!(r[1].mean_loss, 5.5);
        drop(log);
        let mut log = TrainLog::open(&path, 5, 4).unwrap();
        log.record(&report(6, None), true).unwrap();
        let steps: Vec<usize> = read_log(&path).unwrap().iter().map(|x| x.step).collect();
        assert_eq!(steps, [4, 6]);
        std::fs::write(&path, "{\"step\": 1}\n").unwrap();
        let err = read_log(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
