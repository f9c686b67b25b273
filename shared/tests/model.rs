//! Model files: every layer kind through encode and decode, and every validation the decoder
//! runs, each with the error it gives.

mod common;

use siamedge_format::{
    quantize_multiplier, Activation, Field, FileKind, FormatError, LayerKind, LayerSpec,
    MetricSpec, Model, ModelSpec, Padding, Shape, Window,
};

use common::{payload, reseal, tiny_model_spec};

const KIND: FileKind = FileKind::Model;

#[test]
fn every_layer_kind_round_trips() -> Result<(), FormatError> {
    let spec = common::every_kind_spec()?;
    let bytes = spec.to_bytes()?;
    let model = Model::decode(&bytes)?;
    let kinds: Vec<&str> = model.layers().iter().map(|l| l.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "conv2d",
            "depthwise_conv2d",
            "max_pool2d",
            "avg_pool2d",
            "reshape",
            "global_avg_pool",
            "dense",
            "l2_normalize"
        ]
    );
    let shapes: Vec<Shape> = model.layers().iter().map(|l| l.output).collect();
    assert_eq!(
        shapes,
        [
            Shape::new(4, 4, 4),
            Shape::new(4, 4, 8),
            Shape::new(2, 2, 8),
            Shape::new(2, 2, 8),
            Shape::new(4, 1, 8),
            Shape::new(1, 1, 8),
            Shape::new(1, 1, 16),
            Shape::new(1, 1, 16)
        ]
    );
    let LayerKind::DepthwiseConv2d { window, .. } = model.layers()[1].kind else {
        panic!()
    };
    assert_eq!(
        window.padding,
        Padding {
            top: 2,
            left: 2,
            bottom: 2,
            right: 2
        }
    );
    assert_eq!(model.arena_bytes(), 192 + 64);
    let mut expected = spec.clone();
    expected.arena_bytes = Some(256);
    assert_eq!(ModelSpec::from_model(&model), expected);
    assert_eq!(ModelSpec::from_model(&model).to_bytes()?, bytes);
    for layer in model.layers().iter().filter(|l| l.kind.has_weights()) {
        for ch in 0..usize::from(layer.output.c) {
            let real = f64::from(layer.input_quant.scale)
                * f64::from(layer.weight_scale(ch).unwrap_or(0.0))
                / f64::from(layer.output_quant.scale);
            assert_eq!(layer.requantization(ch), Some(quantize_multiplier(real)));
        }
    }
    Ok(())
}

/// Encodes `spec` after `edit` and returns the error.
fn rejected(edit: impl FnOnce(&mut ModelSpec)) -> Result<FormatError, FormatError> {
    let mut spec = tiny_model_spec()?;
    edit(&mut spec);
    match spec.to_bytes() {
        Ok(_) => panic!("accepted: {spec:?}"),
        Err(e) => Ok(e),
    }
}

fn layer(i: u32, name: &'static str) -> Field {
    Field::item(KIND, i, name)
}

