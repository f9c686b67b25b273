//! Lowers the int8 layers of a QDQ ONNX graph to the engine's integer arithmetic, so that tract
//! gives the firmware's embeddings bit for bit.
//!
//! Why: tract 0.22 runs `DequantizeLinear -> Conv -> QuantizeLinear` as a float convolution on
//! dequantized values, then rounds. The engine (`siamedge_engine`) accumulates in i32 and
//! requantizes with a Q31 multiplier and TFLite's double rounding. The two agree except where a
//! value sits within a float error or a double-rounding step of a rounding tie; those 1-step
//! differences pass from layer to layer and move a few pairs across a threshold (12 decisions of
//! 9,900 for the shipped face model). Integrators need the edge box and the device to decide alike.
//!
//! What: each matched layer is rewritten in integer ONNX operators that tract computes exactly:
//! - `DQ(x) -> Conv(DQ(w), DQ(b)) -> [Relu | Clip] -> Q` (any `group`): `ConvInteger(x_q, w_q,
//!   x_zero_point)` (i32), `+ b_q`, then the requantization of
//!   `siamedge_engine::kernels::requant` in exact integer steps (f64):
//!   `floor((acc * 2^left * m + 2^30) / 2^31)`, a division by `2^right` rounded half away from
//!   zero, `+ zero_point`, clamped to the activation range, cast to int8. `(m, shift)` come from the scales with
//!   [`siamedge_format::quantize_multiplier`]`(s_in * s_w / s_out)`, as the exporter wrote them
//!   into the model file;
//! - `DQ(x) -> Transpose -> Flatten -> Gemm(DQ(w), DQ(b), transB = 1) -> Unsqueeze -> [act] -> Q`:
//!   the same with `MatMulInteger` over the int8 transpose and flatten;
//! - the `L2Normalize` pattern `Div(DQ(x), Sqrt(ReduceSum(DQ(x)^2) + eps)) -> [act] -> Q` with
//!   output scale `1/128`, zero point 0: `round(128 d / sqrt(S))` in f64, half away from zero,
//!   which is the engine's correctly rounded normalization (f64's error is far below the
//!   smallest distance of a non-tie quotient to a tie, about `4e-6`).
//!
//! - `DQ(x) -> AveragePool | GlobalAveragePool -> [act] -> Q` (one quantization throughout):
//!   the average of the int8 values in f64, rounded half away from zero as the engine does.
//!
//! Max pooling and reshapes stay as they are: on dequantized int8 values they are exact.
//!
//! When not: layers of any other shape (another bias scale than `s_in * s_w`, nonzero weight zero
//! points, uint8 activations, a non-positive multiplier) are left in float and counted as not
//! lowered; so are layers whose i32 accumulator (after the requantization's left shift) could
//! leave the i32 range, where the engine's arithmetic wraps.

use std::collections::{HashMap, HashSet};

use siamedge_format::quantize_multiplier;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, GraphProto, ModelProto,
    NodeProto, TensorProto,
};

/// What [`lower_to_integer`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lowered {
    /// Convolution and dense layers rewritten in integer operators.
    pub matmul: usize,
    /// L2 normalizations rewritten in f64.
    pub l2: usize,
    /// Average pools (windowed and global) rewritten in f64.
    pub avg_pool: usize,
    /// `QuantizeLinear` nodes after a convolution, dense or L2 pattern that did not match.
    pub left_in_float: usize,
}

fn raw<T: Copy>(t: &TensorProto, width: usize, f: impl Fn(&[u8]) -> T) -> Option<Vec<T>> {
    (!t.raw_data.is_empty()).then(|| t.raw_data.chunks_exact(width).map(f).collect())
}

fn f32s(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 {
        return None;
    }
    raw(t, 4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).or(Some(t.float_data.clone()))
}

fn i8s(t: &TensorProto) -> Option<Vec<i8>> {
    if t.data_type != DataType::Int8 as i32 {
        return None;
    }
    raw(t, 1, |c| c[0] as i8)
        .or_else(|| t.int32_data.iter().map(|&v| i8::try_from(v).ok()).collect())
}

