//! RMSNorm as HF computes it: `x * rsqrt(mean(x²) + eps) * weight`, in f32.
//!
//! burn computes it in six operations, each a pass over the activations on one thread; on
//! burn's CPU backend one kernel here makes two passes over each row instead, rows in
//! parallel (other backends and autodiff tensors keep burn's operations). A test compares it
//! with a float64 reference.

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
        #[cfg(feature = "flex")]
        if let Some(y) = self.forward_flex(&x) {
            return y;
        }
        let mean_square = x.clone().powi_scalar(2).mean_dim(D - 1);
        let inv_rms = mean_square.add_scalar(self.eps).sqrt().recip();
        let weight = self.weight.val().unsqueeze::<D>();
        x.mul(inv_rms).mul(weight)
    }

    #[cfg(feature = "flex")]
    fn forward_flex<const D: usize>(&self, x: &Tensor<B, D>) -> Option<Tensor<B, D>> {
        use crate::flex_cpu::{contiguous_data, flex_f32};
        let weight = flex_f32(&self.weight.val())?;
        let weight = contiguous_data(&weight)?;
        let eps = self.eps as f32;
        crate::activation::flex::apply(x, |data, row| kernel::rms_norm_rows(data, row, weight, eps))
    }
}

/// The backend-free kernel: plain slices in, a new buffer out.
pub mod kernel {
    use rayon::prelude::*;

    /// Elements per parallel task (as for the activations): a decoding step's rows stay on the
    /// calling thread, a prefill's spread over the pool.
    const TASK: usize = 1 << 14;

    /// RMSNorm of each `row`-long row of `x`: `x · (1 / √(mean(x²) + eps)) · weight`.
    pub fn rms_norm_rows(x: &[f32], row: usize, weight: &[f32], eps: f32) -> Vec<f32> {
        assert_eq!(weight.len(), row, "one weight per element of a row");
        let mut out = vec![0.0f32; x.len()];
        if row == 0 {
            return out;
        }
        let rows_fn = select();
        let per_task = TASK.div_ceil(row) * row;
        if x.len() <= per_task {
            rows_fn(x, &mut out, weight, eps);
        } else {
            out.par_chunks_mut(per_task)
                .zip(x.par_chunks(per_task))
                .for_each(|(out, x)| rows_fn(x, out, weight, eps));
        }
        out
    }

    /// `(x, out, weight, eps)` over whole rows.
    type RowsFn = fn(&[f32], &mut [f32], &[f32], f32);

    fn select() -> RowsFn {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return x86::rows_avx2;
            }
        }
        rows_generic
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        pub(super) fn rows_avx2(x: &[f32], out: &mut [f32], weight: &[f32], eps: f32) {
            // SAFETY: only reached through `select`, which checked for AVX2 and FMA.
            unsafe { rows(x, out, weight, eps) }
        }

        /// The generic loops compiled for AVX2, so that the 8-lane sums become vectors.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn rows(x: &[f32], out: &mut [f32], weight: &[f32], eps: f32) {
            super::rows_generic(x, out, weight, eps)
        }
    }

    #[inline(always)]
    fn rows_generic(x: &[f32], out: &mut [f32], weight: &[f32], eps: f32) {
        let row = weight.len();
        for (x, out) in x.chunks_exact(row).zip(out.chunks_exact_mut(row)) {
            // Eight partial sums, one per vector lane, added pairwise at the end.
            let mut lanes = [0.0f32; 8];
            let mut whole = x.chunks_exact(8);
            for piece in &mut whole {
                for l in 0..8 {
                    lanes[l] += piece[l] * piece[l];
                }
            }
            let tail: f32 = whole.remainder().iter().map(|v| v * v).sum();
            let sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
                + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
                + tail;
            let inverse = 1.0 / (sum / row as f32 + eps).sqrt();
            for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
                *o = v * inverse * w;
            }
        }
    }

    #[cfg(test)]
    mod tests {
        /// Against RMSNorm in float64, for rows shorter than a vector, with a tail, and
        /// enough rows to split over the pool.
        #[test]
        fn matches_a_float64_reference() {
            for (rows, row) in [(3, 5), (7, 70), (300, 576)] {
                let x: Vec<f32> = (0..rows * row)
                    .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
                    .collect();
                let weight: Vec<f32> = (0..row).map(|i| 0.5 + (i % 7) as f32 / 10.0).collect();
                let eps = 1e-5;
                let got = super::rms_norm_rows(&x, row, &weight, eps);
                for (r, chunk) in x.chunks(row).enumerate() {
                    let mean: f64 =
                        chunk.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / row as f64;
                    let inverse = 1.0 / (mean + eps as f64).sqrt();
                    for (i, &v) in chunk.iter().enumerate() {
                        let want = v as f64 * inverse * weight[i] as f64;
                        let have = got[r * row + i] as f64;
                        assert!(
                            (have - want).abs() <= 1e-6 * (1.0 + want.abs()),
                            "{rows}x{row} [{r}, {i}]: {have} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
