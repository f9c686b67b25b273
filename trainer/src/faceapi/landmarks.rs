//! FaceLandmark68Net: face-api.js's 68-point landmark network, in candle.
//!
//! Input `[N, 112, 112, 3]` RGB 0..255 (a face region zero-padded to a square and resized, see
//! `siamedge_format::preprocess::align::landmark_input`); output `[N, 136]`, `x0, y0, x1, y1, ...`
//! relative (0..1) to the padded square, iBUG point order.
//!
//! Network: `(x - MEAN_RGB) / 255`; four dense blocks (32, 64, 128, 256 channels; 112 -> 56 -> 28
//! -> 14 -> 7); avg-pool 7/2 'valid' (the global mean); `@ fc/weights [256, 136] + fc/bias`. A
//! dense block: `out1 = relu(conv0(x))` at stride 2 (block 0 a plain 3x3 conv + bias, the others
//! separable), then `out2 = sep(out1)`, `out3 = sep(relu(out1 + out2))`, `out4 = sep(relu(out1 +
//! out2 + out3))`, `relu(out1 + out2 + out3 + out4)`. `sep` is TF's separableConv2d 'same' (3x3
//! depthwise, then 1x1 pointwise) + bias; TF 'same' at stride 2 on an even side pads 0 before and 1
//! after.

use candle_core::{Device, Module, Tensor};

use super::layers::{
    channels, conv3, depthwise, depthwise3, filters, global_mean, matrix, normalize_nhwc, vector,
};
use super::tfjs::TfjsWeights;
use super::FaceApiError;

/// Side of the input, pixels.
pub const INPUT_SIDE: usize = 112;
/// Outputs: 68 points, x and y.
pub const OUTPUTS: usize = 136;

/// Separable conv (depthwise 3x3 + pointwise 1x1) + bias, or a plain 3x3 conv + bias.
struct Conv {
    depthwise: Option<Tensor>,
    w: Tensor,
    bias: Tensor,
    stride: usize,
}

impl Conv {
    fn separable(
        w: &TfjsWeights,
        prefix: &str,
        cin: usize,
        cout: usize,
        stride: usize,
        dev: &Device,
    ) -> Result<Self, FaceApiError> {
        Ok(Self {
            depthwise: Some(depthwise(
                w,
                &format!("{prefix}/depthwise_filter"),
                cin,
                dev,
            )?),
            w: filters(w, &format!("{prefix}/pointwise_filter"), 1, cin, cout, dev)?,
            bias: channels(&vector(w, &format!("{prefix}/bias"), cout, dev)?)?,
            stride,
        })
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.depthwise {
            Some(d) => depthwise3(x, d, self.stride)?.conv2d(&self.w, 0, 1, 1, 1)?,
            None => conv3(x, &self.w, self.stride, true)?,
        };
        y.broadcast_add(&self.bias)
    }
}

struct DenseBlock {
    convs: [Conv; 4],
}

impl DenseBlock {
    fn load(
        w: &TfjsWeights,
        prefix: &str,
        cin: usize,
        cout: usize,
        first: bool,
        dev: &Device,
    ) -> Result<Self, FaceApiError> {
        let conv0 = if first {
            Conv {
                depthwise: None,
                w: filters(w, &format!("{prefix}/conv0/filters"), 3, cin, cout, dev)?,
                bias: channels(&vector(w, &format!("{prefix}/conv0/bias"), cout, dev)?)?,
                stride: 2,
            }
        } else {
            Conv::separable(w, &format!("{prefix}/conv0"), cin, cout, 2, dev)?
        };
        let sep = |i: usize| Conv::separable(w, &format!("{prefix}/conv{i}"), cout, cout, 1, dev);
        Ok(Self {
            convs: [conv0, sep(1)?, sep(2)?, sep(3)?],
        })
    }
}

impl Module for DenseBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let [c0, c1, c2, c3] = &self.convs;
        let out1 = c0.forward(x)?.relu()?;
        let out2 = c1.forward(&out1)?;
        let out3 = c2.forward(&(&out1 + &out2)?.relu()?)?;
        let in4 = (&out1 + (&out2 + &out3)?)?.relu()?;
        let out4 = c3.forward(&in4)?;
        (out1 + (out2 + (out3 + out4)?)?)?.relu()
    }
}

/// The network with its weights.
pub struct FaceLandmark68Net {
    blocks: [DenseBlock; 4],
    fc: Tensor,
    fc_bias: Tensor,
}

impl FaceLandmark68Net {
    /// The 49 tensors of `face_landmark_68_model-weights_manifest.json`.
    pub fn new(w: &TfjsWeights, dev: &Device) -> Result<Self, FaceApiError> {
        Ok(Self {
            blocks: [
                DenseBlock::load(w, "dense0", 3, 32, true, dev)?,
                DenseBlock::load(w, "dense1", 32, 64, false, dev)?,
                DenseBlock::load(w, "dense2", 64, 128, false, dev)?,
                DenseBlock::load(w, "dense3", 128, 256, false, dev)?,
            ],
            fc: matrix(w, "fc/weights", 256, OUTPUTS, dev)?,
            fc_bias: vector(w, "fc/bias", OUTPUTS, dev)?,
        })
    }

    /// `[N, 112, 112, 3]` RGB 0..255 -> `[N, 136]` raw outputs.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, FaceApiError> {
        let (_, h, w, c) = x.dims4()?;
        if (h, w, c) != (INPUT_SIDE, INPUT_SIDE, 3) {
            return Err(FaceApiError::Input {
                net: "landmark",
                expected: [INPUT_SIDE, INPUT_SIDE, 3],
                found: [h, w, c],
            });
        }
        let mut out = normalize_nhwc(x)?;
        for b in &self.blocks {
            out = b.forward(&out)?;
        }
        Ok(global_mean(&out)?
            .matmul(&self.fc)?
            .broadcast_add(&self.fc_bias)?)
    }
}
