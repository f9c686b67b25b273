//! Packed dual-16-bit kernels for Cortex-M4/M7 (feature `dsp`).

use siamedge_format::Model;

use super::kernels::conv2d::Conv2d;
use super::kernels::dense::Dense;

/// Convolution through the fastest kernel this build has.
pub fn conv2d(k: &Conv2d<'_>, input: &[i8], output: &mut [i8], _scratch: &mut [i8]) {
    k.eval(input, output)
}

/// Dense layer through the fastest kernel this build has.
pub fn dense(k: &Dense<'_>, input: &[i8], output: &mut [i8], _scratch: &mut [i8]) {
    k.eval(input, output)
}

/// Arena bytes that give every layer the scratch its fastest kernel wants.
pub fn arena_bytes(model: &Model<'_>) -> usize {
    super::needed_arena_bytes(model)
}