fn i32s(t: &TensorProto) -> Option<Vec<i32>> {
    if t.data_type != DataType::Int32 as i32 {
        return None;
    }
    raw(t, 4, |c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).or(Some(t.int32_data.clone()))
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

/// The graph with lookups by tensor name, and the nodes it adds.
struct Graph<'g> {
    inits: HashMap<&'g str, &'g TensorProto>,
    producer: HashMap<&'g str, usize>,
    consumers: HashMap<&'g str, usize>,
    nodes: &'g [NodeProto],
    added_inits: Vec<TensorProto>,
    counter: usize,
}

/// A matched `DequantizeLinear` of an int8 activation.
struct ActDq<'g> {
    q: &'g str,
    zero_point_name: &'g str,
    scale: f32,
    zero_point: i8,
}

/// The constant int8 weights and int32 bias of a matched layer.
struct Params {
    weights: Vec<i8>,
    dims: Vec<i64>,
    scales: Vec<f32>,
    bias: Vec<i32>,
}

impl<'g> Graph<'g> {
    fn new(g: &'g GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, usize> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            for o in &n.output {
                producer.insert(o.as_str(), i);
            }
            for x in &n.input {
                *consumers.entry(x.as_str()).or_default() += 1;
            }
        }
        for o in &g.output {
            *consumers.entry(o.name.as_str()).or_default() += 1;
        }
        Graph {
            inits: g.initializer.iter().map(|t| (t.name.as_str(), t)).collect(),
            producer,
            consumers,
            nodes: &g.node,
            added_inits: Vec::new(),
            counter: 0,
        }
    }

    /// The node producing `name`, if it is an `op` read by nothing else.
    fn sole(&self, name: &str, op: &str) -> Option<&'g NodeProto> {
        let n = &self.nodes[*self.producer.get(name)?];
        (n.op_type == op && self.consumers.get(name) == Some(&1)).then_some(n)
    }

    fn input(&self, n: &NodeProto, i: usize) -> Option<&'g TensorProto> {
        n.input
            .get(i)
            .and_then(|s| self.inits.get(s.as_str()).copied())
    }

    /// `name` as the output of a `DequantizeLinear` of a non-constant int8 tensor with scalar
    /// scale and zero point.
    fn act_dq(&self, name: &str) -> Option<ActDq<'g>> {
        let n = &self.nodes[*self.producer.get(name)?];
        if n.op_type != "DequantizeLinear" || self.inits.contains_key(n.input[0].as_str()) {
            return None;
        }
        let scale = f32s(self.input(n, 1)?)?;
        let zp = i8s(self.input(n, 2)?)?;
        (scale.len() == 1 && zp.len() == 1).then(|| ActDq {
            q: n.input[0].as_str(),
            zero_point_name: n.input[2].as_str(),
            scale: scale[0],
            zero_point: zp[0],
        })
    }

    /// The int8 weights (per-axis scales on axis 0, zero points 0) and the int32 bias (scales
    /// `s_in * s_w`) behind `w` and `b`.
    fn params(&self, w: &str, b: Option<&str>, s_in: f32) -> Option<Params> {
        let wn = self.sole(w, "DequantizeLinear")?;
        if attr(wn, "axis").map_or(1, |a| a.i) != 0 {
            return None;
        }
        let wt = self.input(wn, 0)?;
        let weights = i8s(wt)?;
        let scales = f32s(self.input(wn, 1)?)?;
        let out_c = *wt.dims.first()? as usize;
        if scales.len() != out_c {
            return None;
        }
        if let Some(z) = self.input(wn, 2) {
            if i8s(z)?.iter().any(|&v| v != 0) {
                return None;
            }
        }
        let bias = match b {
            None => vec![0; out_c],
            Some(b) => {
                let bn = self.sole(b, "DequantizeLinear")?;
                let bias = i32s(self.input(bn, 0)?)?;
                let bs = f32s(self.input(bn, 1)?)?;
                let close = bs.len() == out_c
                    && bs.iter().zip(&scales).all(|(&b, &w)| {
                        let want = f64::from(s_in) * f64::from(w);
                        (f64::from(b) - want).abs() <= 1e-6 * want.abs()
                    });
                if bias.len() != out_c || !close {
                    return None;
                }
                if let Some(z) = self.input(bn, 2) {
                    if i32s(z)?.iter().any(|&v| v != 0) {
                        return None;
                    }
                }
                bias
            }
        };
        Some(Params {
            weights,
            dims: wt.dims.clone(),
            scales,
            bias,
        })
    }

    fn name(&mut self, what: &str) -> String {
        self.counter += 1;
        format!("lowered_{}_{what}", self.counter)
    }

    fn init(&mut self, what: &str, dt: DataType, dims: &[i64], raw_data: Vec<u8>) -> String {
        let name = self.name(what);
        self.added_inits.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: dt as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    fn f64s(&mut self, what: &str, v: f64) -> String {
        self.init(what, DataType::Double, &[], v.to_le_bytes().to_vec())
    }
}

