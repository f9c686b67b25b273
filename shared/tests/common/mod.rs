//! Small valid values of every file kind, shared by the integration tests and the
//! `write_fuzz_corpus` example (which includes this file by path).
#![allow(dead_code)]

use siamedge_format::{
    Activation, DecisionSpec, Embedding, EmbeddingRef, EmbeddingSpec, FormatError, Gallery,
    InputSpec, LayerKind, LayerSpec, MetricSpec, ModelId, ModelSpec, OperatingPoint, Quant, Shape,
    Task, Template, Window,
};

/// A three-layer model on a 4x4 gray input: Conv2d 3x3 (1 -> 2 channels, ReLU), depthwise 2x2,
/// Dense 2 -> 3. Metric: diagonal Mahalanobis.
pub fn tiny_model_spec() -> Result<ModelSpec, FormatError> {
    let input_quant = Quant::new(1.0 / 128.0, 0);
    let conv_out = Quant::new(0.05, -3);
    let dw_out = Quant::new(0.1, 0);
    let embedding = Quant::new(0.02, 0);
    let conv = LayerSpec::weighted(
        LayerKind::Conv2d(Window::new(3, 3, 1, 1)),
        Shape::new(4, 4, 1),
        input_quant,
        conv_out,
        vec![
            1, -2, 3, -4, 5, -6, 7, -8, 9, 10, 20, 30, -40, -50, -60, 70, 80, 127,
        ],
        vec![0.01, 0.02],
        vec![10, -5],
    )?
    .with_activation(Activation::relu(conv_out));
    let dw = LayerSpec::weighted(
        LayerKind::DepthwiseConv2d {
            window: Window::new(2, 2, 1, 1),
            depth_multiplier: 1,
        },
        Shape::new(2, 2, 2),
        conv_out,
        dw_out,
        vec![1, 2, 3, 4, -5, -6, -7, -128],
        vec![0.004, 0.008],
        vec![0, 100],
    )?;
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        Shape::new(1, 1, 2),
        dw_out,
        embedding,
        vec![100, -100, 50, 50, -1, 1],
        vec![0.001, 0.002, 0.003],
        vec![1, 2, 3],
    )?;
    let points = [
        OperatingPoint {
            far: 1e-2,
            threshold: 1.5,
        },
        OperatingPoint {
            far: 1e-3,
            threshold: 1.0,
        },
    ];
    Ok(ModelSpec {
        task: Task::Face,
        input: InputSpec {
            width: 4,
            height: 4,
            channels: 1,
            mean: heapless::Vec::from_slice(&[0.5]).map_err(|_| full())?,
            std: heapless::Vec::from_slice(&[0.5]).map_err(|_| full())?,
            quant: input_quant,
        },
        embedding: EmbeddingSpec {
            dim: 3,
            scale: 0.02,
            l2_normalized: false,
            flip_average: false,
        },
        metric: MetricSpec::MahalanobisDiag(vec![1.0, 0.5, 2.0]),
        decision: DecisionSpec::new(&points, 1, 2.0)?,
        arena_bytes: None,
        layers: vec![conv, dw, dense],
    })
}

fn weights(n: usize, seed: usize) -> Vec<i8> {
    (0..n)
        .map(|i| ((i * 37 + seed * 11) % 255) as i32 - 127)
        .map(|v| v as i8)
        .collect()
}

/// A model using every layer kind: RGB 8x8 in, 16-dim L2-normalized embedding out.
pub fn every_kind_spec() -> Result<ModelSpec, FormatError> {
    let q_in = Quant::new(0.0186, -14);
    let q1 = Quant::new(0.03, -128);
    let q2 = Quant::new(0.05, 3);
    let q3 = Quant::new(0.07, -2);
    let input = Shape::new(8, 8, 3);
    let conv = LayerSpec::weighted(
        LayerKind::Conv2d(Window::new(3, 3, 2, 2).same(input)),
        input,
        q_in,
        q1,
        weights(4 * 9 * 3, 1),
        vec![0.002, 0.003, 0.004, 0.005],
        vec![100, -100, 0, 7],
    )?
    .with_activation(Activation::relu(q1));
    let s1 = conv.output;
    let dw = LayerSpec::weighted(
        LayerKind::DepthwiseConv2d {
            window: Window::new(3, 3, 1, 1).with_dilation(2, 2).same(s1),
            depth_multiplier: 2,
        },
        s1,
        q1,
        q2,
        weights(9 * 8, 2),
        (1..=8).map(|i| 0.001 * i as f32).collect(),
        vec![1, 2, 3, 4, 5, 6, 7, 8],
    )?;
    let max = LayerSpec::pool(LayerKind::MaxPool2d(Window::new(2, 2, 2, 2)), dw.output, q2)?;
    let avg = LayerSpec::pool(
        LayerKind::AvgPool2d(Window::new(2, 2, 1, 1).same(max.output)),
        max.output,
        q2,
    )?;
    let reshape = LayerSpec::reshape(avg.output, Shape::new(4, 1, 8), q2);
    let gap = LayerSpec::pool(LayerKind::GlobalAvgPool, reshape.output, q2)?;
    let dense = LayerSpec::weighted(
        LayerKind::Dense,
        gap.output,
        q2,
        q3,
        weights(16 * 8, 3),
        vec![0.01; 16],
        (0..16).collect(),
    )?;
    let l2 = LayerSpec::l2_normalize(dense.output, q3);
    Ok(ModelSpec {
        task: Task::Signature,
        input: InputSpec {
            width: 8,
            height: 8,
            channels: 3,
            mean: heapless::Vec::from_slice(&[0.485, 0.456, 0.406]).unwrap_or_default(),
            std: heapless::Vec::from_slice(&[0.229, 0.224, 0.225]).unwrap_or_default(),
            quant: q_in,
        },
        embedding: EmbeddingSpec {
            dim: 16,
            scale: 1.0 / 128.0,
            l2_normalized: true,
            flip_average: false,
        },
        metric: MetricSpec::Cosine,
        decision: DecisionSpec::new(
            &[OperatingPoint {
                far: 1e-3,
                threshold: 0.4,
            }],
            0,
            0.8,
        )?,
        arena_bytes: None,
        layers: vec![conv, dw, max, avg, reshape, gap, dense, l2],
    })
}

