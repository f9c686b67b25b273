//! Optimisers whose state can be saved and restored: AdamW (the update rule of candle-nn's `AdamW`,
//! checked against it in a test) and SGD with momentum (PyTorch's rule).
//!
//! candle-nn's optimisers keep their moments private, so a run resumed from a checkpoint could not
//! continue the same trajectory with them; these keep the moments as named tensors
//! (`m.NAME`, `v.NAME` for AdamW, `buf.NAME` for SGD) that [`Optimizer::state`] hands out and
//! [`Optimizer::load_state`] takes back.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

use super::config::{OptimizerConfig, OptimizerKind};

/// An optimiser over named variables.
#[derive(Debug)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    vars: Vec<(String, Var)>,
    first: Vec<Var>,
    second: Vec<Var>,
    steps_taken: u64,
}

impl Optimizer {
    /// An optimiser over `vars` (name, variable), all moments zero. Variables are kept in name order.
    pub fn new(mut vars: Vec<(String, Var)>, cfg: OptimizerConfig) -> Result<Self> {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| Var::zeros(v.shape(), v.dtype(), v.device());
        let first = vars
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<Result<Vec<_>>>()?;
        let second = match cfg.kind {
            OptimizerKind::Adamw => vars.iter().map(|(_, v)| zeros(v)).collect::<Result<_>>()?,
            OptimizerKind::Sgd => Vec::new(),
        };
        Ok(Self {
            cfg,
            vars,
            first,
            second,
            steps_taken: 0,
        })
    }

    /// Updates taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// One update at learning rate `lr` with the gradients in `grads` (variables without a gradient
    /// are left alone, moments included).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.steps_taken += 1;
        let wd = self.cfg.weight_decay;
        match self.cfg.kind {
            OptimizerKind::Adamw => {
                let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
                let t = self.steps_taken as i32;
                let scale_m = 1.0 / (1.0 - b1.powi(t));
                let scale_v = 1.0 / (1.0 - b2.powi(t));
                for (i, (_, theta)) in self.vars.iter().enumerate() {
                    let Some(g) = grads.get(theta) else { continue };
                    let (m, v) = (&self.first[i], &self.second[i]);
                    let next_m = ((m.as_tensor() * b1)? + (g * (1.0 - b1))?)?;
                    let next_v = ((v.as_tensor() * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let m_hat = (&next_m * scale_m)?;
                    let v_hat = (&next_v * scale_v)?;
                    let decayed = (theta.as_tensor() * (1.0 - lr * wd))?;
                    let adjusted = (m_hat / (v_hat.sqrt()? + self.cfg.eps)?)?;
                    let next = (decayed - (adjusted * lr)?)?;
                    m.set(&next_m)?;
                    v.set(&next_v)?;
                    theta.set(&next)?;
                }
            }
            OptimizerKind::Sgd => {
                let mu = self.cfg.momentum;
                let first_step = self.steps_taken == 1;
                for (i, (_, theta)) in self.vars.iter().enumerate() {
                    let Some(g) = grads.get(theta) else { continue };
                    let g = if wd != 0.0 {
                        (g + (theta.as_tensor() * wd)?)?
                    } else {
                        g.clone()
                    };
                    let buf = &self.first[i];
                    let next_buf = if first_step {
                        g
                    } else {
                        ((buf.as_tensor() * mu)? + g)?
                    };
                    let next = (theta.as_tensor() - (&next_buf * lr)?)?;
                    buf.set(&next_buf)?;
                    theta.set(&next)?;
                }
            }
        }
        Ok(())
    }

    /// The moments as named tensors (copies), for a checkpoint.
    pub fn state(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        let (p1, p2) = match self.cfg.kind {
            OptimizerKind::Adamw => ("m.", "v."),
            OptimizerKind::Sgd => ("buf.", ""),
        };
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("{p1}{name}"), self.first[i].as_tensor().copy()?);
            if let Some(v) = self.second.get(i) {
                out.insert(format!("{p2}{name}"), v.as_tensor().copy()?);
            }
        }
        Ok(out)
    }

    /// Restores moments saved by [`Optimizer::state`] and the count of updates taken.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, steps_taken: u64) -> Result<()> {
        let (p1, p2) = match self.cfg.kind {
            OptimizerKind::Adamw => ("m.", "v."),
            OptimizerKind::Sgd => ("buf.", ""),
        };
        let fetch = |key: String| {
            state
                .get(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("optimizer state lacks {key}")))
        };
        for (i, (name, _)) in self.vars.iter().enumerate() {
            self.first[i].set(fetch(format!("{p1}{name}"))?)?;
            if let Some(v) = self.second.get(i) {
                v.set(fetch(format!("{p2}{name}"))?)?;
            }
        }
        self.steps_taken = steps_taken;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::Optimizer as _;

    fn quadratic_run(ours: bool) -> Vec<f32> {
        let dev = Device::Cpu;
        let w = Var::new(&[1.0f32, -2.0, 3.0], &dev).unwrap();
        let target = Tensor::new(&[0.5f32, 0.5, 0.5], &dev).unwrap();
        let cfg = OptimizerConfig {
            lr: 0.1,
            weight_decay: 0.01,
            ..OptimizerConfig::default()
        };
        let mut mine = Optimizer::new(vec![("w".into(), w.clone())], cfg.clone()).unwrap();
        let mut theirs = candle_nn::AdamW::new(
            vec![w.clone()],
            candle_nn::ParamsAdamW {
                lr: cfg.lr,
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
            },
        )
        .unwrap();
        for _ in 0..5 {
            let loss = (w.as_tensor() - &target)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let g = loss.backward().unwrap();
            if ours {
                mine.step(&g, cfg.lr).unwrap();
            } else {
                theirs.step(&g).unwrap();
            }
        }
        w.as_tensor().to_vec1().unwrap()
    }

    #[test]
    fn adamw_matches_candle_nn() {
        assert_eq!(quadratic_run(true), quadratic_run(false));
    }

    // Golden by hand (python3), PyTorch's SGD(lr=0.1, momentum=0.9) on f(w) = w^2 from w = 1:
    //   w, buf = 1.0, None
    //   for _ in range(3):
    //       g = 2 * w; buf = g if buf is None else 0.9 * buf + g; w -= 0.1 * buf
    //   -> w = 0.8, 0.46, 0.062 after steps 1, 2, 3
    #[test]
    fn sgd_momentum_golden_and_state_round_trip() {
        let dev = Device::Cpu;
        let w = Var::new(&[1.0f32], &dev).unwrap();
        let cfg = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            weight_decay: 0.0,
            ..OptimizerConfig::default()
        };
        let mut opt = Optimizer::new(vec![("w".into(), w.clone())], cfg.clone()).unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let g = w
                .as_tensor()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            opt.step(&g, 0.1).unwrap();
            seen.push(w.as_tensor().to_vec1::<f32>().unwrap()[0]);
        }
        for (s, e) in seen.iter().zip([0.8f32, 0.46, 0.062]) {
            assert!((s - e).abs() < 1e-6, "{seen:?}");
        }
        let state = opt.state().unwrap();
        let mut other = Optimizer::new(vec![("w".into(), w.clone())], cfg).unwrap();
        other.load_state(&state, 3).unwrap();
        assert_eq!(
            other.state().unwrap()["buf.w"].to_vec1::<f32>().unwrap(),
            state["buf.w"].to_vec1::<f32>().unwrap()
        );
        assert_eq!(other.steps_taken(), 3);
    }
}