/// Nodes being emitted for one lowered layer.
struct Emit<'a, 'g> {
    g: &'a mut Graph<'g>,
    nodes: Vec<NodeProto>,
}

impl Emit<'_, '_> {
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.g.name(&op.to_lowercase());
        self.node_to(op, inputs, attrs, &out);
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: out.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            attribute: attrs,
            ..Default::default()
        });
    }

    /// `v` (f64) rounded to the nearest integer, ties away from zero, clamped to the activation
    /// range of `out` and cast to int8 as `target`. `slack` (added to the magnitude before
    /// flooring) turns a tie computed a hair low into the tie; it must stay below the distance of
    /// any non-tie from a tie.
    fn round_clamp_to(&mut self, v: &str, slack: f64, out: Out, target: &str) {
        let zero = self.g.f64s("zero", 0.0);
        let half = self.g.f64s("half", 0.5 + slack);
        let negative = self.node("Less", &[v, &zero], vec![]);
        let up = self.node("Add", &[v, &half], vec![]);
        let up = self.node("Floor", &[&up], vec![]);
        let down = self.node("Sub", &[&half, v], vec![]);
        let down = self.node("Floor", &[&down], vec![]);
        let down = self.node("Neg", &[&down], vec![]);
        let r = self.node("Where", &[&negative, &down, &up], vec![]);
        let lo = self.g.f64s("min", f64::from(out.min));
        let hi = self.g.f64s("max", f64::from(out.max));
        let r = self.node("Max", &[&r, &lo], vec![]);
        let r = self.node("Min", &[&r, &hi], vec![]);
        self.cast_to(&r, DataType::Int8, target);
    }

    fn cast(&mut self, x: &str, to: DataType) -> String {
        self.node("Cast", &[x], vec![int_attr("to", to as i64)])
    }

    fn cast_to(&mut self, x: &str, to: DataType, out: &str) {
        self.node_to("Cast", &[x], vec![int_attr("to", to as i64)], out);
    }

    /// The engine's requantization of the i32 accumulators `acc` (channels on the axis of
    /// `shape` that is not 1) to the int8 values, as exact integers in f64 (see the module docs).
    ///
    /// f64, not i64: tract keeps ONNX int64 tensors as symbolic dimensions, whose arithmetic is
    /// not the integers'. Every intermediate below is an integer under `2^53` or one scaled by a
    /// power of two, so f64 computes it exactly: the product `a * m` (up to `2^62`) is split as
    /// `a * m_hi * 2^16 + a * m_lo`.
    fn requant(&mut self, acc: &str, channels: &[(i32, i8)], shape: &[i64], rq: Out) -> String {
        let c = channels.len() as i64;
        let dims: Vec<i64> = shape.iter().map(|&d| if d != 1 { c } else { 1 }).collect();
        let mut per = |what: &str, f: &dyn Fn(i64, i32) -> f64| -> String {
            let v: Vec<u8> = channels
                .iter()
                .flat_map(|&(m, s)| f(i64::from(m), i32::from(s)).to_le_bytes())
                .collect();
            self.g.init(what, DataType::Double, &dims, v)
        };
        let left = per("left", &|_, s| f64::from(1u32 << s.max(0)));
        let m_hi = per("multiplier_hi", &|m, _| (m >> 16) as f64);
        let m_lo = per("multiplier_lo", &|m, _| (m & 0xffff) as f64);
        let divisor = per("divisor", &|_, s| f64::from(1u32 << (-s).clamp(0, 31)));
        let half = per("half", &|_, s| f64::from((1u32 << (-s).clamp(0, 31)) >> 1));
        let a = self.cast(acc, DataType::Double);
        let a = self.node("Mul", &[&a, &left], vec![]);
        // high = floor((a m + 2^30) / 2^31) = qx + floor((rx 2^16 + y) / 2^31), where
        // x = a m_hi = qx 2^15 + rx (0 <= rx < 2^15) and y = a m_lo + 2^30.
        let x = self.node("Mul", &[&a, &m_hi], vec![]);
        let y = self.node("Mul", &[&a, &m_lo], vec![]);
        let k30 = self.g.f64s("two_30", f64::from(1u32 << 30));
        let y = self.node("Add", &[&y, &k30], vec![]);
        let inv15 = self.g.f64s("two_minus_15", 1.0 / 32_768.0);
        let k15 = self.g.f64s("two_15", 32_768.0);
        let qx = self.node("Mul", &[&x, &inv15], vec![]);
        let qx = self.node("Floor", &[&qx], vec![]);
        let rx = self.node("Mul", &[&qx, &k15], vec![]);
        let rx = self.node("Sub", &[&x, &rx], vec![]);
        let k16 = self.g.f64s("two_16", 65_536.0);
        let low = self.node("Mul", &[&rx, &k16], vec![]);
        let low = self.node("Add", &[&low, &y], vec![]);
        let inv31 = self.g.f64s("two_minus_31", 1.0 / 2_147_483_648.0);
        let low = self.node("Mul", &[&low, &inv31], vec![]);
        let low = self.node("Floor", &[&low], vec![]);
        let high = self.node("Add", &[&qx, &low], vec![]);
        // Division by 2^right, half away from zero: floor((|x| + 2^right / 2) / 2^right), signed.
        let zero = self.g.f64s("zero", 0.0);
        let negative = self.node("Less", &[&high, &zero], vec![]);
        let up = self.node("Add", &[&high, &half], vec![]);
        let up = self.node("Div", &[&up, &divisor], vec![]);
        let up = self.node("Floor", &[&up], vec![]);
        let down = self.node("Sub", &[&half, &high], vec![]);
        let down = self.node("Div", &[&down, &divisor], vec![]);
        let down = self.node("Floor", &[&down], vec![]);
        let down = self.node("Neg", &[&down], vec![]);
        let scaled = self.node("Where", &[&negative, &down, &up], vec![]);
        let zp = self.g.f64s("zero_point", f64::from(rq.zero_point));
        let y = self.node("Add", &[&scaled, &zp], vec![]);
        let lo = self.g.f64s("min", f64::from(rq.min));
        let hi = self.g.f64s("max", f64::from(rq.max));
        let y = self.node("Max", &[&y, &lo], vec![]);
        self.node("Min", &[&y, &hi], vec![])
    }
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// The output side of a layer: its `QuantizeLinear` and the fused clamp before it.
#[derive(Debug, Clone, Copy)]
struct Out {
    scale: f32,
    zero_point: i8,
    min: i8,
    max: i8,
}

