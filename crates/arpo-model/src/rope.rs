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

    /// Tables for activations laid out `[batch, seq, heads * head_dim]` (straight out of a
    /// projection), one table per head count, plus the rotation matrix.
    ///
    /// Every product the rotation then needs is between tensors of one shape (and one small
    /// matrix product), which CPU backends run at memory speed; the `[batch, heads, seq,
    /// head_dim]` layout with tables broadcast over heads went through strided iteration
    /// (11% of a SmolLM2 prefill).
    ///
    /// # Shapes
    /// `positions: [batch, seq]`
    pub fn head_tables(
        &self,
        positions: Tensor<B, 2, Int>,
        head_counts: [usize; 2],
    ) -> [HeadTables<B>; 2] {
        let [batch, seq] = positions.dims();
        let flat = positions.reshape([batch * seq]);
        let head_dim = self.cos.dims()[1];
        let cos = self.cos.clone().select(0, flat.clone());
        let sin = self.sin.clone().select(0, flat);
        let device = cos.device();
        let rotate = rotate_half_matrix::<B>(head_dim, &device);
        head_counts.map(|heads| {
            let widen = |t: &Tensor<B, 2>| {
                t.clone()
                    .reshape([batch * seq, 1, head_dim])
                    .repeat_dim(1, heads)
                    .reshape([batch, seq, heads * head_dim])
            };
            HeadTables {
                cos: widen(&cos),
                sin: widen(&sin),
                rotate: rotate.clone(),
                head_dim,
            }
        })
    }
}

/// RoPE tables for one head count (see [`Rotary::head_tables`]).
#[derive(Debug, Clone)]
pub struct HeadTables<B: Backend> {
    /// `[batch, seq, heads * head_dim]`
    pub cos: Tensor<B, 3>,
    /// `[batch, seq, heads * head_dim]`
    pub sin: Tensor<B, 3>,
    /// `[head_dim, head_dim]`: `v · rotate = rotate_half(v)` for one head's row `v`.
    pub rotate: Tensor<B, 2>,
    /// Per-head width.
    pub head_dim: usize,
}

impl<B: Backend> HeadTables<B> {
    /// Applies the rotation: `x·cos + rotate_half(x)·sin`, `rotate_half(v) = [-v₂, v₁]` per
    /// head. `rotate_half` is a product with a signed permutation matrix: each output is one
    /// input times ±1 plus exact zeros, so it is exact.
    ///
    /// # Shapes
    /// `x: [batch, seq, heads * head_dim]` → same
    pub fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, s, w] = x.dims();
        let rotated = x
            .clone()
            .reshape([b * s * w / self.head_dim, self.head_dim])
            .matmul(self.rotate.clone())
            .reshape([b, s, w]);
        x.mul(self.cos.clone()).add(rotated.mul(self.sin.clone()))
    }
}

/// The signed permutation `R` with `v · R = [-v₂, v₁]` for a row `v = [v₁, v₂]` of width
/// `head_dim`.
pub fn rotate_half_matrix<B: Backend>(head_dim: usize, device: &B::Device) -> Tensor<B, 2> {
    let half = head_dim / 2;
    let mut data = vec![0.0f32; head_dim * head_dim];
    for i in 0..half {
        // output column i takes -v[i + half]; output column i + half takes v[i]
        data[(i + half) * head_dim + i] = -1.0;
        data[i * head_dim + i + half] = 1.0;
    }
    Tensor::from_data(TensorData::new(data, [head_dim, head_dim]), device)
}
