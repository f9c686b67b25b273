//! Networks: the Siamese embedding CNN (REFERENCE.md's, and a compact depthwise-separable family for
//! microcontrollers), the 2-channel network and the hybrid network, with seeded initialisation.
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
pub mod encoder;
pub mod hybrid;
pub mod im2col;
pub mod init;
pub mod max_pool;
pub mod separable_block;
pub mod two_channel;

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