/// Walks back from a `QuantizeLinear` node: the int8 output quantization, the clamp of a
/// `Relu` or `Clip` before it (read by nothing else), and the float tensor before that.
fn output_side<'g>(g: &Graph<'g>, q: &'g NodeProto) -> Option<(Out, &'g str)> {
    let scale = f32s(g.input(q, 1)?)?;
    let zp = i8s(g.input(q, 2)?)?;
    if scale.len() != 1 || zp.len() != 1 || !(scale[0] > 0.0) {
        return None;
    }
    let (scale, zero_point) = (scale[0], zp[0]);
    let step = |v: f32| (f64::from(v) / f64::from(scale)).round() as i64 + i64::from(zero_point);
    let clamp = |v: i64| v.clamp(-128, 127) as i8;
    let y = q.input[0].as_str();
    if let Some(r) = g.sole(y, "Relu") {
        let out = Out {
            scale,
            zero_point,
            min: zero_point,
            max: 127,
        };
        return Some((out, r.input[0].as_str()));
    }
    if let Some(c) = g.sole(y, "Clip") {
        let lo = f32s(g.input(c, 1)?)?;
        let hi = f32s(g.input(c, 2)?)?;
        let out = Out {
            scale,
            zero_point,
            min: clamp(step(*lo.first()?)),
            max: clamp(step(*hi.first()?)),
        };
        return Some((out, c.input[0].as_str()));
    }
    Some((
        Out {
            scale,
            zero_point,
            min: -128,
            max: 127,
        },
        y,
    ))
}

