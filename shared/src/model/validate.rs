//! The checks that make a decoded model safe to run: bounds, lengths against shapes, the shape
//! and quantization chain, requantization against scales, the arena rule.

use super::layer::{Layer, LayerKind, Quant, Shape};
use super::window::Window;
use super::{EmbeddingSpec, InputSpec, Model, MAX_DIM, MAX_TENSOR_ELEMENTS};
use crate::embedding::MAX_EMBEDDING_DIM;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::metric::Metric;
use crate::quantize::{requantization_matches, MAX_SHIFT, MIN_SHIFT};
use crate::wire::{check_range, check_scale};

const KIND: FileKind = FileKind::Model;

fn top(name: &'static str) -> Field {
    Field::new(KIND, name)
}

fn dim(at: Field, value: u16) -> Result<(), FormatError> {
    check_range(at, i64::from(value), 1, i64::from(MAX_DIM))
}

fn finite(at: Field, value: f32, positive: bool) -> Result<(), FormatError> {
    let ok = value.is_finite() && (!positive || value > 0.0);
    if ok {
        Ok(())
    } else if positive {
        Err(FormatError::Malformed {
            at,
            reason: "must be finite and > 0",
        })
    } else {
        Err(FormatError::Malformed {
            at,
            reason: "must be finite",
        })
    }
}

fn equal(at: Field, expected: u64, found: u64) -> Result<(), FormatError> {
    if expected == found {
        Ok(())
    } else {
        Err(FormatError::Mismatch {
            at,
            expected,
            found,
        })
    }
}

pub(super) fn check_input(input: &InputSpec) -> Result<(), FormatError> {
    dim(top("input.width"), input.width)?;
    dim(top("input.height"), input.height)?;
    for m in &input.mean {
        finite(top("input.mean"), *m, false)?;
    }
    for s in &input.std {
        finite(top("input.std"), *s, true)?;
    }
    check_scale(top("input.quant.scale"), input.quant.scale)
}

pub(super) fn check_embedding_spec(e: &EmbeddingSpec) -> Result<(), FormatError> {
    check_range(
        top("embedding.dim"),
        i64::from(e.dim),
        1,
        MAX_EMBEDDING_DIM as i64,
    )?;
    check_scale(top("embedding.scale"), e.scale)
}

pub(super) fn check_metric(metric: &Metric<'_>, e: &EmbeddingSpec) -> Result<(), FormatError> {
    if let Metric::MahalanobisDiag(w) = metric {
        equal(top("metric.diagonal"), u64::from(e.dim), w.len() as u64)?;
        for v in w.iter() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(FormatError::Malformed {
                    at: top("metric.diagonal"),
                    reason: "inverse variances must be finite and >= 0",
                });
            }
        }
    }
    Ok(())
}

