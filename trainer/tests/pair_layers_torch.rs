//! The pair-comparison layers against PyTorch: `tests/data/pair_layers_torch.json` holds inputs,
//! 1x1 summary weights, outputs and gradients computed in float64 by an independent PyTorch
//! implementation (`scripts/research/pair_layers_torch.py`: explicit patches by `F.unfold`, where
//! candle's side uses shifted views and box sums). Both sides run in f64; every value must agree
//! within `1e-9 + 1e-9 * |value|`.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};
use serde_json::Value;
use siamedge_trainer::model::neighborhood_diff::neighborhood_differences;
use siamedge_trainer::model::norm_corr::normalized_correlation;
use siamedge_trainer::model::pair_head::Summary;

fn values(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array {key}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(what: &str, got: &Tensor, want: &[f64]) {
    let got: Vec<f64> = got.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 + 1e-9 * w.abs(),
            "{what}[{i}]: candle {g} vs torch {w}"
        );
    }
}

#[test]
fn forward_and_backward_match_pytorch() {
    let doc: Value = serde_json::from_str(include_str!("data/pair_layers_torch.json")).unwrap();
    let s: Vec<usize> = doc["shape_nhwc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let (n, h, w, c) = (s[0], s[1], s[2], s[3]);
    let k = doc["nd_window"].as_u64().unwrap() as usize;
    let (p, sw) = (
        doc["nc_patch"].as_u64().unwrap() as usize,
        doc["nc_search"].as_u64().unwrap() as usize,
    );
    let eps = doc["nc_eps"].as_f64().unwrap();
    let m = doc["summary_channels"].as_u64().unwrap() as usize;
    let dev = Device::Cpu;
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let var = |key: &str, shape: &[usize]| {
            Var::from_tensor(&Tensor::from_vec(values(case, key), shape, &dev).unwrap()).unwrap()
        };
        let f = var("f", &[n, h, w, c]);
        let g = var("g", &[n, h, w, c]);
        let y = match name {
            "neighborhood_differences" => neighborhood_differences(&f, &g, k),
            "normalized_correlation" => normalized_correlation(&f, &g, p, sw, eps),
            "merge_concat" => Tensor::cat(&[f.as_tensor(), g.as_tensor()], 3),
            "merge_abs_diff" => (f.as_tensor() - g.as_tensor()).unwrap().abs(),
            other => panic!("unknown case {other}"),
        }
        .unwrap();
        assert_eq!(y.dtype(), DType::F64);
        close(&format!("{name} output"), &y, &values(case, "output"));
        let c_out = y.dim(3).unwrap();
        let wt = var("weight", &[m, c_out]);
        let b = var("bias", &[m]);
        let summary = Summary::new(Linear::new(
            wt.as_tensor().clone(),
            Some(b.as_tensor().clone()),
        ));
        let z = summary.forward(&y).unwrap();
        close(&format!("{name} summary"), &z, &values(case, "summary"));
        let r = Tensor::from_vec(values(case, "r"), z.dims(), &dev).unwrap();
        let loss = (z * r).unwrap().sum_all().unwrap();
        let want_loss = case["loss"].as_f64().unwrap();
        let got_loss = loss.to_scalar::<f64>().unwrap();
        assert!(
            (got_loss - want_loss).abs() <= 1e-9 * (1.0 + want_loss.abs()),
            "{name} loss"
        );
        let grads = loss.backward().unwrap();
        for (key, v) in [
            ("grad_f", &f),
            ("grad_g", &g),
            ("grad_w", &wt),
            ("grad_b", &b),
        ] {
            let gr = grads
                .get(v.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no {key}"));
            close(&format!("{name} {key}"), gr, &values(case, key));
        }
    }
}