#[test]
fn validation_rejections() -> Result<(), FormatError> {
    assert_eq!(
        rejected(|s| {
            s.layers[0].weights.pop();
        })?,
        FormatError::Mismatch {
            at: layer(0, "weights"),
            expected: 18,
            found: 17
        }
    );
    assert_eq!(
        rejected(|s| {
            s.layers[1].bias.push(0);
        })?,
        FormatError::Mismatch {
            at: layer(1, "bias"),
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        rejected(|s| s.input.width = 5)?,
        FormatError::Mismatch {
            at: layer(0, "input.w"),
            expected: 5,
            found: 4
        }
    );
    assert_eq!(
        rejected(|s| s.input.width = 5000)?,
        FormatError::OutOfRange {
            at: Field::new(KIND, "input.width"),
            value: 5000,
            min: 1,
            max: 4096
        }
    );
    assert!(matches!(
        rejected(|s| {
            s.layers[2].input_quant.scale = 0.11;
            s.layers[2].requantize();
        })?,
        FormatError::Malformed {
            at: Field {
                index: Some(2),
                name: "input_quant",
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rejected(|s| {
            s.embedding.dim = 4;
            s.metric = MetricSpec::Cosine;
        })?,
        FormatError::Mismatch {
            at: Field::new(KIND, "embedding.dim"),
            expected: 3,
            found: 4
        }
    );
    assert_eq!(
        rejected(|s| s.embedding.dim = 4)?,
        FormatError::Mismatch {
            at: Field::new(KIND, "metric.diagonal"),
            expected: 4,
            found: 3
        }
    );
    assert_eq!(
        rejected(|s| s.embedding.dim = 2000)?,
        FormatError::OutOfRange {
            at: Field::new(KIND, "embedding.dim"),
            value: 2000,
            min: 1,
            max: 1024
        }
    );
    assert!(matches!(
        rejected(|s| s.metric = MetricSpec::MahalanobisDiag(vec![1.0, f32::NAN, 1.0]))?,
        FormatError::Malformed {
            at: Field {
                name: "metric.diagonal",
                ..
            },
            ..
        }
    ));
    assert!(matches!(
        rejected(|s| s.embedding.l2_normalized = true)?,
        FormatError::Malformed {
            at: Field {
                name: "embedding.l2_normalized",
                ..
            },
            ..
        }
    ));
    assert!(matches!(
        rejected(|s| s.embedding.scale = 0.03)?,
        FormatError::Malformed {
            at: Field {
                name: "embedding.scale",
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rejected(|s| s.layers[0].shifts[0] = 31)?,
        FormatError::OutOfRange {
            at: layer(0, "shifts"),
            value: 31,
            min: -31,
            max: 30
        }
    );
    assert!(matches!(
        rejected(|s| s.layers[0].shifts[1] += 1)?,
        FormatError::Malformed {
            at: Field {
                index: Some(0),
                name: "multipliers",
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rejected(|s| s.layers[2].multipliers[0] = 1 << 29)?,
        FormatError::OutOfRange {
            at: layer(2, "multipliers"),
            value: 1 << 29,
            min: 1 << 30,
            max: i64::from(i32::MAX)
        }
    );
    assert!(matches!(
        rejected(|s| s.layers[1].weight_scales[0] = -1.0)?,
        FormatError::Malformed {
            at: Field {
                index: Some(1),
                name: "weight_scales",
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rejected(|s| {
            if let LayerKind::Conv2d(w) = &mut s.layers[0].kind {
                w.stride_h = 0;
            }
        })?,
        FormatError::OutOfRange {
            at: layer(0, "kind.stride_h"),
            value: 0,
            min: 1,
            max: 4096
        }
    );
    assert_eq!(
        rejected(|s| {
            if let LayerKind::Conv2d(w) = &mut s.layers[0].kind {
                w.padding.top = 3;
            }
        })?,
        FormatError::OutOfRange {
            at: layer(0, "kind.padding.top"),
            value: 3,
            min: 0,
            max: 2
        }
    );
    assert_eq!(
        rejected(|s| {
            if let LayerKind::Conv2d(w) = &mut s.layers[0].kind {
                w.kernel_h = 5;
            }
        })?,
        FormatError::OutOfRange {
            at: layer(0, "kind.kernel_h"),
            value: 5,
            min: 1,
            max: 4
        }
    );
    assert_eq!(
        rejected(|s| s.layers[0].output.h = 3)?,
        FormatError::Mismatch {
            at: layer(0, "output.h"),
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        rejected(|s| s.layers[0].input = Shape::new(4096, 4096, 2))?,
        FormatError::OutOfRange {
            at: layer(0, "input"),
            value: 1 << 25,
            min: 1,
            max: 1 << 24
        }
    );
    assert_eq!(
        rejected(|s| s.layers[0].input.c = 0)?,
        FormatError::OutOfRange {
            at: layer(0, "input.c"),
            value: 0,
            min: 1,
            max: 4096
        }
    );
    assert_eq!(
        rejected(|s| s.layers[0].activation = Activation { min: 5, max: 4 })?,
        FormatError::OutOfRange {
            at: layer(0, "activation.min"),
            value: 5,
            min: -128,
            max: 4
        }
    );
    assert_eq!(
        rejected(|s| s.arena_bytes = Some(23))?,
        FormatError::OutOfRange {
            at: Field::new(KIND, "arena_bytes"),
            value: 23,
            min: 24,
            max: i64::from(u32::MAX)
        }
    );
    assert_eq!(
        rejected(|s| s.layers.clear())?,
        FormatError::OutOfRange {
            at: Field::new(KIND, "layers"),
            value: 0,
            min: 1,
            max: 32
        }
    );
    assert_eq!(
        rejected(|s| {
            let q = s.layers[2].output_quant;
            for _ in 0..30 {
                s.layers.push(LayerSpec::reshape(
                    Shape::new(1, 1, 3),
                    Shape::new(1, 1, 3),
                    q,
                ));
            }
        })?,
        FormatError::OutOfRange {
            at: Field::new(KIND, "layers"),
            value: 33,
            min: 1,
            max: 32
        }
    );
    assert_eq!(
        rejected(|s| {
            let q = s.layers[2].output_quant;
            let mut r = LayerSpec::reshape(Shape::new(1, 1, 3), Shape::new(1, 1, 3), q);
            r.bias.push(1);
            s.layers.push(r);
        })?,
        FormatError::Mismatch {
            at: layer(3, "bias"),
            expected: 0,
            found: 1
        }
    );
    assert_eq!(
        rejected(|s| {
            let q = s.layers[2].output_quant;
            s.layers.push(LayerSpec::reshape(
                Shape::new(1, 1, 3),
                Shape::new(1, 3, 3),
                q,
            ));
        })?,
        FormatError::Mismatch {
            at: layer(3, "output"),
            expected: 3,
            found: 9
        }
    );
    assert!(matches!(
        rejected(|s| {
            let q = s.layers[2].output_quant;
            let mut r = LayerSpec::reshape(Shape::new(1, 1, 3), Shape::new(1, 1, 3), q);
            r.output_quant.zero_point = 1;
            s.layers.push(r);
        })?,
        FormatError::Malformed {
            at: Field {
                index: Some(3),
                name: "output_quant",
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rejected(|s| {
            let q = s.layers[0].output_quant;
            let pool = Window::new(1, 1, 1, 1).with_dilation(2, 1);
            s.layers.insert(
                1,
                LayerSpec::pool(
                    LayerKind::MaxPool2d(Window::new(1, 1, 1, 1)),
                    Shape::new(2, 2, 2),
                    q,
                )
                .unwrap_or_else(|e| panic!("{e}")),
            );
            s.layers[1].kind = LayerKind::MaxPool2d(pool);
        })?,
        FormatError::OutOfRange {
            at: layer(1, "kind.dilation_h"),
            value: 2,
            min: 1,
            max: 1
        }
    );
    Ok(())
}

/// The tiny model's body (payload after the id).
fn body() -> Result<Vec<u8>, FormatError> {
    Ok(payload(&tiny_model_spec()?.to_bytes()?)[16..].to_vec())
}

#[test]
fn raw_byte_rejections() -> Result<(), FormatError> {
    let file = tiny_model_spec()?.to_bytes()?;
    // An altered body whose CRC was fixed up but whose id was not.
    let mut p = payload(&file).to_vec();
    p[16 + 1] = 5; // input.width
    let forged = siamedge_format::envelope::seal_at(KIND, common::written_version(KIND), &p)?;
    assert!(matches!(
        Model::decode(&forged),
        Err(FormatError::BadModelId { .. })
    ));

    let mut b = body()?;
    b[0] = 7; // task tag
    assert!(matches!(
        Model::decode(&reseal(KIND, &b)),
        Err(FormatError::Malformed {
            at: Field { name: "task", .. },
            reason: "unknown tag or invalid value"
        })
    ));

    // The decision section: margin 2.0, default 1, count 2.
    let b = body()?;
    let at = b
        .windows(6)
        .position(|w| w == [0, 0, 0, 0x40, 1, 2])
        .unwrap_or(0)
        + 4;
    let mut bad_default = b.clone();
    bad_default[at] = 5;
    assert_eq!(
        Model::decode(&reseal(KIND, &bad_default)).map(drop),
        Err(FormatError::OutOfRange {
            at: Field::new(KIND, "decision.default"),
            value: 5,
            min: 0,
            max: 1
        })
    );
    let mut many_points = b.clone();
    many_points[at + 1] = 9;
    assert_eq!(
        Model::decode(&reseal(KIND, &many_points)).map(drop),
        Err(FormatError::OutOfRange {
            at: Field::new(KIND, "decision.points"),
            value: 9,
            min: 1,
            max: 8
        })
    );
    let mut zero_far = b;
    zero_far[at + 2..at + 6].copy_from_slice(&0.0f32.to_le_bytes());
    assert!(matches!(
        Model::decode(&reseal(KIND, &zero_far)),
        Err(FormatError::Malformed {
            at: Field {
                name: "decision.points.far",
                ..
            },
            ..
        })
    ));
    Ok(())
}
