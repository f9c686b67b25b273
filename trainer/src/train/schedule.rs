//! Learning rate as a function of the step: linear warm-up, then cosine decay or constant.

use super::config::{OptimizerConfig, Schedule};

/// Learning rate of step `step` (0-based) of a `total`-step run.
///
/// Warm-up: `lr * (step + 1) / warmup_steps` for `step < warmup_steps`. Cosine: from `lr` at the end
/// of warm-up to `min_lr_ratio * lr` at step `total - 1`,
/// `min + (lr - min) * (1 + cos(pi * t)) / 2` with `t = (step - warmup) / (total - 1 - warmup)`.
pub fn learning_rate(cfg: &OptimizerConfig, step: usize, total: usize) -> f64 {
    let warm = cfg.warmup_steps;
    if step < warm {
        return cfg.lr * (step + 1) as f64 / warm as f64;
    }
    match cfg.schedule {
        Schedule::Constant => cfg.lr,
        Schedule::Cosine => {
            let span = total.saturating_sub(1).saturating_sub(warm);
            let t = if span == 0 {
                1.0
            } else {
                ((step - warm) as f64 / span as f64).min(1.0)
            };
            let min = cfg.lr * cfg.min_lr_ratio;
            min + (cfg.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_then_cosine_to_the_floor() {
        let cfg = OptimizerConfig {
            lr: 1.0,
            warmup_steps: 4,
            min_lr_ratio: 0.1,
            ..OptimizerConfig::default()
        };
        let lr = |s| learning_rate(&cfg, s, 14);
        assert_eq!([lr(0), lr(1), lr(3)], [0.25, 0.5, 1.0]);
        assert!((lr(4) - 1.0).abs() < 1e-12);
        assert!((lr(13) - 0.1).abs() < 1e-12);
        // halfway through the cosine part: (1 + 0.1) / 2
        assert!((lr(8) + lr(9) - 2.0 * 0.55).abs() < 1e-2);
        assert!((learning_rate(&cfg, 30, 14) - 0.1).abs() < 1e-12);
        let constant = OptimizerConfig {
            schedule: super::Schedule::Constant,
            ..cfg
        };
        assert_eq!(learning_rate(&constant, 10, 14), 1.0);
    }
}
