//! RMSNorm as HF computes it: `x * rsqrt(mean(x²) + eps) * weight`, in f32.

use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};

/// Root-mean-square normalisation over the last dimension with a learned scale.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// Per-channel scale, HF name `weight`.
    pub weight: Param<Tensor<B, 1>>,
    /// Added to the mean square before the square root.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// A norm with unit scale.
    pub fn new(dim: usize, eps: f64, device: &B::Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([dim], device)),
            eps,
        }
    }

    /// Normalises the last dimension.
    ///
    /// # Shapes
    /// `[..., dim]` → `[..., dim]`
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let mean_square = x.clone().powi_scalar(2).mean_dim(D - 1);
        let inv_rms = mean_square.add_scalar(self.eps).sqrt().recip();
        let weight = self.weight.val().unsqueeze::<D>();
        x.mul(inv_rms).mul(weight)
    }
}
