//! FaceRecognitionNet: face-api.js's port of dlib's face recognition ResNet
//! (`dlib_face_recognition_resnet_model_v1`, 29 conv layers, LFW 99.38 %), in candle.
//!
//! Input `[N, 150, 150, 3]` RGB 0..255 (an aligned chip, see
//! `siamedge_format::preprocess::align`); output `[N, 128]`, the raw descriptor (not
//! L2-normalised; face-api compares by Euclidean distance, its matcher's threshold is 0.6).
//!
//! Network (as `@vladmandic/face-api` 1.7.15 runs it): `(x - MEAN_RGB) / 255`; conv 7x7/2 'valid'
//! plus bias, scale (`x * w + b`), ReLU (150 -> 72); max-pool 3/2 'valid' (72 -> 35); residual blocks
//! 3 x 32 channels, down + 3 x 64, down + 2 x 128, down + 2 x 256, down; mean over H, W; `@ fc`
//! `[256, 128]`, no bias. A residual block is conv 3x3 'same' + bias, scale, ReLU, conv + bias,
//! scale, + input, ReLU; a down block's first conv is 3x3/2 'valid' and its shortcut is avg-pool
//! 2/2 with the channels zero-padded, the conv path getting one zero row and column at the end
//! when it is smaller (35 -> 17 -> 8 -> 3+1 -> 1+1).

use candle_core::{Device, Module, Tensor};

use super::layers::{channels, conv3, filters, global_mean, matrix, normalize_nhwc, vector};
use super::tfjs::TfjsWeights;
use super::FaceApiError;

/// Side of the input chip, pixels.
pub const CHIP_SIDE: usize = 150;
/// Descriptor length.
pub const DESCRIPTOR_DIM: usize = 128;

/// Conv + bias, then the per-channel scale layer.
struct ConvScale {
    w: Tensor,
    bias: Tensor,
    scale: Tensor,
    shift: Tensor,
    k: usize,
}

impl ConvScale {
    fn load(
        w: &TfjsWeights,
        prefix: &str,
        k: usize,
        cin: usize,
        cout: usize,
        dev: &Device,
    ) -> Result<Self, FaceApiError> {
        Ok(Self {
            w: filters(w, &format!("{prefix}/conv/filters"), k, cin, cout, dev)?,
            bias: channels(&vector(w, &format!("{prefix}/conv/bias"), cout, dev)?)?,
            scale: channels(&vector(w, &format!("{prefix}/scale/weights"), cout, dev)?)?,
            shift: channels(&vector(w, &format!("{prefix}/scale/biases"), cout, dev)?)?,
            k,
        })
    }

    /// Stride 1 'same' (`down == false`) or stride 2 'valid'.
    fn forward(&self, x: &Tensor, down: bool, relu: bool) -> candle_core::Result<Tensor> {
        let y = if self.k == 3 {
            conv3(x, &self.w, if down { 2 } else { 1 }, !down)?
        } else {
            x.conv2d(&self.w, 0, 2, 1, 1)?
        };
        let y = y
            .broadcast_add(&self.bias)?
            .broadcast_mul(&self.scale)?
            .broadcast_add(&self.shift)?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }
}

struct Residual {
    conv1: ConvScale,
    conv2: ConvScale,
    down: bool,
}

impl Residual {
    fn load(
        w: &TfjsWeights,
        prefix: &str,
        cin: usize,
        cout: usize,
        down: bool,
        dev: &Device,
    ) -> Result<Self, FaceApiError> {
        Ok(Self {
            conv1: ConvScale::load(w, &format!("{prefix}/conv1"), 3, cin, cout, dev)?,
            conv2: ConvScale::load(w, &format!("{prefix}/conv2"), 3, cout, cout, dev)?,
            down,
        })
    }
}

impl Module for Residual {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut out = self.conv1.forward(x, self.down, true)?;
        out = self.conv2.forward(&out, false, false)?;
        if !self.down {
            return (out + x)?.relu();
        }
        let mut pooled = x.avg_pool2d(2)?;
        let (_, c_out, h, w) = out.dims4()?;
        let (_, c_in, ph, pw) = pooled.dims4()?;
        if (h, w) != (ph, pw) {
            out = out.pad_with_zeros(2, 0, 1)?.pad_with_zeros(3, 0, 1)?;
        }
        if c_in != c_out {
            pooled = pooled.pad_with_zeros(1, 0, c_out - c_in)?;
        }
        (pooled + out)?.relu()
    }
}

/// The network with its weights.
pub struct FaceRecognitionNet {
    stem: ConvScale,
    blocks: Vec<Residual>,
    fc: Tensor,
}

/// The residual blocks after the stem, in order: weight prefix, input and output channels, and
/// whether the block halves the side (a "down" block). The ONNX export builds the same plan.
pub const RESIDUAL_PLAN: [(&str, usize, usize, bool); 14] = [
    ("conv32_1", 32, 32, false),
    ("conv32_2", 32, 32, false),
    ("conv32_3", 32, 32, false),
    ("conv64_down", 32, 64, true),
    ("conv64_1", 64, 64, false),
    ("conv64_2", 64, 64, false),
    ("conv64_3", 64, 64, false),
    ("conv128_down", 64, 128, true),
    ("conv128_1", 128, 128, false),
    ("conv128_2", 128, 128, false),
    ("conv256_down", 128, 256, true),
    ("conv256_1", 256, 256, false),
    ("conv256_2", 256, 256, false),
    ("conv256_down_out", 256, 256, true),
];

impl FaceRecognitionNet {
    /// The 117 tensors of `face_recognition_model-weights_manifest.json`.
    pub fn new(w: &TfjsWeights, dev: &Device) -> Result<Self, FaceApiError> {
        let stem = ConvScale::load(w, "conv32_down", 7, 3, 32, dev)?;
        let mut blocks = Vec::new();
        for (name, cin, cout, down) in RESIDUAL_PLAN {
            blocks.push(Residual::load(w, name, cin, cout, down, dev)?);
        }
        let fc = matrix(w, "fc", 256, DESCRIPTOR_DIM, dev)?;
        Ok(Self { stem, blocks, fc })
    }

    /// `[N, 150, 150, 3]` RGB 0..255 -> `[N, 128]` raw descriptors.
    pub fn forward(&self, chips: &Tensor) -> Result<Tensor, FaceApiError> {
        let (_, h, w, c) = chips.dims4()?;
        if (h, w, c) != (CHIP_SIDE, CHIP_SIDE, 3) {
            return Err(FaceApiError::Input {
                net: "recognition",
                expected: [CHIP_SIDE, CHIP_SIDE, 3],
                found: [h, w, c],
            });
        }
        let x = normalize_nhwc(chips)?;
        let mut out = self.stem.forward(&x, true, true)?;
        out = out.max_pool2d_with_stride(3, 2)?;
        for b in &self.blocks {
            out = b.forward(&out)?;
        }
        Ok(global_mean(&out)?.matmul(&self.fc)?)
    }
}
