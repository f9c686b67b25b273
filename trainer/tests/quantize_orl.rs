//! Quantization on a briefly trained compact encoder (ORL fold 0, 28x23): post-training quantization
//! gives a model file that decodes and whose int8 embeddings (on the firmware's engine) stay close
//! to the float ones on held-out people; the fake-quant forward of quantization-aware training
//! agrees with the engine on the converted file to 1 LSB; recalibration picks thresholds that give
//! the requested FAR on the calibration pairs. Skips without the cached data unless
//! `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use siamedge_format::{EmbeddingRef, Metric, Model, Task};
use siamedge_trainer::data::LabelledSet;
use siamedge_trainer::eval::all_pairs;
use siamedge_trainer::eval::pipeline::{evaluate_runs, EvalOptions};
use siamedge_trainer::eval::BenchmarkReport;
use siamedge_trainer::loss::LossKind;
use siamedge_trainer::model::EncoderConfig;
use siamedge_trainer::quant::fold::nhwc_image;
use siamedge_trainer::quant::int8::Int8Embedder;
use siamedge_trainer::quant::pipeline::{
    quantize_run, QuantMethod, QuantizeOptions, THRESHOLDS_FROM_VALIDATION,
};
use siamedge_trainer::quant::qat::qat_finetune;
use siamedge_trainer::quant::thresholds::recalibrate;
use siamedge_trainer::quant::{
    fold, quantize_ptq, Calibration, ModelMeta, QatConfig, QatEncoder, QatLoss, QuantError,
    RangeRule,
};
use siamedge_trainer::train::{
    orl_set, run, train_recipe, Recipe, RunOptions, TrainConfig, Trainer,
};

const H: usize = 28;
const W: usize = 23;

struct Trained {
    cfg: EncoderConfig,
    weights: HashMap<String, Tensor>,
    train: LabelledSet,
    test: LabelledSet,
}

fn trained() -> Option<Trained> {
    trained_with(LossKind::BatchHard)
}

fn trained_with(loss: LossKind) -> Option<Trained> {
    let faces = common::orl()?;
    let fold0 = faces.fold(0).unwrap();
    let train = orl_set(&faces, &fold0.train, H, W).unwrap();
    let test = orl_set(&faces, &fold0.test, H, W).unwrap();
    let mut cfg = TrainConfig::reference(H, W, 16);
    cfg.model.encoder = EncoderConfig {
        widths: vec![8, 16, 16],
        ..EncoderConfig::compact(H, W, 16)
    };
    cfg.loss = loss;
    cfg.steps = 40;
    cfg.batch = 32;
    cfg.optimizer.warmup_steps = 5;
    let mut trainer = Trainer::new(cfg.clone(), &train).unwrap();
    run(&mut trainer, &train, None, &RunOptions::default(), |_| {}).unwrap();
    let weights = trainer.weights().unwrap();
    Some(Trained {
        cfg: cfg.model.encoder,
        weights,
        train,
        test,
    })
}

/// The QAT encoder of `t`'s weights, activation ranges from `calibration`, range momentum 0.05.
fn qat_encoder(t: &Trained, calibration: &Calibration) -> QatEncoder {
    QatEncoder::from_weights(
        &t.cfg,
        &t.weights,
        "encoder",
        calibration,
        0.05,
        &Device::Cpu,
    )
    .unwrap()
}

fn images(set: &LabelledSet) -> Vec<Vec<f32>> {
    (0..set.len())
        .map(|i| nhwc_image(set.image(i), (1, H, W)))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b)).max(1e-12)
}

