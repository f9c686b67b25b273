//! Per-layer instruction counts (feature `profile`): each inference runs through
//! [`Engine::invoke_profiled`], which reads the clock after every layer, and the counts are
//! summed per layer over all inferences. Without the feature, [`Profile::invoke`] is plain
//! [`Engine::invoke`] and [`Profile::report`] prints nothing.
//!
//! The report prints one `layer:` line per model layer: its kind, MACs, instructions per
//! inference and per MAC. A layer fused into the one before it (the DSP path's
//! convolution + max pool) shows 0 instructions: its work is in the convolution's line. The
//! clock reads themselves (a few dozen instructions per layer) land in the counts.

use siamedge_firmware::engine::Engine;
use siamedge_format::Model;
#[cfg(feature = "profile")]
use siamedge_format::MAX_LAYERS;

use crate::clock::{Calibration, Clock};
#[cfg(feature = "profile")]
use crate::report::Ratio;

/// Summed instructions per layer.
pub struct Profile {
    #[cfg(feature = "profile")]
    instructions: [u64; MAX_LAYERS],
    #[cfg(feature = "profile")]
    inferences: u64,
}

impl Profile {
    /// No inference counted yet.
    pub const fn new() -> Self {
        Self {
            #[cfg(feature = "profile")]
            instructions: [0; MAX_LAYERS],
            #[cfg(feature = "profile")]
            inferences: 0,
        }
    }

    /// Runs one inference, counting each layer's instructions with the `profile` feature.
    #[cfg(feature = "profile")]
    pub fn invoke<'e>(
        &mut self,
        engine: &'e mut Engine<'_, '_>,
        clock: &Clock,
        calibration: Calibration,
    ) -> &'e [i8] {
        let mut last = clock.ticks();
        let counts = &mut self.instructions;
        let out = engine.invoke_profiled(|layer| {
            let now = clock.ticks();
            if let Some(c) = counts.get_mut(layer) {
                *c += calibration.instructions(now - last);
            }
            last = now;
        });
        self.inferences += 1;
        out
    }

    /// Runs one inference (plain [`Engine::invoke`] without the `profile` feature).
    #[cfg(not(feature = "profile"))]
    pub fn invoke<'e>(
        &mut self,
        engine: &'e mut Engine<'_, '_>,
        _clock: &Clock,
        _calibration: Calibration,
    ) -> &'e [i8] {
        engine.invoke()
    }

    /// Prints one `layer:` line per layer of `model` (with the `profile` feature).
    #[cfg(feature = "profile")]
    pub fn report(&self, model: &Model<'_>, engine: &Engine<'_, '_>) {
        let n = self.inferences.max(1);
        for (i, layer) in model.layers().iter().enumerate() {
            let instructions = self.instructions.get(i).copied().unwrap_or(0);
            let macs = engine.layer_macs(i);
            crate::say::say!(
                "layer: index={} kind={} output={}x{}x{} macs={} instructions={} per_mac={}",
                i,
                layer.kind.name(),
                layer.output.h,
                layer.output.w,
                layer.output.c,
                macs,
                (instructions + n / 2) / n,
                Ratio(instructions, macs * n)
            );
        }
    }

    /// Prints nothing without the `profile` feature.
    #[cfg(not(feature = "profile"))]
    pub fn report(&self, _model: &Model<'_>, _engine: &Engine<'_, '_>) {}
}
