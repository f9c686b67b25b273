//! The hybrid Siamese network: one shared (tied) tower embeds each image, then a small classifier
//! decides same/different from the pair's features. The classifier sees `[|e_a - e_b|, e_a * e_b]`
//! (element-wise), a concatenation that does not depend on the order of the pair, so
//! `score(a, b) == score(b, a)`.
//!
//! Inputs `a`, `b`: `(N, C, H, W)` each, values in `[0, 1]`. Output `(N,)` logits, positive for
//! "same". Parameters: `tower.*` (an [`Encoder`], no L2 normalisation), `fc1 (H, 2D)`, `fc2 (1, H)`.

use candle_core::{Result, Tensor};
use candle_nn::{Module, ModuleT, VarBuilder};

use super::encoder::{encoder, Encoder, EncoderConfig};
use super::pair_head::Classifier;
use super::ModelError;

/// Shared tower, then linear(2D -> H) - ReLU - linear(H -> 1) over `[|e_a - e_b|, e_a * e_b]`.
#[derive(Clone, Debug)]
pub struct HybridNet {
    tower: Encoder,
    head: Classifier,
}

impl HybridNet {
    /// A network from its shared tower and its classifier (`fc1`, `fc2`).
    pub fn new(tower: Encoder, head: Classifier) -> Self {
        Self { tower, head }
    }

    /// The shared tower.
    pub fn tower(&self) -> &Encoder {
        &self.tower
    }

    /// Same/different logits `(N,)` for the pairs `(a[i], b[i])`; both halves go through the tower in
    /// one batch.
    pub fn forward_pair_t(&self, a: &Tensor, b: &Tensor, train: bool) -> Result<Tensor> {
        let n = a.dim(0)?;
        let e = self.tower.forward_t(&Tensor::cat(&[a, b], 0)?, train)?;
        self.classify(&e.narrow(0, 0, n)?, &e.narrow(0, n, n)?)
    }

    /// Logits `(N,)` from two `(N, D)` embeddings computed by [`HybridNet::tower`].
    pub fn classify(&self, ea: &Tensor, eb: &Tensor) -> Result<Tensor> {
        self.head
            .forward(&Tensor::cat(&[(ea - eb)?.abs()?, (ea * eb)?], 1)?)
    }
}

/// A [`HybridNet`] with tower `tower_cfg` (its L2 normalisation switched off) and `hidden` units in the
/// classifier; parameters under `vb` (`tower.*`, `fc1.*`, `fc2.*`).
pub fn hybrid_net(
    tower_cfg: &EncoderConfig,
    hidden: usize,
    vb: VarBuilder,
) -> std::result::Result<HybridNet, ModelError> {
    let mut cfg = tower_cfg.clone();
    cfg.l2_normalize = false;
    let tower = encoder(&cfg, vb.pp("tower"))?;
    let head = Classifier::build(2 * cfg.embedding_dim, hidden, vb)?;
    Ok(HybridNet::new(tower, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::seeded_var_builder;
    use candle_core::Device;
    use candle_nn::VarMap;

    #[test]
    fn score_is_symmetric_in_the_pair() {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, 3, &Device::Cpu);
        let net = hybrid_net(&EncoderConfig::reference(16, 16, 8), 12, vb).unwrap();
        let a = Tensor::rand(0f32, 1.0, (4, 1, 16, 16), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1.0, (4, 1, 16, 16), &Device::Cpu).unwrap();
        let ab: Vec<f32> = net
            .forward_pair_t(&a, &b, false)
            .unwrap()
            .to_vec1()
            .unwrap();
        let ba: Vec<f32> = net
            .forward_pair_t(&b, &a, false)
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(ab.len(), 4);
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}