#[test]
fn ptq_qat_and_calibration_on_orl() {
    let Some(t) = trained() else { return };
    let folded = fold(&t.cfg, &t.weights, "encoder").unwrap();
    let train_imgs = images(&t.train);
    let meta = ModelMeta::placeholder(Task::Face, 0.5).unwrap();

    // --- PTQ: decodes, int8 close to f32 on held-out people.
    let (spec, calibration) = quantize_ptq(
        &folded,
        train_imgs.iter().take(120).map(|v| v.as_slice()),
        RangeRule::Percentile(99.99),
        &meta,
    )
    .unwrap();
    let bytes = spec.to_bytes().unwrap();
    let model = Model::decode(&bytes).unwrap();
    assert_eq!(model.embedding().dim, 16);
    let mut engine = Int8Embedder::new(&model);
    let scale = model.embedding().scale;
    let mut worst = 1f32;
    for img in images(&t.test) {
        let f = folded.forward(&img).unwrap();
        let q: Vec<f32> = engine
            .embed(&img)
            .unwrap()
            .iter()
            .map(|&v| f32::from(v) * scale)
            .collect();
        worst = worst.min(cosine(&f, &q));
    }
    eprintln!("PTQ: worst f32/int8 cosine on 100 held-out images {worst:.4}");
    assert!(worst >= 0.99, "worst cosine {worst}");

    // --- QAT: a few fine-tuning steps, then fake-quant (eval) against the engine.
    let qat = qat_encoder(&t, &calibration);
    let mut qcfg = QatConfig::new(8);
    qcfg.identities = 8;
    let losses = qat_finetune(&qat, &t.train, &qcfg, |_, _| {}).unwrap();
    assert!(losses.iter().all(|l| l.is_finite()));
    let qbytes = qat.to_spec(&meta).unwrap().to_bytes().unwrap();
    let qmodel = Model::decode(&qbytes).unwrap();
    let mut qengine = Int8Embedder::new(&qmodel);
    let x = Tensor::from_vec(
        (0..t.test.len())
            .flat_map(|i| t.test.image(i).to_vec())
            .collect::<Vec<f32>>(),
        (t.test.len(), 1, H, W),
        &Device::Cpu,
    )
    .unwrap();
    let fake: Vec<Vec<f32>> = qat.forward_t(&x, false).unwrap().to_vec2().unwrap();
    let qscale = qmodel.embedding().scale;
    let (mut within, mut total, mut worst_cos) = (0usize, 0usize, 1f32);
    for (img, fq) in images(&t.test).iter().zip(&fake) {
        let e = qengine.embed(img).unwrap();
        let ef: Vec<f32> = e.iter().map(|&v| f32::from(v) * qscale).collect();
        for (a, b) in e.iter().zip(fq) {
            let lsb = (f32::from(*a) - b / qscale).abs();
            within += usize::from(lsb <= 1.0 + 1e-3);
            total += 1;
        }
        worst_cos = worst_cos.min(cosine(&ef, fq));
    }
    let frac = within as f64 / total as f64;
    eprintln!(
        "QAT fake-quant vs engine: {frac:.4} of values within 1 LSB, worst cosine {worst_cos:.5}"
    );
    assert!(frac >= 0.99, "{frac}");
    assert!(worst_cos >= 0.999, "{worst_cos}");

    // --- Calibration: the chosen threshold gives at most the requested FAR on the calibration pairs.
    let far = 0.01;
    let (rebytes, points) = recalibrate(&bytes, &t.train, &[far]).unwrap();
    let remodel = Model::decode(&rebytes).unwrap();
    // Model file v2: the id names the weights and graph, not the operating points, so new
    // thresholds keep the pairing with the exported ONNX files and the card.
    assert_eq!(
        remodel.id(),
        model.id(),
        "recalibration must keep the model id"
    );
    assert_ne!(rebytes, bytes, "the decision section changed");
    let threshold = remodel.decision().default_point().threshold;
    assert_eq!(f64::from(threshold), points[0].threshold as f32 as f64);
    let mut e2 = Int8Embedder::new(&remodel);
    let emb = e2.embed_set(&t.train).unwrap();
    let pairs = all_pairs(t.train.labels());
    let s = remodel.embedding().scale;
    let d = |a: usize, b: usize| {
        let r = |i: usize| EmbeddingRef {
            model: remodel.id(),
            scale: s,
            values: &emb[i],
        };
        Metric::L2.distance_i8(r(a), r(b)).unwrap()
    };
    let fa = pairs
        .impostor
        .iter()
        .filter(|p| d(p.a, p.b) <= threshold)
        .count();
    let measured = fa as f64 / pairs.impostor.len() as f64;
    eprintln!(
        "calibrate: threshold {threshold} gives FAR {measured:.4} ({fa} of {}) on the calibration pairs",
        pairs.impostor.len()
    );
    assert!(measured <= far, "FAR {measured} above {far}");
    assert!(
        measured > far / 3.0,
        "the threshold is far too strict: FAR {measured}"
    );
}

