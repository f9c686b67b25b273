//! The chip: the templates, the chip -> image [`Similarity`] fitted to them, and the bilinear
//! warp of the image into the recognition net's 150x150 input.

use super::{bilinear, check_channels, check_len, rgb, Points, CHIP_LEN, CHIP_SIDE};
use crate::preprocess::error::PreprocessError;
use crate::preprocess::image::ImageRef;

/// Where [`Similarity::from_eyes`] puts the two eye centres, in chip pixels: the mean eye position
/// this landmark net measures on upstream's dlib-style 150x150 test chips face1/face2.png
/// (`eye_template_chip_px` of the fixtures' `index.json`).
pub const EYE_TEMPLATE: [[f64; 2]; 2] = [
    [43.24527774006128, 43.35166700184345],
    [100.00804290175438, 40.00641107559204],
];

/// The landmarks [`Similarity::dlib33`] fits: nose 27-35, eyes 36-47, outer lip 48-54, inner lip
/// 60-64 (`dlib33_landmark_indices` of the fixtures' `index.json`).
pub const DLIB33_INDICES: [usize; 33] = [
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 60, 61, 62, 63, 64,
];

/// Where [`Similarity::dlib33`] puts the points [`DLIB33_INDICES`], in chip pixels: dlib's mean
/// face shape as `get_face_chip_details(det, 150, 0.25)` places it (`dlib33_template_chip_px` of
/// the fixtures' `index.json`, from the numpy/ONNX port in `shared/peers/faceapi`).
pub const DLIB33_TEMPLATE: [[f64; 2]; 33] = [
    [74.0127, 45.3352],
    [74.0127, 55.7009],
    [74.0127, 65.98049999999999],
    [74.0127, 76.5625],
    [61.687999999999995, 83.7326],
    [67.60360000000001, 85.93450000000001],
    [74.0127, 87.81060000000001],
    [80.42169999999999, 85.93450000000001],
    [86.33729999999998, 83.7326],
    [37.1737, 46.642300000000006],
    [43.712199999999996, 42.87579999999999],
    [51.582499999999996, 42.9852],
    [58.4606, 48.17329999999999],
    [51.09179999999999, 49.5099],
    [43.2743, 49.4077],
    [89.5647, 48.17329999999999],
    [96.44279999999999, 42.9852],
    [104.3132, 42.87579999999999],
    [110.85159999999999, 46.642300000000006],
    [104.75099999999999, 49.4077],
    [96.9335, 49.5099],
    [50.414899999999996, 103.02329999999999],
    [59.0985, 99.5405],
    [67.88579999999999, 97.73880000000001],
    [74.0127, 99.2578],
    [80.1395, 97.73880000000001],
    [88.9268, 99.5405],
    [97.6104, 103.02329999999999],
    [54.03789999999999, 103.4792],
    [67.8096, 102.87459999999999],
    [74.0127, 103.5343],
    [80.21570000000001, 102.87459999999999],
    [93.9874, 103.4792],
];

/// A chip -> image similarity (scale, rotation, translation; no reflection): chip pixel `(u, v)`
/// samples image point `[[a, -b], [b, a]] (u, v) + (tx, ty)`, i.e. `z (u + iv) + t` with
/// `z = a + ib`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Similarity {
    /// `scale * cos(angle)`.
    pub a: f64,
    /// `scale * sin(angle)`.
    pub b: f64,
    /// Image x of chip pixel (0, 0).
    pub tx: f64,
    /// Image y of chip pixel (0, 0).
    pub ty: f64,
}