/// The per-channel `(multiplier, shift)` of a layer, if all are positive.
fn multipliers(s_in: f32, scales: &[f32], s_out: f32) -> Option<Vec<(i32, i8)>> {
    scales
        .iter()
        .map(|&w| {
            let (m, s) = quantize_multiplier(f64::from(s_in) * f64::from(w) / f64::from(s_out));
            (m > 0).then_some((m, s))
        })
        .collect()
}

/// Whether every i32 accumulator `bias + sum w * (x - zp)`, shifted left by its channel's
/// `max(shift, 0)` as the engine does before multiplying, stays within i32 for any int8 `x`
/// (`weights` grouped by output channel). Beyond that the engine's i32 arithmetic wraps, which
/// exact integers would not reproduce.
fn accumulators_fit(weights: &[i8], bias: &[i32], zp: i8, channels: &[(i32, i8)]) -> bool {
    let per = weights.len() / bias.len().max(1);
    let worst = 128 + i64::from(zp).abs();
    weights
        .chunks(per.max(1))
        .zip(bias)
        .zip(channels)
        .all(|((w, &b), &(_, shift))| {
            let sum: i64 = w.iter().map(|&v| i64::from(v).abs()).sum();
            let bound = sum * worst + i64::from(b).abs();
            (i128::from(bound) << shift.max(0)) < i128::from(i32::MAX)
        })
}

