//! Seeded parameter initialisation.
//!
//! candle's CPU device cannot be seeded (`Device::set_seed` fails on CPU), so a `VarMap` filled through
//! `VarBuilder::from_varmap` differs from run to run. [`SeededInit`] is a `VarBuilder` backend that
//! creates each missing variable in the same `VarMap`, drawing its values from a ChaCha8 stream seeded
//! once: the same seed and the same construction order give bit-identical parameters. It follows the
//! initialisation hints the layers pass (`Init::Const`, `Randn`, `Uniform`, `Kaiming`), with the same
//! formulas as `candle_nn::Init::var`.
//!
//! Use it when a run must be reproducible (training, tests); load trained weights with
//! `VarBuilder::from_mmaped_safetensors` or `VarMap::load` instead.

use std::sync::Mutex;

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::init::NormalOrUniform;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A `VarBuilder` backend that adds missing variables to a `VarMap`, initialised from a seeded stream.
pub struct SeededInit {
    varmap: VarMap,
    rng: Mutex<ChaCha8Rng>,
}

impl SeededInit {
    /// Wraps `varmap`; variables it already holds are returned as they are (shapes are checked).
    pub fn new(varmap: VarMap, seed: u64) -> Self {
        Self {
            varmap,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    fn values(&self, shape: &Shape, init: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => uniform(&mut rng, n, lo, up),
            Init::Randn { mean, stdev } => normal(&mut rng, n, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let fan = fan.for_shape(shape).max(1);
                let std = non_linearity.gain() / (fan as f64).sqrt();
                match dist {
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        uniform(&mut rng, n, -bound, bound)
                    }
                    NormalOrUniform::Normal => normal(&mut rng, n, 0.0, std),
                }
            }
        }
    }
}

fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f64, up: f64) -> Vec<f32> {
    (0..n)
        .map(|_| (lo + (up - lo) * rng.random::<f64>()) as f32)
        .collect()
}

/// Box-Muller; two uniforms per value keep the stream position independent of `n`'s parity.
fn normal(rng: &mut ChaCha8Rng, n: usize, mean: f64, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (mean + std * z) as f32
        })
        .collect()
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(var) = data.get(name) {
            if var.shape() != &s {
                candle_core::bail!("shape mismatch on {name}: {s:?} <> {:?}", var.shape())
            }
            return Ok(var.as_tensor().clone());
        }
        let values = self.values(&s, h);
        let tensor = Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        match data.get(name) {
            Some(var) => Ok(var.as_tensor().clone()),
            None => candle_core::bail!("cannot find {name} in the VarMap"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.contains_key(name)
    }
}

/// A `VarBuilder` (f32) whose missing variables are created in `varmap` from a ChaCha8 stream seeded
/// with `seed`.
pub fn seeded_var_builder(varmap: &VarMap, seed: u64, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(
        Box::new(SeededInit::new(varmap.clone(), seed)),
        DType::F32,
        device.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(seed: u64) -> Vec<f32> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, seed, &Device::Cpu);
        let w = vb
            .pp("l")
            .get_with_hints((4, 3), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)
            .unwrap();
        w.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn same_seed_same_values_other_seed_other_values() {
        assert_eq!(build(7), build(7));
        assert_ne!(build(7), build(8));
    }

    #[test]
    fn kaiming_normal_has_the_expected_spread() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 1, &Device::Cpu);
        let w = vb
            .get_with_hints((64, 100), "w", candle_nn::init::DEFAULT_KAIMING_NORMAL)
            .unwrap();
        let v: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32;
        // gain sqrt(2), fan-in 100: std = 0.1414, variance 0.02.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 0.02).abs() < 0.002, "variance {var}");
        assert!(varmap.data().lock().unwrap().contains_key("w"));
    }
}
