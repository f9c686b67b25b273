//! The fused training kernels against PyTorch: `tests/data/conv_block_torch.json` holds one block
//! of the shipped face recipe (Conv2d 3x3 + BatchNorm2d in training mode + ReLU + MaxPool2d 2,
//! PyTorch's own modules) run in float64 by `scripts/research/conv_block_torch.py`: inputs,
//! weights, the output, the gradients of `sum(output * probe)` and the running statistics.
//! candle runs the same block through its fused custom ops (`conv-rows`, then `batch-norm-train`
//! with ReLU and pooling) in float32. Tolerance: `1e-4` of the largest magnitude of each
//! compared quantity (f32 rounding over sums of at most 252 products, and a normalisation by
//! the batch's standard deviation).

use candle_core::{DType, Device, Tensor};
use candle_nn::{ModuleT, VarBuilder, VarMap};
use serde_json::Value;
use siamedge_trainer::model::conv_block::conv_block;

fn values(doc: &Value, key: &str) -> Vec<f32> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array {key}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn shape(doc: &Value, key: &str) -> Vec<usize> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array {key}"))
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

fn close(what: &str, got: &Tensor, want: &[f32]) {
    let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "{what}[{i}]: candle {g} vs torch {w} (largest {scale})"
        );
    }
}

#[test]
fn a_conv_block_trains_as_pytorchs_does() {
    let doc: Value = serde_json::from_str(include_str!("data/conv_block_torch.json")).unwrap();
    let dims = shape(&doc, "shape_nhwc");
    let (c_in, c_out) = (dims[3], doc["c_out"].as_u64().unwrap() as usize);
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let block = conv_block(
        c_in,
        c_out,
        VarBuilder::from_varmap(&varmap, DType::F32, &dev),
    )
    .unwrap();
    let set = |name: &str, key: &str| {
        let data = varmap.data().lock().unwrap();
        let var = &data[name];
        var.set(&Tensor::from_vec(values(&doc, key), var.shape(), &dev).unwrap())
            .unwrap();
    };
    set("conv.weight", "conv_weight");
    set("conv.bias", "conv_bias");
    set("bn.weight", "bn_weight");
    set("bn.bias", "bn_bias");
    let x = candle_core::Var::from_tensor(
        &Tensor::from_vec(values(&doc, "x"), dims.as_slice(), &dev).unwrap(),
    )
    .unwrap();
    let y = block.forward_t(x.as_tensor(), true).unwrap();
    let y_shape = shape(&doc, "y_shape");
    assert_eq!(y.dims(), y_shape.as_slice());
    close("output", &y, &values(&doc, "y"));
    let probe = Tensor::from_vec(values(&doc, "probe"), y.shape(), &dev).unwrap();
    let grads = (y * probe).unwrap().sum_all().unwrap().backward().unwrap();
    close(
        "grad x",
        grads.get(x.as_tensor()).unwrap(),
        &values(&doc, "grad_x"),
    );
    let data = varmap.data().lock().unwrap();
    for (name, key) in [
        ("conv.weight", "grad_conv_weight"),
        ("bn.weight", "grad_bn_weight"),
        ("bn.bias", "grad_bn_bias"),
    ] {
        let g = grads
            .get(data[name].as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        close(name, g, &values(&doc, key));
    }
    for name in ["running_mean", "running_var"] {
        close(
            name,
            data[&format!("bn.{name}")].as_tensor(),
            &values(&doc, name),
        );
    }
}