/// Checks one shape: every side in `1..=MAX_DIM`, at most `MAX_TENSOR_ELEMENTS` elements.
fn check_shape(i: u32, names: [&'static str; 4], s: Shape) -> Result<(), FormatError> {
    let [h, w, c, all] = names;
    dim(Field::item(KIND, i, h), s.h)?;
    dim(Field::item(KIND, i, w), s.w)?;
    dim(Field::item(KIND, i, c), s.c)?;
    check_range(
        Field::item(KIND, i, all),
        s.elements() as i64,
        1,
        MAX_TENSOR_ELEMENTS as i64,
    )
}

/// Checks a window's parameters and returns its output `(rows, columns)` on `input`.
fn check_window(i: u32, w: &Window, input: Shape, pool: bool) -> Result<(u64, u64), FormatError> {
    let f = |name| Field::item(KIND, i, name);
    dim(f("kind.kernel_h"), w.kernel_h)?;
    dim(f("kind.kernel_w"), w.kernel_w)?;
    dim(f("kind.stride_h"), w.stride_h)?;
    dim(f("kind.stride_w"), w.stride_w)?;
    let max_dilation = if pool { 1 } else { i64::from(MAX_DIM) };
    check_range(
        f("kind.dilation_h"),
        i64::from(w.dilation_h),
        1,
        max_dilation,
    )?;
    check_range(
        f("kind.dilation_w"),
        i64::from(w.dilation_w),
        1,
        max_dilation,
    )?;
    // Padding below the effective window size: every window then covers a real cell, so an
    // average never divides by zero and a maximum always exists.
    let (eh, ew) = (w.effective_h() as i64, w.effective_w() as i64);
    let p = w.padding;
    check_range(f("kind.padding.top"), i64::from(p.top), 0, eh - 1)?;
    check_range(f("kind.padding.bottom"), i64::from(p.bottom), 0, eh - 1)?;
    check_range(f("kind.padding.left"), i64::from(p.left), 0, ew - 1)?;
    check_range(f("kind.padding.right"), i64::from(p.right), 0, ew - 1)?;
    let padded_h = i64::from(input.h) + i64::from(p.top) + i64::from(p.bottom);
    let padded_w = i64::from(input.w) + i64::from(p.left) + i64::from(p.right);
    check_range(f("kind.kernel_h"), eh, 1, padded_h)?;
    check_range(f("kind.kernel_w"), ew, 1, padded_w)?;
    w.output_hw(input.h, input.w).ok_or(FormatError::Malformed {
        at: f("kind"),
        reason: "the window does not fit the padded input",
    })
}

fn check_output(i: u32, expected: (u64, u64, u64), found: Shape) -> Result<(), FormatError> {
    equal(
        Field::item(KIND, i, "output.h"),
        expected.0,
        u64::from(found.h),
    )?;
    equal(
        Field::item(KIND, i, "output.w"),
        expected.1,
        u64::from(found.w),
    )?;
    equal(
        Field::item(KIND, i, "output.c"),
        expected.2,
        u64::from(found.c),
    )
}

fn same_quant(i: u32, layer: &Layer<'_>) -> Result<(), FormatError> {
    if layer.input_quant.same(&layer.output_quant) {
        Ok(())
    } else {
        Err(FormatError::Malformed {
            at: Field::item(KIND, i, "output_quant"),
            reason: "pooling and reshaping layers keep their input quantization",
        })
    }
}

/// Checks that a layer without weights carries no parameter arrays.
fn no_params(i: u32, layer: &Layer<'_>) -> Result<(), FormatError> {
    let f = |name| Field::item(KIND, i, name);
    equal(f("weights"), 0, layer.weights.len() as u64)?;
    equal(f("weight_scales"), 0, layer.weight_scales.len() as u64)?;
    equal(f("bias"), 0, layer.bias.len() as u64)?;
    equal(f("multipliers"), 0, layer.multipliers.len() as u64)?;
    equal(f("shifts"), 0, layer.shifts.len() as u64)
}

/// Checks the per-channel arrays of a layer with weights (`weights` long weights).
fn params(i: u32, layer: &Layer<'_>, weights: u64) -> Result<(), FormatError> {
    let f = |name| Field::item(KIND, i, name);
    let out_c = u64::from(layer.output.c);
    equal(f("weights"), weights, layer.weights.len() as u64)?;
    equal(f("weight_scales"), out_c, layer.weight_scales.len() as u64)?;
    equal(f("bias"), out_c, layer.bias.len() as u64)?;
    equal(f("multipliers"), out_c, layer.multipliers.len() as u64)?;
    equal(f("shifts"), out_c, layer.shifts.len() as u64)?;
    let per_channel = layer
        .weight_scales
        .iter()
        .zip(layer.multipliers.iter())
        .zip(layer.shifts());
    for ((scale, multiplier), &shift) in per_channel {
        check_scale(f("weight_scales"), scale)?;
        check_range(
            f("shifts"),
            i64::from(shift),
            i64::from(MIN_SHIFT),
            i64::from(MAX_SHIFT),
        )?;
        if multiplier != 0 {
            check_range(
                f("multipliers"),
                i64::from(multiplier),
                1 << 30,
                i64::from(i32::MAX),
            )?;
        }
        let real = f64::from(layer.input_quant.scale) * f64::from(scale)
            / f64::from(layer.output_quant.scale);
        if !requantization_matches(real, multiplier, shift) {
            return Err(FormatError::Malformed {
                at: f("multipliers"),
                reason: "multiplier and shift do not stand for input_scale * weight_scale / output_scale",
            });
        }
    }
    Ok(())
}

/// Checks one layer on its own: shapes, window, output shape, parameter lengths and values.
pub(super) fn check_layer(index: usize, layer: &Layer<'_>) -> Result<(), FormatError> {
    let i = index as u32;
    let f = |name| Field::item(KIND, i, name);
    check_shape(i, ["input.h", "input.w", "input.c", "input"], layer.input)?;
    check_shape(
        i,
        ["output.h", "output.w", "output.c", "output"],
        layer.output,
    )?;
    check_scale(f("input_quant.scale"), layer.input_quant.scale)?;
    check_scale(f("output_quant.scale"), layer.output_quant.scale)?;
    let act = layer.activation;
    check_range(
        f("activation.min"),
        i64::from(act.min),
        i64::from(i8::MIN),
        i64::from(act.max),
    )?;
    let (input, output) = (layer.input, layer.output);
    let (in_c, out_c) = (u64::from(input.c), u64::from(output.c));
    match &layer.kind {
        LayerKind::Conv2d(w) => {
            let (h, wd) = check_window(i, w, input, false)?;
            check_output(i, (h, wd, out_c), output)?;
            let taps = u64::from(w.kernel_h) * u64::from(w.kernel_w);
            params(i, layer, out_c * taps * in_c)
        }
        LayerKind::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => {
            dim(f("kind.depth_multiplier"), *depth_multiplier)?;
            let (h, wd) = check_window(i, window, input, false)?;
            check_output(i, (h, wd, in_c * u64::from(*depth_multiplier)), output)?;
            let taps = u64::from(window.kernel_h) * u64::from(window.kernel_w);
            params(i, layer, taps * out_c)
        }
        LayerKind::Dense => {
            check_output(i, (1, 1, out_c), output)?;
            params(i, layer, out_c * input.elements())
        }
        LayerKind::MaxPool2d(w) | LayerKind::AvgPool2d(w) => {
            let (h, wd) = check_window(i, w, input, true)?;
            check_output(i, (h, wd, in_c), output)?;
            same_quant(i, layer)?;
            no_params(i, layer)
        }
        LayerKind::GlobalAvgPool => {
            check_output(i, (1, 1, in_c), output)?;
            same_quant(i, layer)?;
            no_params(i, layer)
        }
        LayerKind::L2Normalize => {
            check_output(i, (u64::from(input.h), u64::from(input.w), in_c), output)?;
            if !layer.output_quant.same(&Quant::new(1.0 / 128.0, 0)) {
                return Err(FormatError::Malformed {
                    at: f("output_quant"),
                    reason: "L2Normalize outputs scale 1/128, zero point 0",
                });
            }
            no_params(i, layer)
        }
        LayerKind::Reshape => {
            equal(f("output"), input.elements(), output.elements())?;
            same_quant(i, layer)?;
            no_params(i, layer)
        }
    }
}

/// Checks what links the parts: input spec to the first layer, each layer to the next, the last
/// layer to the embedding spec, and the arena size.
pub(super) fn check_chain(model: &Model<'_>) -> Result<(), FormatError> {
    let mut expected_shape = model.input.shape();
    let mut expected_quant = model.input.quant;
    for (i, layer) in model.layers.iter().enumerate() {
        let f = |name| Field::item(KIND, i as u32, name);
        equal(
            f("input.h"),
            u64::from(expected_shape.h),
            u64::from(layer.input.h),
        )?;
        equal(
            f("input.w"),
            u64::from(expected_shape.w),
            u64::from(layer.input.w),
        )?;
        equal(
            f("input.c"),
            u64::from(expected_shape.c),
            u64::from(layer.input.c),
        )?;
        if !layer.input_quant.same(&expected_quant) {
            return Err(FormatError::Malformed {
                at: f("input_quant"),
                reason:
                    "differs from the previous layer's output quantization (or the input spec's)",
            });
        }
        expected_shape = layer.output;
        expected_quant = layer.output_quant;
    }
    let e = &model.embedding;
    equal(
        top("embedding.dim"),
        u64::from(expected_shape.c),
        u64::from(e.dim),
    )?;
    let last_is_vector = expected_shape.h == 1 && expected_shape.w == 1;
    if !last_is_vector {
        return Err(FormatError::Malformed {
            at: top("layers"),
            reason: "the last layer's output must be (1, 1, embedding.dim)",
        });
    }
    if !expected_quant.same(&Quant::new(e.scale, 0)) {
        return Err(FormatError::Malformed {
            at: top("embedding.scale"),
            reason: "the last layer's output quantization must be (embedding.scale, zero point 0)",
        });
    }
    let ends_normalized = model.layers.last().map(|l| l.kind) == Some(LayerKind::L2Normalize);
    if e.l2_normalized != ends_normalized {
        return Err(FormatError::Malformed {
            at: top("embedding.l2_normalized"),
            reason: "must be true exactly when the last layer is L2Normalize",
        });
    }
    let min = model.min_arena_bytes();
    check_range(
        top("arena_bytes"),
        i64::from(model.arena_bytes),
        min as i64,
        i64::from(u32::MAX),
    )
}
