//! Normalized correlation of local patches (Subramaniam, Chatterjee and Mittal, "Deep neural networks
//! with inexact matching for person re-identification", NIPS 2016).
//!
//! For each position of the first map and each channel, the `p x p` patch around it is compared with
//! the `p x p` patches of the second map centred within a `s x s` search window (`s` odd, offsets in
//! [`super::window::offsets`]' order) by their normalized correlation:
//!
//! `NC(P, Q) = (mean(P Q) - mean(P) mean(Q)) / sqrt((var(P) + eps) (var(Q) + eps))`
//!
//! with means and variances over the `p^2` values (zeros outside the maps). Subtracting the means and
//! dividing by the spreads makes it insensitive to a patch's brightness and contrast (illumination),
//! unlike a plain difference. Output channel `o * C + c` holds offset `o` of channel `c`; values lie in
//! `[-1, 1]` (up to `eps`).
//!
//! Shapes: `f`, `g` `(N, H, W, C)` f32 channel-last; output `(N, H, W, s^2 C)`. Built from candle ops;
//! `tests` checks the backward pass against finite differences and
//! `trainer/tests/pair_layers_torch.rs` checks both passes against PyTorch.

use candle_core::{Result, Tensor};

use super::window::{box_sum, check_maps, offsets, pad_hw, shifted};

/// The `eps` added to each variance: 1e-4 (feature maps after ReLU have flat, all-zero patches, whose
/// correlation is then 0 rather than 0/0).
pub const NC_EPS: f64 = 1e-4;

/// Normalized correlation of `p x p` patches over an `s x s` search window, `(N, H, W, s^2 C)`; `p`
/// and `s` must be odd, `f` and `g` the same shape.
pub fn normalized_correlation(
    f: &Tensor,
    g: &Tensor,
    patch: usize,
    search: usize,
    eps: f64,
) -> Result<Tensor> {
    check_maps("normalized correlation", ("patch", patch), f, g)?;
    check_maps("normalized correlation", ("search window", search), f, g)?;
    let (_, h, w, _) = f.dims4()?;
    let m = (patch * patch) as f64;
    let mean = |x: &Tensor| box_sum(x, patch)? / m;
    let mu_f = mean(f)?;
    let var_f = (mean(&f.sqr()?)? - mu_f.sqr()?)?;
    // The second map's statistics around every centre of the search region, borders included.
    let r = search / 2;
    let gp = pad_hw(g, r)?;
    let mu_g = mean(&gp)?;
    let var_g = (mean(&gp.sqr()?)? - mu_g.sqr()?)?;
    let parts = offsets(search)
        .into_iter()
        .map(|(dy, dx)| {
            let g_o = shifted(&gp, r, dy, dx, h, w)?;
            let mu_g_o = shifted(&mu_g, r, dy, dx, h, w)?;
            let var_g_o = shifted(&var_g, r, dy, dx, h, w)?;
            let cov = (mean(&(f * &g_o)?)? - (&mu_f * &mu_g_o)?)?;
            let denom = ((&var_f + eps)? * (var_g_o + eps)?)?.sqrt()?;
            cov / denom
        })
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&parts, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::finite_difference_check;
    use candle_core::Device;

    #[test]
    fn brightness_and_contrast_do_not_change_the_correlation() {
        let dev = Device::Cpu;
        let f = Tensor::rand(0f32, 1.0, (1, 8, 8, 2), &dev).unwrap();
        let g = ((&f * 3.0).unwrap() + 0.5).unwrap();
        let a = normalized_correlation(&f, &f, 3, 3, 0.0).unwrap();
        let b = normalized_correlation(&f, &g, 3, 3, 0.0).unwrap();
        // Away from the borders (where the zeros outside the map are not brightened), i.e. where
        // every compared patch lies inside the map: rows and columns 2..6.
        let inner = |t: &Tensor| t.narrow(1, 2, 4).unwrap().narrow(2, 2, 4).unwrap();
        let diff = crate::model::test_util::max_abs((inner(&a) - inner(&b)).unwrap());
        assert!(diff < 1e-4, "{diff}");
        // The centre offset of a map with itself: 1 wherever the patch is not flat.
        let centre: Vec<f32> = a
            .narrow(3, 4 * 2, 2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(centre.iter().all(|v| (v - 1.0).abs() < 1e-3), "{centre:?}");
        let all: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        assert!(all.iter().all(|v| v.abs() <= 1.0 + 1e-4));
    }

    #[test]
    fn gradients_match_finite_differences() {
        finite_difference_check(
            |x: &[Tensor]| normalized_correlation(&x[0], &x[1], 3, 3, 0.01)?.sum_all(),
            &[(1, 4, 4, 2), (1, 4, 4, 2)],
            12,
        );
    }
}
