//! The data module's sets as [`LabelledSet`]s at a network's input size: area-averaging resize
//! (REFERENCE.md's INTER_AREA; 112x92 -> 56x46 is the exact 2x2 mean), pixels / 255, one grey channel,
//! labels = identity (ORL person 0..39, MNIST digit).

use std::ops::Range;

use crate::data::{resize_area, GrayImage, Mnist, OrlFaces};
use crate::data::{ImageShape, LabelledSet};

use super::TrainError;

fn push_resized(
    out: &mut Vec<f32>,
    pixels: &[u8],
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
) -> Result<(), TrainError> {
    if (sw, sh) == (dw, dh) {
        out.extend(pixels.iter().map(|&p| f32::from(p) / 255.0));
    } else {
        let r = resize_area(pixels, sw, sh, dw, dh).map_err(|e| TrainError::Config {
            field: "size",
            reason: e.to_string(),
        })?;
        out.extend(r.into_iter().map(|p| p / 255.0));
    }
    Ok(())
}

/// ORL images `indices` (into `faces.images`) at `height x width`.
pub fn orl_set(
    faces: &OrlFaces,
    indices: &[usize],
    height: usize,
    width: usize,
) -> Result<LabelledSet, TrainError> {
    let mut pixels = Vec::with_capacity(indices.len() * height * width);
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        let img: &GrayImage = faces.images.get(i).ok_or(TrainError::Config {
            field: "indices",
            reason: format!("image {i} is outside the {} ORL images", faces.images.len()),
        })?;
        push_resized(
            &mut pixels,
            &img.pixels,
            (img.width, img.height),
            (width, height),
        )?;
        labels.push(faces.labels[i]);
    }
    Ok(LabelledSet::new(
        pixels,
        labels,
        ImageShape::grey(height, width),
    )?)
}

/// Which half of an MNIST-style set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistSplit {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images.
    Test,
}

/// The images of `split` whose digit is in `digits` (REFERENCE.md's open set: train on 0..5, test on
/// 5..10), at most `limit` of them in file order, at `height x width`.
pub fn mnist_set(
    m: &Mnist,
    split: MnistSplit,
    digits: Range<u8>,
    limit: usize,
    height: usize,
    width: usize,
) -> Result<LabelledSet, TrainError> {
    let (labels_all, len) = match split {
        MnistSplit::Train => (&m.train_labels, m.train_len()),
        MnistSplit::Test => (&m.test_labels, m.test_len()),
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for i in (0..len)
        .filter(|&i| digits.contains(&labels_all[i]))
        .take(limit)
    {
        let img = match split {
            MnistSplit::Train => m.train_image(i),
            MnistSplit::Test => m.test_image(i),
        };
        push_resized(&mut pixels, img, (m.width, m.height), (width, height))?;
        labels.push(u32::from(labels_all[i]));
    }
    Ok(LabelledSet::new(
        pixels,
        labels,
        ImageShape::grey(height, width),
    )?)
}