/// QAT of a CosFace run fine-tunes with CosFace and the run's own class weights: its first loss is
/// below the same step's loss with freshly drawn class weights. Pair losses and the errors of
/// unusable runs too.
#[test]
fn qat_fine_tunes_with_the_runs_loss() {
    let Some(t) = trained_with(LossKind::Cosface) else {
        return;
    };
    let folded = fold(&t.cfg, &t.weights, "encoder").unwrap();
    let train_imgs = images(&t.train);
    let meta = ModelMeta::placeholder(Task::Face, 0.5).unwrap();
    let (_, calibration) = quantize_ptq(
        &folded,
        train_imgs.iter().take(60).map(|v| v.as_slice()),
        RangeRule::MinMax,
        &meta,
    )
    .unwrap();
    let first_loss = |loss: QatLoss| {
        let qat = qat_encoder(&t, &calibration);
        let mut qcfg = QatConfig::new(1);
        qcfg.identities = 8;
        qcfg.loss = loss;
        qat_finetune(&qat, &t.train, &qcfg, |_, _| {}).unwrap()[0]
    };
    let runs_own =
        QatLoss::for_run(LossKind::Cosface, 0.5, 16.0, 0.25, &t.weights, &t.train).unwrap();
    assert!(matches!(runs_own, QatLoss::CosFace { .. }));
    let mut random = t.weights.clone();
    let w = &t.weights["cosface.weight"];
    random.insert(
        "cosface.weight".into(),
        Tensor::randn(0f32, 0.1, w.dims(), &Device::Cpu).unwrap(),
    );
    let fresh = QatLoss::for_run(LossKind::Cosface, 0.5, 16.0, 0.25, &random, &t.train).unwrap();
    let (own, other) = (first_loss(runs_own), first_loss(fresh));
    eprintln!("first QAT CosFace loss: run's class weights {own:.4}, random ones {other:.4}");
    assert!(own < other, "{own} vs {other}");

    for kind in [
        LossKind::Contrastive,
        LossKind::Logistic,
        LossKind::BatchSemiHard,
    ] {
        let l = QatLoss::for_run(kind, 0.5, 16.0, 0.25, &t.weights, &t.train).unwrap();
        assert!(first_loss(l).is_finite(), "{kind:?}");
    }

    let err =
        QatLoss::for_run(LossKind::Binary, 0.5, 16.0, 0.25, &t.weights, &t.train).unwrap_err();
    assert!(matches!(err, QuantError::Config { .. }), "{err}");
    let mut missing = t.weights.clone();
    missing.remove("cosface.weight");
    let err = QatLoss::for_run(LossKind::Cosface, 0.5, 16.0, 0.25, &missing, &t.train).unwrap_err();
    assert!(err.to_string().contains("cosface.weight"), "{err}");
    let fewer = t.train.filter_classes(|c| c != t.train.classes()[0]);
    let err = QatLoss::for_run(LossKind::Cosface, 0.5, 16.0, 0.25, &t.weights, &fewer).unwrap_err();
    assert!(matches!(err, QuantError::WeightShape { .. }), "{err}");
}

/// A run that kept validation identities gets its thresholds from them (never trained on): ORL
/// fold 0 keeps people 35-39, 50 images, 225 genuine and 1,000 impostor pairs. `eval
/// --validation --flip-tta` judges on the same people with two inferences per image.
#[test]
fn thresholds_and_validation_eval_use_the_validation_identities() {
    let Some(cache) = common::cache() else { return };
    if common::orl().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_recipe(
        &Recipe {
            out: Some(out.clone()),
            cache: Some(cache.root().to_path_buf()),
            fold: Some(0),
            height: Some(H),
            width: Some(W),
            widths: Some(vec![4, 8]),
            dim: Some(16),
            steps: Some(12),
            batch: Some(32),
            warmup: Some(2),
            val_people: Some(5),
            eval_every: Some(6),
            ..Recipe::default()
        },
        false,
    )
    .unwrap();
    let args = QuantizeOptions {
        run: out.clone(),
        out: dir.path().join("m.sgm"),
        method: QuantMethod::Ptq,
        calib_images: 50,
        percentile: 100.0,
        qat_steps: 0,
        qat_lr: 0.0,
        qat_checkpoint: None,
        task: None,
        cache: Some(cache.root().to_path_buf()),
        limit: None,
        flip_average: false,
    };
    let (_, report) = quantize_run(&args, |_, _| {}).unwrap();
    assert_eq!(report.thresholds_from, THRESHOLDS_FROM_VALIDATION);
    for p in &report.operating_points {
        assert_eq!((p.far.total, p.tar.total), (1000, 225), "{p:?}");
    }
    let v = report.validation.as_ref().unwrap();
    assert_eq!((v.int8.genuine_trials, v.int8.impostor_trials), (225, 1000));

    let report_dir = dir.path().join("val");
    evaluate_runs(&EvalOptions {
        run: vec![out.clone()],
        out: Some(report_dir.clone()),
        weights: None,
        cache: Some(cache.root().to_path_buf()),
        data_dir: None,
        no_baselines: true,
        no_plots: true,
        flip_tta: true,
        validation: true,
        threshold_impostors: None,
    })
    .unwrap();
    let r: BenchmarkReport =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let m = &r.methods[0];
    assert!(m.detail.contains("flip-averaged"), "{}", m.detail);
    assert_eq!(m.folds[0].fold, "0 (validation)");
    let v = &m.folds[0].verification;
    assert_eq!((v.genuine_trials, v.impostor_trials), (225, 1000));
}
