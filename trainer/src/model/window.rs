//! Windows of channel-last feature maps: zero padding and shifted views, the building blocks of the
//! pair-comparison layers ([`super::neighborhood_diff`], [`super::norm_corr`]).
//!
//! Maps are `(N, H, W, C)` f32. Everything here is made of candle's differentiable ops (`pad`,
//! `narrow`, sums), so gradients come from candle's autograd.

use candle_core::{Result, Tensor};

/// Fails naming `layer` unless `side` is odd and `f`, `g` have the same shape.
pub fn check_maps(layer: &str, side: (&str, usize), f: &Tensor, g: &Tensor) -> Result<()> {
    if side.1.is_multiple_of(2) {
        candle_core::bail!("{layer}: the {} side must be odd, got {}", side.0, side.1)
    }
    if f.dims() != g.dims() {
        candle_core::bail!(
            "{layer}: maps of different shapes {:?} and {:?}",
            f.dims(),
            g.dims()
        )
    }
    Ok(())
}

/// `x` `(N, H, W, C)` zero-padded by `r` pixels on every side of `H` and `W`:
/// `(N, H + 2r, W + 2r, C)`.
pub fn pad_hw(x: &Tensor, r: usize) -> Result<Tensor> {
    if r == 0 {
        return Ok(x.clone());
    }
    x.pad_with_zeros(1, r, r)?.pad_with_zeros(2, r, r)
}

/// The `(N, H, W, C)` view of a map padded by `r` ([`pad_hw`]) shifted by `(dy, dx)`, both in
/// `-r..=r`: element `(n, y, x, c)` is the unpadded map's `(n, y + dy, x + dx, c)`, or 0 outside it.
pub fn shifted(
    padded: &Tensor,
    r: usize,
    dy: isize,
    dx: isize,
    h: usize,
    w: usize,
) -> Result<Tensor> {
    let oy = (r as isize + dy) as usize;
    let ox = (r as isize + dx) as usize;
    padded.narrow(1, oy, h)?.narrow(2, ox, w)
}

/// The offsets of a `k x k` window (`k` odd) centred on 0, row-major: `(-r, -r), (-r, -r + 1), ...,
/// (r, r)` with `r = k / 2`. The order of the comparison layers' output channels.
pub fn offsets(k: usize) -> Vec<(isize, isize)> {
    let r = (k / 2) as isize;
    (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
        .collect()
}

/// The sum of `x` `(N, H, W, C)` over the `k x k` window around each pixel (`k` odd, zeros outside
/// the map): `(N, H, W, C)`.
pub fn box_sum(x: &Tensor, k: usize) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    let r = k / 2;
    let p = pad_hw(x, r)?;
    let mut acc: Option<Tensor> = None;
    for (dy, dx) in offsets(k) {
        let s = shifted(&p, r, dy, dx, h, w)?;
        acc = Some(match acc {
            None => s,
            Some(a) => (a + s)?,
        });
    }
    match acc {
        Some(a) => Ok(a),
        None => candle_core::bail!("box_sum: empty window"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn shifted_views_read_the_neighbour_or_zero() {
        // One 2x3 map, one channel: 1 2 3 / 4 5 6.
        let x = Tensor::from_vec(
            (1..=6).map(|v| v as f32).collect::<Vec<_>>(),
            (1, 2, 3, 1),
            &Device::Cpu,
        )
        .unwrap();
        let p = pad_hw(&x, 1).unwrap();
        let right: Vec<f32> = shifted(&p, 1, 0, 1, 2, 3)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(right, [2., 3., 0., 5., 6., 0.]);
        let up_left: Vec<f32> = shifted(&p, 1, -1, -1, 2, 3)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(up_left, [0., 0., 0., 0., 1., 2.]);
        let sums: Vec<f32> = box_sum(&x, 3)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(sums, [12., 21., 16., 12., 21., 16.]);
        assert_eq!(offsets(3)[0], (-1, -1));
        assert_eq!(offsets(3)[4], (0, 0));
        assert_eq!(offsets(5).len(), 25);
    }
}