/// Rewrites a convolution or dense pattern ending at `q`; the new nodes, or `None`.
fn lower_matmul<'g>(g: &mut Graph<'g>, q: &NodeProto) -> Option<Vec<NodeProto>> {
    let nodes: &'g [NodeProto] = g.nodes;
    let (out, y) = output_side(g, q)?;
    let prod = &nodes[*g.producer.get(y)?];
    let (layer, gemm) = match prod.op_type.as_str() {
        "Conv" if g.consumers.get(y) == Some(&1) => (prod, false),
        "Unsqueeze" if g.consumers.get(y) == Some(&1) => {
            (g.sole(prod.input.first()?, "Gemm")?, true)
        }
        _ => return None,
    };
    let (x, w, b) = (
        layer.input.first()?.as_str(),
        layer.input.get(1)?.as_str(),
        layer
            .input
            .get(2)
            .map(String::as_str)
            .filter(|s| !s.is_empty()),
    );
    let x = if gemm {
        let ok = |n: &str, d: i64| attr(layer, n).map_or(d, |a| a.i);
        let unit = |n: &str| attr(layer, n).map_or(1.0, |a| a.f);
        if ok("transB", 0) != 1
            || ok("transA", 0) != 0
            || unit("alpha") != 1.0
            || unit("beta") != 1.0
        {
            return None;
        }
        let flat = g.sole(x, "Flatten")?;
        let t = g.sole(&flat.input[0], "Transpose")?;
        t.input[0].as_str()
    } else {
        x
    };
    if g.consumers.get(x) != Some(&1) {
        return None;
    }
    let a = g.act_dq(x)?;
    let p = g.params(w, b, a.scale)?;
    let channels = multipliers(a.scale, &p.scales, out.scale)?;
    if !accumulators_fit(&p.weights, &p.bias, a.zero_point, &channels) {
        return None;
    }
    let out_c = p.bias.len() as i64;
    let target = q.output.first()?.clone();
    let raw_i32 = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut e = Emit {
        g,
        nodes: Vec::new(),
    };
    if gemm {
        let (flat, t) = {
            let flat = e.g.sole(layer.input.first()?, "Flatten")?;
            (flat, e.g.sole(&flat.input[0], "Transpose")?)
        };
        let tq = e.node("Transpose", &[a.q], t.attribute.clone());
        let fq = e.node("Flatten", &[&tq], flat.attribute.clone());
        // Gemm's (M, K) weights as MatMulInteger's (K, M).
        let (m, k) = (p.dims[0] as usize, p.dims.get(1).copied()? as usize);
        let mut wt = vec![0u8; m * k];
        for r in 0..m {
            for c in 0..k {
                wt[c * m + r] = p.weights[r * k + c] as u8;
            }
        }
        let wt =
            e.g.init("weights", DataType::Int8, &[k as i64, m as i64], wt);
        let acc = e.node("MatMulInteger", &[&fq, &wt, a.zero_point_name], vec![]);
        let bias =
            e.g.init("bias", DataType::Int32, &[out_c], raw_i32(&p.bias));
        let acc = e.node("Add", &[&acc, &bias], vec![]);
        let y = e.requant(&acc, &channels, &[1, out_c], out);
        let y = e.cast(&y, DataType::Int8);
        let axes = prod.input.get(1)?.clone();
        e.node_to("Unsqueeze", &[&y, &axes], prod.attribute.clone(), &target);
    } else {
        let wq = e.g.init(
            "weights",
            DataType::Int8,
            &p.dims,
            p.weights.iter().map(|&v| v as u8).collect(),
        );
        let acc = e.node(
            "ConvInteger",
            &[a.q, &wq, a.zero_point_name],
            layer.attribute.clone(),
        );
        let bias =
            e.g.init("bias", DataType::Int32, &[out_c, 1, 1], raw_i32(&p.bias));
        let acc = e.node("Add", &[&acc, &bias], vec![]);
        let y = e.requant(&acc, &channels, &[out_c, 1, 1], out);
        e.cast_to(&y, DataType::Int8, &target);
    }
    Some(e.nodes)
}

/// Rewrites an L2 normalization pattern ending at `q`; the new nodes, or `None`.
fn lower_l2<'g>(g: &mut Graph<'g>, q: &NodeProto) -> Option<Vec<NodeProto>> {
    let (out, y) = output_side(g, q)?;
    if out.zero_point != 0 || out.scale != 1.0 / 128.0 {
        return None;
    }
    let div = g.sole(y, "Div")?;
    let x = div.input.first()?.as_str();
    let sqrt = g.sole(div.input.get(1)?, "Sqrt")?;
    let add = g.sole(&sqrt.input[0], "Add")?;
    let sum = g.sole(&add.input[0], "ReduceSum")?;
    let sq = g.sole(&sum.input[0], "Mul")?;
    if sq.input.len() != 2 || sq.input.iter().any(|i| i != x) {
        return None;
    }
    let a = g.act_dq(x)?;
    let axes = sum.input.get(1)?.clone();
    let target = q.output.first()?.clone();
    let mut e = Emit {
        g,
        nodes: Vec::new(),
    };
    let d = e.cast(a.q, DataType::Double);
    let zp = e.g.f64s("zero_point", f64::from(a.zero_point));
    let d = e.node("Sub", &[&d, &zp], vec![]);
    let sq = e.node("Mul", &[&d, &d], vec![]);
    let s = e.node("ReduceSum", &[&sq, &axes], vec![int_attr("keepdims", 1)]);
    let one = e.g.f64s("one", 1.0);
    let s = e.node("Max", &[&s, &one], vec![]);
    let norm = e.node("Sqrt", &[&s], vec![]);
    let k = e.g.f64s("k", 128.0);
    let v = e.node("Mul", &[&d, &k], vec![]);
    let v = e.node("Div", &[&v, &norm], vec![]);
    e.round_clamp_to(&v, 0.0, out, &target);
    Some(e.nodes)
}

