//! Rotary position embedding (RoPE) in the non-interleaved ("rotate half") layout of HF Llama,
//! with `rope_theta` and the Llama-3 frequency scaling.
//!
//! Tables are computed the way HF computes them, in f32 (`inv_freq` in f32, angle = position ×
//! inv_freq as one f32 product), so that long positions agree with transformers to f32 rounding.

use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::config::{ModelConfig, RopeScaling};

/// Precomputed cos/sin tables, one row per position.
#[derive(Module, Debug)]
pub struct Rotary<B: Backend> {
    /// `[max_positions, head_dim]`: cos of each angle, the half-width table written twice.
    cos: Tensor<B, 2>,
    /// `[max_positions, head_dim]`: sin, same layout.
    sin: Tensor<B, 2>,
    /// Number of rows in the tables.
    pub max_positions: usize,
}

/// Inverse frequencies `1 / theta^(2i/d)` in f32, with Llama-3 scaling when configured.
pub fn inverse_frequencies(head_dim: usize, theta: f64, scaling: Option<&RopeScaling>) -> Vec<f32> {
    let base = theta as f32;
    let mut inv: Vec<f32> = (0..head_dim / 2)
        .map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32))
        .collect();
    if let Some(s) = scaling.filter(|s| s.rope_type == "llama3") {
        let old_ctx = s.original_max_position_embeddings as f32;
        let (factor, low, high) = (
            s.factor as f32,
            s.low_freq_factor as f32,
            s.high_freq_factor as f32,
        );
        let low_freq_wavelen = old_ctx / low;
        let high_freq_wavelen = old_ctx / high;
        for f in inv.iter_mut() {
            let wavelen = 2.0 * std::f32::consts::PI / *f;
            let scaled = if wavelen > low_freq_wavelen {
                *f / factor
            } else {
                *f
            };
            // HF: neither shorter than the high-frequency wavelength nor longer than the low one.
            let medium = wavelen >= high_freq_wavelen && wavelen <= low_freq_wavelen;
            *f = if medium {
                let smooth = (old_ctx / wavelen - low) / (high - low);
                (1.0 - smooth) * scaled / factor + smooth * scaled
            } else {
                scaled
            };
        }
    }
    inv
}

impl<B: Backend> Rotary<B> {
    /// Tables for positions `0..max_positions`.
    pub fn new(config: &ModelConfig, max_positions: usize, device: &B::Device) -> Self {
        let head_dim = config.head_dim();
        let inv = inverse_frequencies(head_dim, config.rope_theta, config.rope_scaling.as_ref());
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_positions * head_dim);
        let mut sin = Vec::with_capacity(max_positions * head_dim);
        for pos in 0..max_positions {
            let row: Vec<f32> = inv.iter().map(|f| pos as f32 * f).collect();
            for _ in 0..2 {
                cos.extend(row.iter().map(|a| (*a as f64).cos() as f32));
                sin.extend(row.iter().map(|a| (*a as f64).sin() as f32));
            }
        }
        debug_assert_eq!(cos.len(), max_positions * 2 * half);
        let shape = [max_positions, head_dim];
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
            max_positions,
        }
    }

    /// Cos/sin rows for the given positions, shaped to broadcast over heads.
    ///
    /// # Shapes
    /// `positions: [batch, seq]` → two `[batch, 1, seq, head_dim]` tensors
    pub fn tables(&self, positions: Tensor<B, 2, Int>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [batch, seq] = positions.dims();
        let flat = positions.reshape([batch * seq]);
        let head_dim = self.cos.dims()[1];
        let cos = self
            .cos
            .clone()
            .select(0, flat.clone())
            .reshape([batch, 1, seq, head_dim]);
        let sin = self
            .sin
            .clone()
            .select(0, flat)
            .reshape([batch, 1, seq, head_dim]);
        (cos, sin)
    }
}

/// Applies the rotation: `x·cos + rotate_half(x)·sin`, `rotate_half(x) = [-x₂, x₁]`.
///
/// # Shapes
/// `x: [batch, heads, seq, head_dim]`, `cos`/`sin`: `[batch, 1, seq, head_dim]`
pub fn apply_rotary<B: Backend>(
    x: Tensor<B, 4>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
) -> Tensor<B, 4> {
    let [b, h, s, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..s, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..s, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x.mul(cos.clone()).add(rotated.mul(sin.clone()))
}
