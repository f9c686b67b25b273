//! Networks: the Siamese embedding CNN (REFERENCE.md's, and a compact depthwise-separable family for
//! microcontrollers), and the pair-comparison networks that score a pair rather than embed an image
//! (2-channel, hybrid, intermediate merging, cross-input neighborhood differences, normalized
//! correlation), with seeded initialisation.
//!
//! Every layer is a struct with a pure `new(...)` and a constructor function that takes its parameters
//! from a `VarBuilder` path (`conv_block(16, 32, vb.pp("block1"))`), as in candle-nn. Inputs are NCHW
//! f32 with pixel values in `[0, 1]`; parameter names and layouts are PyTorch's, so a state dict maps
//! one to one. Training mode (`forward_t(x, true)`) normalises with batch statistics and updates the
//! BatchNorm running statistics; evaluation mode uses the running statistics.

pub mod arch;
pub mod batch_norm;
mod batch_norm_op;
pub mod conv;
pub mod conv_block;
mod conv_bn_op;
pub mod conv_op;
pub mod cost;
pub mod cross_input_net;
pub mod encoder;
pub mod hybrid;
pub mod im2col;
pub mod init;
pub mod max_pool;
pub mod merge_net;
pub mod neighborhood_diff;
pub mod norm_corr;
pub mod norm_corr_net;
pub mod pair_config;
pub mod pair_head;
mod par;
pub mod separable_block;
pub mod two_channel;
pub mod window;

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the model tests.
    use candle_core::Tensor;

    /// The largest absolute element of `t` (any shape, f32).
    pub(crate) fn max_abs(t: Tensor) -> f32 {
        t.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Deterministic values in `[-1, 1)` (a 64-bit LCG seeded with `seed`).
    pub(crate) fn lcg_values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Checks the gradient of the scalar `loss(inputs)` with respect to every input, computed by
    /// candle's backward pass, against central finite differences (step 1e-6) in f64, at inputs
    /// drawn by [`lcg_values`] with shapes `shapes`: every element must agree within
    /// `1e-6 + 1e-5 * |grad|`.
    pub(crate) fn finite_difference_check(
        loss: impl Fn(&[Tensor]) -> candle_core::Result<Tensor>,
        shapes: &[(usize, usize, usize, usize)],
        seed: u64,
    ) {
        use candle_core::{Device, Var};
        let dev = Device::Cpu;
        let values: Vec<Vec<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| lcg_values(s.0 * s.1 * s.2 * s.3, seed + i as u64))
            .collect();
        let make = |vals: &[Vec<f64>]| -> Vec<Tensor> {
            vals.iter()
                .zip(shapes)
                .map(|(v, s)| Tensor::from_vec(v.clone(), *s, &dev).unwrap())
                .collect()
        };
        let vars: Vec<Var> = make(&values)
            .into_iter()
            .map(|t| Var::from_tensor(&t).unwrap())
            .collect();
        let inputs: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let grads = loss(&inputs).unwrap().backward().unwrap();
        let at =
            |vals: &[Vec<f64>]| -> f64 { loss(&make(vals)).unwrap().to_scalar::<f64>().unwrap() };
        let h = 1e-6;
        for (i, var) in vars.iter().enumerate() {
            let g: Vec<f64> = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for input {i}"))
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for j in 0..values[i].len() {
                let mut plus = values.clone();
                plus[i][j] += h;
                let mut minus = values.clone();
                minus[i][j] -= h;
                let numeric = (at(&plus) - at(&minus)) / (2.0 * h);
                assert!(
                    (numeric - g[j]).abs() <= 1e-6 + 1e-5 * g[j].abs().max(numeric.abs()),
                    "input {i} element {j}: backward {} vs finite difference {numeric}",
                    g[j]
                );
            }
        }
    }
}

pub use arch::{Arch, Model, ModelConfig};
pub use encoder::{encoder, Encoder, EncoderConfig};
pub use init::seeded_var_builder;

/// Why a network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration field is out of range.
    #[error("model config `{field}`: {reason}")]
    InvalidConfig {
        /// The field's name.
        field: &'static str,
        /// What is wrong and what would fit.
        reason: String,
    },
    /// candle failed while creating parameters.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