impl Similarity {
    /// The identity.
    pub const IDENTITY: Self = Self {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// The similarity that maps [`EYE_TEMPLATE`] onto the eye centres `left`, `right` (image
    /// pixels): with two points the least-squares fit is exact, `z = (e2 - e1) / (E2 - E1)`,
    /// `t = mean(e) - z mean(E)`, computed as that fit (within 1e-14 of the reference port's
    /// transform on the ORL fixtures, whose chips it reproduces bit for bit). Non-finite when a
    /// centre is.
    pub fn from_eyes(left: [f64; 2], right: [f64; 2]) -> Self {
        let eyes = [left, right];
        Self::fit(EYE_TEMPLATE.len(), |k| EYE_TEMPLATE[k], |k| eyes[k])
    }

    /// The least-squares similarity that maps [`DLIB33_TEMPLATE`] onto the points
    /// [`DLIB33_INDICES`] (dlib's `get_face_chip_details(…, 150, 0.25)` alignment with this net's
    /// points). Non-finite when a used point is.
    pub fn dlib33(points: &Points) -> Self {
        Self::fit(
            DLIB33_TEMPLATE.len(),
            |k| DLIB33_TEMPLATE[k],
            |k| points[DLIB33_INDICES[k]],
        )
    }

    /// The least-squares `z, t` over `n` pairs (chip point, image point): with means removed,
    /// `z = Σ conj(p) q / Σ |p|²`, then `t = mean(q) - z mean(p)` (the chip points must not all
    /// coincide; the templates' do not).
    fn fit(n: usize, chip: impl Fn(usize) -> [f64; 2], image: impl Fn(usize) -> [f64; 2]) -> Self {
        let mean = |f: &dyn Fn(usize) -> [f64; 2]| {
            let mut s = [0.0; 2];
            for k in 0..n {
                let p = f(k);
                s = [s[0] + p[0], s[1] + p[1]];
            }
            [s[0] / n as f64, s[1] / n as f64]
        };
        let (mp, mq) = (mean(&chip), mean(&image));
        let (mut re, mut im, mut den) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let (p, q) = (chip(k), image(k));
            let (u, v) = (p[0] - mp[0], p[1] - mp[1]);
            let (x, y) = (q[0] - mq[0], q[1] - mq[1]);
            re += u * x + v * y;
            im += u * y - v * x;
            den += u * u + v * v;
        }
        let (a, b) = (re / den, im / den);
        Self {
            a,
            b,
            tx: mq[0] - (a * mp[0] - b * mp[1]),
            ty: mq[1] - (b * mp[0] + a * mp[1]),
        }
    }

    /// The image point chip point `(u, v)` samples: `[a u - b v + tx, b u + a v + ty]`.
    pub fn apply(&self, u: f64, v: f64) -> [f64; 2] {
        [
            self.a * u - self.b * v + self.tx,
            self.b * u + self.a * v + self.ty,
        ]
    }

    fn check_finite(&self) -> Result<(), PreprocessError> {
        match [self.a, self.b, self.tx, self.ty]
            .iter()
            .position(|v| !v.is_finite())
        {
            Some(index) => Err(PreprocessError::NonFinite {
                what: "similarity",
                index,
            }),
            None => Ok(()),
        }
    }
}

/// `v` clamped to `0..=last`; NaN (a huge transform's `inf - inf`) to 0.
fn clamp_coord(v: f64, last: usize) -> f64 {
    let last = last as f64;
    if v > last {
        last
    } else if v > 0.0 {
        v
    } else {
        0.0
    }
}

/// The 150x150 chip: chip pixel `(u, v)` is the image sampled bilinearly at `t.apply(u, v)`
/// (pixel centres at integers; the point clamped into the image first, so the edge pixels
/// repeat; `x0 = floor(x)`, `x1 = min(x0 + 1, width - 1)`, the same for y). NHWC
/// `[150, 150, 3]` RGB f32 levels `0.0..=255.0` in `out` (`CHIP_LEN` values; grey replicated;
/// f64 rounded once to f32).
pub fn warp_chip(img: ImageRef, t: &Similarity, out: &mut [f32]) -> Result<(), PreprocessError> {
    check_channels(&img)?;
    check_len("chip", CHIP_LEN, out.len())?;
    t.check_finite()?;
    let (last_x, last_y) = (img.width() - 1, img.height() - 1);
    for (v, row) in out.chunks_exact_mut(CHIP_SIDE * 3).enumerate() {
        for (u, px) in row.chunks_exact_mut(3).enumerate() {
            let [x, y] = t.apply(u as f64, v as f64);
            let (x, y) = (clamp_coord(x, last_x), clamp_coord(y, last_y));
            let (fx0, fy0) = (libm::floor(x), libm::floor(y));
            let (x0, y0) = (fx0 as usize, fy0 as usize);
            let (x1, y1) = ((x0 + 1).min(last_x), (y0 + 1).min(last_y));
            let value = bilinear(
                rgb(&img, x0, y0),
                rgb(&img, x1, y0),
                rgb(&img, x0, y1),
                rgb(&img, x1, y1),
                x - fx0,
                y - fy0,
            );
            for (o, v) in px.iter_mut().zip(value) {
                *o = v as f32;
            }
        }
    }
    Ok(())
}
