//! Host timing of the on-device preprocessing and enrollment: prints a table of microseconds per
//! call (median of 7 batches). An MCU runs these in the same integer code; on a Cortex-M the
//! board's instruction counts are the figure that matters, this gives the host baseline.
//!
//! `cargo run --release -p siamedge-firmware --example preprocess_bench --features std`

use std::hint::black_box;
use std::time::Instant;

use siamedge_firmware::preprocess::{
    rasterize, resize_area_i8, resize_bilinear, resize_bilinear_i8, Gray, GrayMut, InputLut,
    RasterConfig, Roi, StrokePoint,
};
use siamedge_firmware::{enroll, EnrollPolicy};
use siamedge_format::{EmbeddingRef, InputSpec, ModelId, Quant};

/// Median microseconds per call of `f` over 7 batches of `n` calls.
fn time(n: u32, mut f: impl FnMut()) -> f64 {
    let mut batches: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[3]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let frame: Vec<u8> = (0..160u32 * 120).map(|i| (i * 31 % 251) as u8).collect();
    let src = Gray::new(160, 120, &frame)?;
    let roi = Roi::centered(160, 120, 46, 56)?;
    let mut out = vec![0u8; 46 * 56];
    // A grey 46x56 input normalized to [-1, 1] and quantized with scale 1/127.
    let spec = InputSpec {
        width: 46,
        height: 56,
        channels: 1,
        mean: heapless::Vec::from_slice(&[0.5]).map_err(|_| "mean")?,
        std: heapless::Vec::from_slice(&[0.5]).map_err(|_| "std")?,
        quant: Quant::new(1.0 / 127.0, 0),
    };
    let lut = InputLut::new(&spec)?;
    let mut input = vec![0i8; 46 * 56];

    let bilinear = time(2000, || {
        let mut dst = GrayMut::new(46, 56, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let r = resize_bilinear(black_box(&src), roi, &mut dst);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });
    let bilinear_i8 = time(2000, || {
        let r = resize_bilinear_i8(black_box(&src), roi, 46, 56, &lut, &mut input);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });
    let area = time(2000, || {
        let r = resize_area_i8(black_box(&src), roi, &spec, &mut input);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });

    let vga: Vec<u8> = (0..640u32 * 480).map(|i| (i * 31 % 251) as u8).collect();
    let big = Gray::new(640, 480, &vga)?;
    let big_roi = Roi::centered(640, 480, 46, 56)?;
    let bilinear_vga = time(2000, || {
        let mut dst = GrayMut::new(46, 56, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let r = resize_bilinear(black_box(&big), big_roi, &mut dst);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });
    let area_vga = time(500, || {
        let r = resize_area_i8(black_box(&big), big_roi, &spec, &mut input);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });

    // A 200-sample trace in 4 strokes on a 4096-unit pad, into 64x64 with a 2-pixel pen.
    let trace: Vec<StrokePoint> = (0..200u32)
        .map(|i| {
            let t = f64::from(i) / 200.0 * std::f64::consts::TAU * 3.0;
            let (x, y) = (
                2000.0 + 1500.0 * t.cos() + 200.0 * t,
                2000.0 + 800.0 * (2.0 * t).sin(),
            );
            if i % 50 == 49 {
                StrokePoint::up(x as u16, y as u16)
            } else {
                StrokePoint::down(x as u16, y as u16)
            }
        })
        .collect();
    let cfg = RasterConfig::new(64, 64).with_margin(3).with_pen_width(2);
    let mut img = vec![0u8; 64 * 64];
    let raster = time(2000, || {
        let r = rasterize(black_box(&trace), &cfg, &mut img);
        black_box(r).unwrap_or_else(|e| panic!("{e}"));
    });

    let rows: Vec<Vec<i8>> = (0..5)
        .map(|k| {
            (0..128)
                .map(|i| ((i * 37 + k * 11) % 255 - 127) as i8)
                .collect()
        })
        .collect();
    let caps: Vec<EmbeddingRef<'_>> = rows
        .iter()
        .map(|r| EmbeddingRef {
            model: ModelId([1; 16]),
            scale: 1.0 / 128.0,
            values: r,
        })
        .collect();
    let mean = time(20000, || {
        black_box(enroll(1, black_box(&caps), EnrollPolicy::Mean, true))
            .unwrap_or_else(|e| panic!("{e}"));
    });

    println!("| operation | size | us/call (host) |");
    println!("|---|---|---|");
    println!("| resize_bilinear | 160x120 (98x120 ROI) -> 46x56 | {bilinear:.2} |");
    println!("| resize_bilinear_i8 | 160x120 (98x120 ROI) -> 46x56 int8 | {bilinear_i8:.2} |");
    println!("| resize_area_i8 | 160x120 (98x120 ROI) -> 46x56 int8 | {area:.2} |");
    println!("| resize_bilinear | 640x480 (394x480 ROI) -> 46x56 | {bilinear_vga:.2} |");
    println!("| resize_area_i8 | 640x480 (394x480 ROI) -> 46x56 int8 | {area_vga:.2} |");
    println!("| rasterize | 200 samples, 4 strokes -> 64x64, pen 2 | {raster:.2} |");
    println!("| enroll Mean, L2-normalized | 5 x 128-d | {mean:.2} |");
    Ok(())
}