fn full() -> FormatError {
    FormatError::CapacityExceeded {
        what: "fixture",
        capacity: 4,
    }
}

/// The encoded tiny model.
pub fn tiny_model_bytes() -> Result<Vec<u8>, FormatError> {
    tiny_model_spec()?.to_bytes()
}

/// An embedding of `model`: scale 0.02, values [12, -7, 100].
pub fn sample_embedding(model: ModelId) -> Result<Embedding, FormatError> {
    Embedding::new(model, 0.02, &[12, -7, 100])
}

/// Subject 42 "ada", created 3, two embeddings of `model`.
pub fn sample_template(model: ModelId) -> Result<Template, FormatError> {
    let mut t = Template::new(
        42,
        EmbeddingRef {
            model,
            scale: 0.02,
            values: &[12, -7, 100],
        },
    )?
    .with_label("ada")?
    .with_created(3);
    t.add(EmbeddingRef {
        model,
        scale: 0.025,
        values: &[10, -5, 98],
    })?;
    Ok(t)
}

/// Subjects 7 (no label, one embedding) and 42 (`sample_template`).
pub fn sample_gallery(model: ModelId) -> Result<Gallery, FormatError> {
    let mut g = Gallery::new(model);
    g.insert(sample_template(model)?)?;
    g.insert(Template::new(
        7,
        EmbeddingRef {
            model,
            scale: 0.02,
            values: &[-1, 0, 1],
        },
    )?)?;
    Ok(g)
}

/// The payload of a well-formed file (between the 10-byte header and the 4-byte CRC).
pub fn payload(file: &[u8]) -> &[u8] {
    file.get(10..file.len().saturating_sub(4))
        .unwrap_or_default()
}

/// The version [`reseal`] writes: the kind's own, but 2 for a model, the version `ModelSpec`
/// writes for every model these tests build (none flip-averages; see [`reseal_at`]).
pub fn written_version(kind: siamedge_format::FileKind) -> u16 {
    match kind {
        siamedge_format::FileKind::Model => 2,
        other => other.version(),
    }
}

/// A `kind` file around `payload`, with a correct header and CRC, at [`written_version`]; for a
/// model or a pipeline, `payload` is the body and the id is recomputed in front of it (by that version's rule;
/// over the whole body when that rule cannot read the body, so that the decoder reports what is
/// wrong with it).
pub fn reseal(kind: siamedge_format::FileKind, payload: &[u8]) -> Vec<u8> {
    reseal_at(kind, written_version(kind), payload)
}

/// [`reseal`] at format `version`.
pub fn reseal_at(kind: siamedge_format::FileKind, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut full = Vec::new();
    if kind == siamedge_format::FileKind::Model {
        let id =
            ModelId::of_model_body(version, payload).unwrap_or_else(|_| ModelId::digest(payload));
        full.extend_from_slice(id.as_bytes());
    }
    if kind == siamedge_format::FileKind::Pipeline {
        let id = siamedge_format::pipeline::body_id(version, payload)
            .unwrap_or_else(|_| ModelId::digest(payload));
        full.extend_from_slice(id.as_bytes());
    }
    full.extend_from_slice(payload);
    siamedge_format::envelope::seal_at(kind, version, &full).unwrap_or_default()
}

/// A face-api pipeline over the bytes `b"landmarks"` and `b"recognition"` (standing in for the
/// ONNX files), eye alignment with a refine pass, operating points `1e-2 -> 0.55` and
/// `1e-3 -> 0.5` (default), margin 0.6.
pub fn sample_pipeline_spec() -> Result<siamedge_format::PipelineSpec, FormatError> {
    let points = [
        OperatingPoint {
            far: 1e-2,
            threshold: 0.55,
        },
        OperatingPoint {
            far: 1e-3,
            threshold: 0.5,
        },
    ];
    Ok(siamedge_format::PipelineSpec::face_api(
        b"landmarks",
        b"recognition",
        siamedge_format::preprocess::align::AlignVariant::EyesRefine,
        DecisionSpec::new(&points, 1, 0.6)?,
    ))
}
