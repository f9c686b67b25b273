//! The whole pretrained pipeline on candle: a face image -> aligned chip -> 128-d descriptor.
//!
//! The geometry is `siamedge_format::preprocess::align` (the edge runs the same code in front of
//! the ONNX exports); the two networks are this module's candle ports. Descriptors are compared
//! by Euclidean distance, as face-api.js does.

use candle_core::Tensor;
use siamedge_format::preprocess::align::{
    align_face, AlignError, AlignVariant, Aligned, CHIP_LEN, LANDMARK_OUTPUTS,
};
use siamedge_format::preprocess::ImageRef;

use super::{FaceApi, FaceApiError, CHIP_SIDE, DESCRIPTOR_DIM, LANDMARK_SIDE};

/// Chips per recognition batch.
const BATCH: usize = 16;

impl FaceApi {
    /// The landmark net's 136 raw outputs for one NHWC `[112, 112, 3]` input.
    pub fn landmarks_raw(&self, input: &[f32]) -> Result<[f32; LANDMARK_OUTPUTS], FaceApiError> {
        let x = Tensor::from_slice(input, (1, LANDMARK_SIDE, LANDMARK_SIDE, 3), &self.device)?;
        let v: Vec<f32> = self.landmarks.forward(&x)?.flatten_all()?.to_vec1()?;
        let mut out = [0.0; LANDMARK_OUTPUTS];
        out.copy_from_slice(&v);
        Ok(out)
    }

    /// The aligned 150x150 chip of a face image (NHWC RGB 0..255, `CHIP_LEN` values) and what the
    /// alignment used.
    pub fn chip(
        &self,
        img: ImageRef,
        variant: AlignVariant,
    ) -> Result<(Vec<f32>, Aligned), FaceApiError> {
        let mut scratch = vec![0.0; LANDMARK_SIDE * LANDMARK_SIDE * 3];
        let mut chip = vec![0.0; CHIP_LEN];
        let aligned = align_face(
            img,
            variant,
            &mut scratch,
            &mut |x: &[f32]| self.landmarks_raw(x),
            &mut chip,
        )
        .map_err(|e| match e {
            AlignError::Landmarks(e) => e,
            AlignError::Preprocess(e) => FaceApiError::Align(e),
            other => FaceApiError::AlignOther(other.to_string()),
        })?;
        Ok((chip, aligned))
    }

    /// Descriptors of chips (`n * CHIP_LEN` values, NHWC), in batches: `n` rows of 128.
    pub fn descriptors(&self, chips: &[f32]) -> Result<Vec<Vec<f32>>, FaceApiError> {
        let mut out = Vec::with_capacity(chips.len() / CHIP_LEN);
        for batch in chips.chunks(BATCH * CHIP_LEN) {
            let n = batch.len() / CHIP_LEN;
            let x = Tensor::from_slice(batch, (n, CHIP_SIDE, CHIP_SIDE, 3), &self.device)?;
            let d: Vec<Vec<f32>> = self.recognition.forward(&x)?.to_vec2()?;
            debug_assert!(d.iter().all(|r| r.len() == DESCRIPTOR_DIM));
            out.extend(d);
        }
        Ok(out)
    }

    /// The descriptor of one face image through the whole pipeline.
    pub fn describe(&self, img: ImageRef, variant: AlignVariant) -> Result<Vec<f32>, FaceApiError> {
        let (chip, _) = self.chip(img, variant)?;
        Ok(self.descriptors(&chip)?.remove(0))
    }
}

/// Euclidean distance of two descriptors, in f64.
pub fn euclidean(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum::<f64>()
        .sqrt()
}
