//! Writes a PNG sample sheet of synthetic signatures: one row per writer, 3 genuine signatures
//! (green bar) then 3 skilled forgeries (red bar), all at one scale, with thin separators.
//!
//! ```text
//! cargo run -p siamedge-trainer --example signature_sheet -- [OUT.png] [SEED] [FIRST_WRITER] [WRITERS]
//! ```
//! Defaults: `signature-sheet.png`, seed 0, writers 0..4.

use image::{imageops, GrayImage, Rgb, RgbImage};
use siamedge_trainer::data::synth_signature::{RenderOptions, SampleKind, SignatureSynth};

/// Samples of each kind per row.
const PER_KIND: u32 = 3;
/// Largest cell, px.
const CELL_W: u32 = 400;
const CELL_H: u32 = 190;
/// Separator and kind-bar thickness, px.
const SEP: u32 = 3;
const BAR: u32 = 4;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> Result<T, String> {
    args.get(i).map_or(Ok(default), |s| {
        s.parse().map_err(|_| format!("argument {}: {s:?}", i + 1))
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .cloned()
        .unwrap_or_else(|| "signature-sheet.png".to_string());
    let seed: u64 = arg(&args, 1, 0)?;
    let first: u32 = arg(&args, 2, 0)?;
    let writers: u32 = arg(&args, 3, 4)?;
    let synth = SignatureSynth {
        seed,
        render: RenderOptions {
            dpi: 150.0,
            margin_mm: 2.0,
            ..RenderOptions::default()
        },
        ..SignatureSynth::default()
    };
    let kinds = [SampleKind::Genuine, SampleKind::SkilledForgery];
    let mut cells: Vec<(u32, u32, SampleKind, GrayImage)> = Vec::new();
    for row in 0..writers {
        for (c, kind) in kinds
            .iter()
            .flat_map(|k| std::iter::repeat_n(*k, PER_KIND as usize))
            .enumerate()
        {
            let k = c as u32 % PER_KIND;
            cells.push((row, c as u32, kind, synth.image(first + row, k, kind)?));
        }
    }
    let (max_w, max_h) = cells.iter().fold((1, 1), |(w, h), (.., img)| {
        (w.max(img.width()), h.max(img.height()))
    });
    let scale = (CELL_W as f32 / max_w as f32)
        .min(CELL_H as f32 / max_h as f32)
        .min(1.0);
    let (cell_w, cell_h) = (
        (max_w as f32 * scale).ceil() as u32,
        (max_h as f32 * scale).ceil() as u32,
    );
    let cols = 2 * PER_KIND;
    let sheet_w = cols * (cell_w + SEP) + SEP;
    let sheet_h = writers * (cell_h + BAR + SEP) + SEP;
    let mut sheet = RgbImage::from_pixel(sheet_w, sheet_h, Rgb([70, 70, 70]));
    for (row, col, kind, img) in &cells {
        let (x0, y0) = (SEP + col * (cell_w + SEP), SEP + row * (cell_h + BAR + SEP));
        let bar = if *kind == SampleKind::Genuine {
            Rgb([40, 160, 60])
        } else {
            Rgb([200, 50, 40])
        };
        // The mean of the top row: the scan's paper.
        let paper = (img
            .rows()
            .next()
            .map_or(0, |r| r.map(|p| u32::from(p.0[0])).sum::<u32>())
            / img.width().max(1)) as u8;
        for y in 0..cell_h + BAR {
            for x in 0..cell_w {
                let colour = if y < BAR { bar } else { Rgb([paper; 3]) };
                sheet.put_pixel(x0 + x, y0 + y, colour);
            }
        }
        let (w, h) = (
            (img.width() as f32 * scale).round().max(1.0) as u32,
            (img.height() as f32 * scale).round().max(1.0) as u32,
        );
        let small = imageops::resize(img, w, h, imageops::FilterType::Triangle);
        let (ox, oy) = (
            x0 + (cell_w - w.min(cell_w)) / 2,
            y0 + BAR + (cell_h - h.min(cell_h)) / 2,
        );
        for (x, y, p) in small.enumerate_pixels() {
            if x < cell_w && y < cell_h {
                sheet.put_pixel(ox + x, oy + y, Rgb([p.0[0]; 3]));
            }
        }
    }
    sheet
        .save(&out)
        .map_err(|e| format!("writing {out}: {e}"))?;
    println!("wrote {out}: {writers} writers x ({PER_KIND} genuine + {PER_KIND} skilled forgeries), seed {seed}");
    Ok(())
}
