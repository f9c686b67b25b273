//! Folds constant `DequantizeLinear` nodes of an ONNX graph into f32 initializers.
//!
//! Why: tract 0.22's `DequantizeLinear` reads only the first element of its scale and zero point
//! (`tract-onnx` `ops/quant.rs`), so a QDQ graph with per-axis (per output channel) weight scales,
//! the layout every int8 conv exporter writes, runs with every channel at channel 0's scale and
//! gives wrong embeddings without an error. This pass computes `(x - zero_point) * scale` for each
//! `DequantizeLinear` whose inputs are all initializers, honouring `axis` (default 1) for 1-D
//! scales, and replaces the node by an f32 initializer of the same name. Activation
//! quantization (per tensor, not constant) is left alone: tract handles it.
//!
//! When not: graphs with external data or `DequantizeLinear` of types other than int8, uint8 and
//! int32 (reported as [`FoldError`]).

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{tensor_proto::DataType, AttributeProto, ModelProto, TensorProto};

/// Why a constant `DequantizeLinear` could not be folded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("DequantizeLinear node `{node}`: {reason}")]
pub struct FoldError {
    /// The node's name (or its output's, when unnamed).
    pub node: String,
    /// What is unsupported or inconsistent.
    pub reason: String,
}

fn values(t: &TensorProto) -> Result<Vec<f64>, String> {
    let count: i64 = t.dims.iter().product();
    let count =
        usize::try_from(count).map_err(|_| format!("tensor `{}` has negative dims", t.name))?;
    let raw = &t.raw_data;
    let dt = DataType::from_i32(t.data_type)
        .ok_or_else(|| format!("unknown data type {}", t.data_type))?;
    let out: Vec<f64> = match dt {
        DataType::Float if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Float => t.float_data.iter().map(|&v| f64::from(v)).collect(),
        DataType::Int8 if !raw.is_empty() => raw.iter().map(|&b| f64::from(b as i8)).collect(),
        DataType::Uint8 if !raw.is_empty() => raw.iter().map(|&b| f64::from(b)).collect(),
        DataType::Int32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DataType::Int8 | DataType::Uint8 | DataType::Int32 => {
            t.int32_data.iter().map(|&v| f64::from(v)).collect()
        }
        other => {
            return Err(format!(
                "tensor `{}` of type {other:?} is not supported",
                t.name
            ))
        }
    };
    if out.len() != count {
        return Err(format!(
            "tensor `{}` holds {} values, its dims {:?} need {count}",
            t.name,
            out.len(),
            t.dims
        ));
    }
    Ok(out)
}

fn axis_attr(attrs: &[AttributeProto]) -> i64 {
    attrs
        .iter()
        .find(|a| a.name == "axis")
        .map(|a| a.i)
        .unwrap_or(1)
}

/// `DequantizeLinear(x, scale, zero_point, axis)` over constants.
fn dequantize(
    x: &TensorProto,
    scale: &TensorProto,
    zero: Option<&TensorProto>,
    axis: i64,
) -> Result<Vec<f32>, String> {
    let xs = values(x)?;
    let ss = values(scale)?;
    let zs = match zero {
        Some(z) => values(z)?,
        None => vec![0.0; ss.len()],
    };
    if zs.len() != ss.len() {
        return Err(format!("{} scales but {} zero points", ss.len(), zs.len()));
    }
    if ss.len() == 1 {
        return Ok(xs.iter().map(|&v| ((v - zs[0]) * ss[0]) as f32).collect());
    }
    let rank = x.dims.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} outside a rank-{rank} tensor"));
    }
    let axis = axis as usize;
    let len = x.dims[axis] as usize;
    if ss.len() != len {
        return Err(format!(
            "{} scales for axis {axis} of length {len}",
            ss.len()
        ));
    }
    let inner: usize = x.dims[axis + 1..].iter().product::<i64>() as usize;
    Ok(xs
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner.max(1)) % len;
            ((v - zs[c]) * ss[c]) as f32
        })
        .collect())
}

/// Folds every `DequantizeLinear` with constant inputs in `model` (see the module docs); returns
/// how many were folded. Initializers nothing reads any more are dropped.
pub fn fold_constant_dequantize(model: &mut ModelProto) -> Result<usize, FoldError> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(0);
    };
    let mut consts: HashMap<String, TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    let mut folded = 0;
    let mut kept = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let all_const = node.op_type == "DequantizeLinear"
            && node
                .input
                .iter()
                .all(|i| i.is_empty() || consts.contains_key(i))
            && node.output.len() == 1;
        if !all_const {
            kept.push(node);
            continue;
        }
        let name = if node.name.is_empty() {
            node.output[0].clone()
        } else {
            node.name.clone()
        };
        let err = |reason: String| FoldError {
            node: name.clone(),
            reason,
        };
        let get = |i: usize| {
            node.input
                .get(i)
                .filter(|s| !s.is_empty())
                .and_then(|s| consts.get(s))
        };
        let x = get(0).ok_or_else(|| err("no input".into()))?;
        let scale = get(1).ok_or_else(|| err("no scale".into()))?;
        let y = dequantize(x, scale, get(2), axis_attr(&node.attribute)).map_err(err)?;
        let tensor = TensorProto {
            name: node.output[0].clone(),
            dims: x.dims.clone(),
            data_type: DataType::Float as i32,
            raw_data: y.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        consts.insert(tensor.name.clone(), tensor.clone());
        graph.initializer.push(tensor);
        folded += 1;
    }
    graph.node = kept;
    let used: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .chain(graph.output.iter().map(|o| o.name.as_str()))
        .collect();
    let used: HashSet<String> = used.into_iter().map(str::to_string).collect();
    graph.initializer.retain(|t| used.contains(&t.name));
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, dims: &[i64], dt: DataType, raw: Vec<u8>) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: dt as i32,
            raw_data: raw,
            ..Default::default()
        }
    }

    #[test]
    fn per_axis_scales_apply_per_channel() {
        // x (2, 3) int8, axis 0: row 0 scale 0.5 zp 1, row 1 scale 2 zp 0.
        let x = t("x", &[2, 3], DataType::Int8, vec![1, 3, 255, 1, 2, 3]);
        let s = t(
            "s",
            &[2],
            DataType::Float,
            [0.5f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        let z = t("z", &[2], DataType::Int8, vec![1, 0]);
        let y = dequantize(&x, &s, Some(&z), 0).unwrap();
        assert_eq!(y, vec![0.0, 1.0, -1.0, 2.0, 4.0, 6.0]);
        // Axis 1 with three scales.
        let s3 = t(
            "s",
            &[3],
            DataType::Float,
            [1.0f32, 10.0, 100.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        );
        let y = dequantize(&x, &s3, None, 1).unwrap();
        assert_eq!(y, vec![1.0, 30.0, -100.0, 1.0, 20.0, 300.0]);
        let bad = dequantize(&x, &s3, None, 0).unwrap_err();
        assert!(bad.contains("3 scales for axis 0 of length 2"), "{bad}");
    }
}