/// Rewrites an average pool (`AveragePool` without padded cells counted, or
/// `GlobalAveragePool`) between one quantization ending at `q`; the new nodes, or `None`.
///
/// The engine averages the int8 values `q` (not `q - zp`) and rounds half away from zero. Here
/// the pool runs on the values in f64 (the sum exact, the average within `1e-13`), and the
/// rounding adds `1e-9` before flooring the magnitude, which turns a tie computed a hair low
/// into the tie without reaching a non-tie (those lie at least `1 / (2 count)` from one).
fn lower_avg_pool<'g>(g: &mut Graph<'g>, q: &NodeProto) -> Option<Vec<NodeProto>> {
    let nodes: &'g [NodeProto] = g.nodes;
    let (out, y) = output_side(g, q)?;
    let pool = &nodes[*g.producer.get(y)?];
    if g.consumers.get(y) != Some(&1) {
        return None;
    }
    match pool.op_type.as_str() {
        "AveragePool" if attr(pool, "count_include_pad").map_or(0, |a| a.i) == 0 => {}
        "GlobalAveragePool" => {}
        _ => return None,
    }
    let x = pool.input.first()?.as_str();
    if g.consumers.get(x) != Some(&1) {
        return None;
    }
    let a = g.act_dq(x)?;
    if a.scale != out.scale || a.zero_point != out.zero_point {
        return None;
    }
    let target = q.output.first()?.clone();
    let mut e = Emit {
        g,
        nodes: Vec::new(),
    };
    let v = e.cast(a.q, DataType::Double);
    let avg = e.node(&pool.op_type, &[&v], pool.attribute.clone());
    e.round_clamp_to(&avg, 1e-9, out, &target);
    Some(e.nodes)
}

/// Lowers every matching layer of `model` (see the module docs) and drops the nodes and
/// initializers nothing reads any more.
pub fn lower_to_integer(model: &mut ModelProto) -> Lowered {
    let Some(graph) = model.graph.as_mut() else {
        return Lowered::default();
    };
    let mut done = Lowered::default();
    let (nodes, inits) = {
        let mut g = Graph::new(graph);
        let mut nodes = Vec::with_capacity(graph.node.len());
        for n in graph.node.iter() {
            if n.op_type != "QuantizeLinear" {
                nodes.push(n.clone());
                continue;
            }
            let before = output_side(&g, n)
                .and_then(|(_, y)| g.producer.get(y).map(|&i| g.nodes[i].op_type.as_str()));
            if let Some(lowered) = lower_matmul(&mut g, n) {
                done.matmul += 1;
                nodes.extend(lowered);
            } else if let Some(lowered) = lower_l2(&mut g, n) {
                done.l2 += 1;
                nodes.extend(lowered);
            } else if let Some(lowered) = lower_avg_pool(&mut g, n) {
                done.avg_pool += 1;
                nodes.extend(lowered);
            } else {
                if matches!(
                    before,
                    Some("Conv" | "Unsqueeze" | "Div" | "AveragePool" | "GlobalAveragePool")
                ) {
                    done.left_in_float += 1;
                }
                nodes.push(n.clone());
            }
        }
        (nodes, g.added_inits)
    };
    graph.node = nodes;
    graph.initializer.extend(inits);
    prune(graph);
    done
}

