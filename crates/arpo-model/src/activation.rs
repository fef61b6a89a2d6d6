//! Softmax over the last axis and SiLU, with vectorised kernels on burn's CPU backend.
//!
//! burn's CPU backend computes `exp` element by element through libm: after the matrix
//! products, softmax (13%) and SiLU (8%) were the largest costs of a 512-token SmolLM2 prefill.
//! Here `exp` is a branch-free range reduction and polynomial (Cephes' `expf`) that compiles to
//! 8-lane AVX2 code, and softmax makes two passes over each row instead of burn's five
//! separate operations. Other backends and autodiff tensors take burn's own functions; tests
//! compare both kernels and `exp` with float64 references.

use burn::tensor::{activation, backend::Backend, Tensor};

/// Softmax over the last axis.
pub fn softmax<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    if let Some(y) = flex::apply(&t, kernel::softmax_rows) {
        return y;
    }
    activation::softmax(t, D - 1)
}

/// SiLU, `x · σ(x)`.
pub fn silu<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    if let Some(y) = flex::apply(&t, |x, _| kernel::silu(x)) {
        return y;
    }
    activation::silu(t)
}

#[cfg(feature = "flex")]
pub(crate) mod flex {
    use burn::tensor::{backend::Backend, Tensor};

    use crate::flex_cpu::{contiguous_data, flex_f32, from_data};

    /// `f(data, last_axis_len)` on the contents of a contiguous flex tensor, `None` otherwise.
    pub(crate) fn apply<B: Backend, const D: usize>(
        t: &Tensor<B, D>,
        f: impl Fn(&[f32], usize) -> Vec<f32>,
    ) -> Option<Tensor<B, D>> {
        let flex = flex_f32(t)?;
        let dims = t.dims();
        from_data(f(contiguous_data(&flex)?, dims[D - 1]), dims)
    }
}

/// The backend-free kernels: plain slices in, new buffers out.
pub mod kernel {
    use rayon::prelude::*;

    /// Elements per parallel task: large enough that scheduling costs nothing next to it.
    const TASK: usize = 1 << 14;

    /// Softmax of each `row`-long row of `x` (row-major).
    pub fn softmax_rows(x: &[f32], row: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        if row == 0 {
            return out;
        }
        let per_task = TASK.div_ceil(row) * row;
        let rows_fn = select(softmax_rows_portable, x86::softmax_rows_avx2);
        if x.len() <= per_task {
            // One task's worth (every decoding step's attention): on this thread, since
            // handing it to the pool costs more than the work.
            rows_fn(x, &mut out, row);
            return out;
        }
        out.par_chunks_mut(per_task)
            .zip(x.par_chunks(per_task))
            .for_each(|(out, x)| rows_fn(x, out, row));
        out
    }

    /// SiLU of every element of `x`.
    pub fn silu(x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        let silu_fn = select(silu_portable, x86::silu_avx2);
        if x.len() <= TASK {
            silu_fn(x, &mut out, 0);
            return out;
        }
        out.par_chunks_mut(TASK)
            .zip(x.par_chunks(TASK))
            .for_each(|(out, x)| silu_fn(x, out, 0));
        out
    }

