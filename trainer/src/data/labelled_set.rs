//! A labelled set of same-sized images held as f32 pixels in `[0, 1]`, grouped by identity.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::sampler::{Augment, SamplerError};

/// Shape of one image, channels first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Channels.
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl ImageShape {
    /// One grey image of `height x width`.
    pub fn grey(height: usize, width: usize) -> Self {
        Self {
            channels: 1,
            height,
            width,
        }
    }

    /// Values per image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape has no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Images `(N, C, H, W)` row-major f32 with one `u32` identity label each.
#[derive(Clone, Debug)]
pub struct LabelledSet {
    pixels: Vec<f32>,
    labels: Vec<u32>,
    shape: ImageShape,
    by_class: BTreeMap<u32, Vec<usize>>,
}

impl LabelledSet {
    /// A set from `N * shape.len()` pixels (values in `[0, 1]`) and `N` labels.
    pub fn new(
        pixels: Vec<f32>,
        labels: Vec<u32>,
        shape: ImageShape,
    ) -> Result<Self, SamplerError> {
        if shape.is_empty() || pixels.len() != labels.len() * shape.len() {
            return Err(SamplerError::ShapeMismatch {
                pixels: pixels.len(),
                labels: labels.len(),
                shape,
            });
        }
        let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &l) in labels.iter().enumerate() {
            by_class.entry(l).or_default().push(i);
        }
        Ok(Self {
            pixels,
            labels,
            shape,
            by_class,
        })
    }

    /// A set from 8-bit pixels, scaled by 1/255.
    pub fn from_u8(
        pixels: &[u8],
        labels: Vec<u32>,
        shape: ImageShape,
    ) -> Result<Self, SamplerError> {
        Self::new(
            pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
            labels,
            shape,
        )
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set has no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of each image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Pixels of image `i`, `C * H * W` values.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// All labels, one per image.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The distinct labels, ascending.
    pub fn classes(&self) -> Vec<u32> {
        self.by_class.keys().copied().collect()
    }

    /// Each distinct label's rank among them, `label -> 0..C` ascending: the row of a classifier
    /// head (CosFace) that stands for it.
    pub fn class_index(&self) -> BTreeMap<u32, u32> {
        self.by_class
            .keys()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect()
    }

    /// Indices of the images of `class` (empty if none).
    pub fn indices_of(&self, class: u32) -> &[usize] {
        self.by_class.get(&class).map_or(&[], Vec::as_slice)
    }

    /// Labels that have at least `k` images, ascending.
    pub fn classes_with_at_least(&self, k: usize) -> Vec<u32> {
        self.by_class
            .iter()
            .filter(|(_, v)| v.len() >= k)
            .map(|(&c, _)| c)
            .collect()
    }

    /// The images whose label satisfies `keep`, in their original order.
    pub fn filter_classes(&self, keep: impl Fn(u32) -> bool) -> LabelledSet {
        let n = self.shape.len();
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (i, &l) in self.labels.iter().enumerate() {
            if keep(l) {
                pixels.extend_from_slice(&self.pixels[i * n..(i + 1) * n]);
                labels.push(l);
            }
        }
        LabelledSet::new(pixels, labels, self.shape)
            .unwrap_or_else(|_| unreachable!("a filtered set keeps whole images"))
    }

    /// Images `idx` as a `(len, C, H, W)` tensor, unchanged.
    pub fn batch(&self, idx: &[usize], device: &Device) -> Result<Tensor, SamplerError> {
        let mut out = Vec::with_capacity(idx.len() * self.shape.len());
        for &i in idx {
            self.check(i)?;
            out.extend_from_slice(self.image(i));
        }
        Ok(self.to_tensor(out, idx.len(), device))
    }

    /// Images `idx` as a `(len, C, H, W)` tensor, each augmented with a fresh draw from `rng`.
    pub fn augmented_batch<R: Rng>(
        &self,
        idx: &[usize],
        augment: &Augment,
        rng: &mut R,
        device: &Device,
    ) -> Result<Tensor, SamplerError> {
        let n = self.shape.len();
        let mut out = vec![0f32; idx.len() * n];
        for (k, &i) in idx.iter().enumerate() {
            self.check(i)?;
            augment.apply(self.image(i), self.shape, rng, &mut out[k * n..(k + 1) * n]);
        }
        Ok(self.to_tensor(out, idx.len(), device))
    }

    fn check(&self, i: usize) -> Result<(), SamplerError> {
        if i >= self.len() {
            return Err(SamplerError::IndexOutOfRange {
                index: i,
                len: self.len(),
            });
        }
        Ok(())
    }

    fn to_tensor(&self, data: Vec<f32>, n: usize, device: &Device) -> Tensor {
        let s = self.shape;
        Tensor::from_vec(data, (n, s.channels, s.height, s.width), device)
            .unwrap_or_else(|_| unreachable!("the buffer holds n whole images"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_class_and_rejects_ragged_input() {
        let shape = ImageShape::grey(2, 2);
        let set = LabelledSet::from_u8(&[255; 12], vec![5, 3, 5], shape).unwrap();
        assert_eq!(set.classes(), [3, 5]);
        assert_eq!(set.indices_of(5), [0, 2]);
        assert_eq!(set.classes_with_at_least(2), [5]);
        assert_eq!(set.image(1), [1.0; 4]);
        assert_eq!(set.filter_classes(|c| c == 5).len(), 2);
        let t = set.batch(&[2, 0], &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[2, 1, 2, 2]);
        assert!(matches!(
            set.batch(&[3], &Device::Cpu),
            Err(SamplerError::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(matches!(
            LabelledSet::new(vec![0.0; 7], vec![1, 2], shape),
            Err(SamplerError::ShapeMismatch { .. })
        ));
    }
}