/// Drops nodes whose outputs nothing reads (walking back from the graph outputs), then
/// initializers nothing reads.
fn prune(graph: &mut GraphProto) {
    let mut needed: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(n.input.iter().cloned());
        }
    }
    let mut k = keep.into_iter();
    graph.node.retain(|_| k.next().unwrap_or(true));
    graph.initializer.retain(|t| needed.contains(&t.name));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::{
        tensor_shape_proto::{dimension::Value, Dimension},
        type_proto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
    };
    use tract_onnx::prelude::*;

    fn value_info(name: &str, dt: DataType, dims: &[i64]) -> ValueInfoProto {
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: dt as i32,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| Dimension {
                                value: Some(Value::DimValue(d)),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The engine's `Requant::apply`, written out again (the edge crate does not link the
    /// firmware): `(a * m + 2^30) >> 31`, then the rounding right shift, zero point, clamp.
    fn engine_requant(acc: i32, m: i32, shift: i8, rq: Out) -> i8 {
        let left = i32::from(shift).clamp(0, 31) as u32;
        let right = (-i32::from(shift)).clamp(0, 31) as u32;
        let a = acc.wrapping_shl(left);
        let high = ((i64::from(a) * i64::from(m) + (1 << 30)) >> 31) as i32;
        let mask = (1u32 << right).wrapping_sub(1) as i32;
        let threshold = (mask >> 1) + ((high as u32) >> 31) as i32;
        let scaled = (high >> right) + i32::from((high & mask) > threshold);
        scaled
            .wrapping_add(i32::from(rq.zero_point))
            .clamp(i32::from(rq.min), i32::from(rq.max)) as i8
    }

    #[test]
    fn accumulators_that_could_wrap_are_not_lowered() {
        // 1000 weights of 127 against |x - zp| <= 128: at most 16,256,000, fine as it is,
        // beyond i32 once shifted left by 8 before the multiply.
        let w = vec![127i8; 1000];
        assert!(accumulators_fit(&w, &[0], 0, &[(1 << 30, 0)]));
        assert!(accumulators_fit(&w, &[0], 0, &[(1 << 30, 7)]));
        assert!(!accumulators_fit(&w, &[0], 0, &[(1 << 30, 8)]));
        assert!(!accumulators_fit(
            &w,
            &[i32::MAX - 1000],
            0,
            &[(1 << 30, 0)]
        ));
    }

    #[test]
    fn requant_chain_is_the_engines_on_tract() {
        let channels = [
            quantize_multiplier(0.000_37),
            quantize_multiplier(0.012_5),
            quantize_multiplier(0.5),
            quantize_multiplier(1.7),
        ];
        let rq = Out {
            scale: 0.1,
            zero_point: -7,
            min: -100,
            max: 127,
        };
        let n = 2000i64;
        let graph = GraphProto::default();
        let mut g = super::Graph::new(&graph);
        let mut e = Emit {
            g: &mut g,
            nodes: Vec::new(),
        };
        let y = e.requant("acc", &channels, &[4, 1, 1], rq);
        e.cast_to(&y, DataType::Int8, "out");
        let nodes = e.nodes;
        let model = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(GraphProto {
                node: nodes,
                initializer: g.added_inits,
                input: vec![value_info("acc", DataType::Int32, &[n, 4, 1, 1])],
                output: vec![value_info("out", DataType::Int8, &[n, 4, 1, 1])],
                ..Default::default()
            }),
            ..Default::default()
        };
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&model)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .unwrap();
        // Ties, signs, large magnitudes.
        let mut s = 7u64;
        let accs: Vec<i32> = (0..n * 4)
            .map(|i| match i % 8 {
                0 => (i as i32 - 4000) * 1024,
                1 => -(i as i32) * 2048 - 1024,
                _ => {
                    s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((s >> 33) as i32) >> (i % 20)
                }
            })
            .collect();
        let input = Tensor::from_shape(&[n as usize, 4, 1, 1], &accs).unwrap();
        let out = plan.run(tvec!(input.into())).unwrap();
        let got = out[0].as_slice::<i8>().unwrap();
        for (i, (&acc, &g)) in accs.iter().zip(got).enumerate() {
            let (m, s) = channels[i % 4];
            assert_eq!(
                g,
                engine_requant(acc, m, s, rq),
                "acc {acc} channel {}",
                i % 4
            );
        }
    }
}