    /// [`silu`] into `out` on the calling thread, for callers that already run in parallel
    /// (the same values as [`silu`]).
    pub fn silu_into(x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), out.len(), "silu_into: lengths differ");
        select(silu_portable, x86::silu_avx2)(x, out, 0)
    }

    /// `(x, out, row)`: one task's rows (softmax) or elements (SiLU).
    type ChunkFn = fn(&[f32], &mut [f32], usize);

    /// The AVX2 build of a kernel where the CPU has AVX2 and FMA, the portable one otherwise.
    #[allow(unused_variables)]
    fn select(portable: ChunkFn, avx2: ChunkFn) -> ChunkFn {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return avx2;
            }
        }
        portable
    }

    fn softmax_rows_portable(x: &[f32], out: &mut [f32], row: usize) {
        softmax_rows_generic(x, out, row)
    }

    fn silu_portable(x: &[f32], out: &mut [f32], _: usize) {
        silu_generic(x, out)
    }

    /// Entry points compiled for AVX2 + FMA, handed out by [`select`] only after checking
    /// that the CPU has them.
    #[cfg(target_arch = "x86_64")]
    mod x86 {
        pub(super) fn softmax_rows_avx2(x: &[f32], out: &mut [f32], row: usize) {
            // SAFETY: only reached through `select`, which checked for AVX2 and FMA.
            unsafe { softmax_rows(x, out, row) }
        }

        pub(super) fn silu_avx2(x: &[f32], out: &mut [f32], _: usize) {
            // SAFETY: as above.
            unsafe { silu(x, out) }
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn softmax_rows(x: &[f32], out: &mut [f32], row: usize) {
            super::softmax_rows_generic(x, out, row)
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn silu(x: &[f32], out: &mut [f32]) {
            super::silu_generic(x, out)
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    mod x86 {
        pub(super) use super::{
            silu_portable as silu_avx2, softmax_rows_portable as softmax_rows_avx2,
        };
    }

    /// Lanes of the partial maxima and sums: one AVX2 vector.
    const LANES: usize = 8;

    /// Per row: the maximum, then `exp(x − max)` and its sum in one pass, then the scaling.
    /// Maxima and sums run in [`LANES`] independent lanes so that they vectorise.
    #[inline(always)]
    fn softmax_rows_generic(x: &[f32], out: &mut [f32], row: usize) {
        for (x, out) in x.chunks_exact(row).zip(out.chunks_exact_mut(row)) {
            let mut maxima = [f32::NEG_INFINITY; LANES];
            let whole = x.chunks_exact(LANES);
            let tail = whole.remainder();
            for piece in whole {
                for (m, &v) in maxima.iter_mut().zip(piece) {
                    *m = if v > *m { v } else { *m };
                }
            }
            let max = tail
                .iter()
                .chain(&maxima)
                .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let mut sums = [0.0f32; LANES];
            let mut out_whole = out.chunks_exact_mut(LANES);
            for (o, piece) in (&mut out_whole).zip(x.chunks_exact(LANES)) {
                for l in 0..LANES {
                    o[l] = exp(piece[l] - max);
                    sums[l] += o[l];
                }
            }
            let mut sum: f32 = sums.iter().sum();
            for (o, &v) in out_whole.into_remainder().iter_mut().zip(tail) {
                *o = exp(v - max);
                sum += *o;
            }
            let inverse = 1.0 / sum;
            for o in out.iter_mut() {
                *o *= inverse;
            }
        }
    }

    #[inline(always)]
    fn silu_generic(x: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v / (1.0 + exp(-v));
        }
    }

    /// `eˣ` in `f32` without branches or library calls (Cephes `expf`): `x = n·ln 2 + r`
    /// with `|r| ≤ ln 2 / 2`, a degree-7 polynomial for `eʳ`, `2ⁿ` built in the exponent
    /// bits. Within 2 ulp of the exact value for normal results; the input is clamped to
    /// [-87, 88], so it never overflows and returns ~1e-38 instead of denormals or 0.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let x = x.clamp(-87.0, 88.0);
        let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
        let r = x - n * LN2_HI - n * LN2_LO;
        let p = ((((1.987_569_2e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
            + 1.666_666_5e-1)
            * r
            + 5.000_000_1e-1;
        let e_r = p * r * r + r + 1.0;
        e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
}

#[cfg(test)]
mod tests {
    use super::kernel::{exp, silu, softmax_rows};

    /// Against f64 `exp` over the clamped range, including the points where `n` changes.
    #[test]
    fn exp_is_within_two_ulp_of_float64() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            let ulp = (want as f32).abs() as f64 * f32::EPSILON as f64;
            assert!(
                (got - want).abs() <= 2.0 * ulp,
                "exp({x}) = {got}, want {want}"
            );
            x += 0.001_7;
        }
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-1e30) > 0.0 && exp(-1e30) < 1e-37);
    }

    /// Softmax rows (lengths around the lane count, masked entries, a fully masked row)
    /// and SiLU against f64 formulas.
    #[test]
    fn softmax_and_silu_match_float64() {
        for row in [1usize, 7, 8, 9, 33, 512] {
            let x: Vec<f32> = (0..3 * row)
                .map(|i| {
                    if i % 5 == 3 {
                        -1e30
                    } else {
                        ((i * 37 % 101) as f32 - 50.0) * 0.21
                    }
                })
                .chain(std::iter::repeat_n(-1e30, row))
                .collect();
            let got = softmax_rows(&x, row);
            for (r, (xr, gr)) in x.chunks(row).zip(got.chunks(row)).enumerate() {
                let max = xr.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
                let sum: f64 = xr.iter().map(|&v| (v as f64 - max).exp()).sum();
                for (&v, &g) in xr.iter().zip(gr) {
                    let want = (v as f64 - max).exp() / sum;
                    // f32 rounds `x − max` itself (relative 2⁻²⁴), which `exp` turns into a
                    // relative error of that size times |x − max|: part of any f32 softmax.
                    let tolerance = want * 2e-7 * (2.0 + (v as f64 - max).abs()) + 1e-30;
                    assert!(
                        (g as f64 - want).abs() <= tolerance,
                        "row {r} of {row}: {g} vs {want}"
                    );
                }
            }
        }
        let x: Vec<f32> = (0..1000)
            .map(|i| (i as f32 - 500.0) * 0.05)
            .chain([-200.0, 200.0])
            .collect();
        for (&v, g) in x.iter().zip(silu(&x)) {
            let want = v as f64 / (1.0 + (-(v as f64)).exp());
            assert!(
                (g as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "silu({v}) = {g}, want {want}"
            );
        }
    }
}
