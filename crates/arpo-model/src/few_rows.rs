//! Linear layers over a few rows (decoding), with streaming kernels on burn's CPU backend.
//!
//! Decoding multiplies 1–32 activation rows by every weight matrix of the model once per token.
//! The general matrix-product kernel that burn's CPU backend (flex) calls is built for large
//! products: at 16 rows it read 4–5 GB/s of weights against 13–15 GB/s at one row, so a
//! batch-16 decode step cost as much as ~5 single-row steps. The kernels here stream each
//! weight once per group of rows with the sums in registers:
//!
//! * weights stored `[out, in]` (as checkpoints store them; the loader keeps that layout and
//!   hands burn a transposed view): one dot product of two contiguous rows per output, so the
//!   weights are read in memory order;
//! * weights stored `[in, out]` (burn's own layout, e.g. a model initialised from scratch or
//!   updated by an optimiser): column tiles of each weight row.
//!
//! [`linear`] is generic over the backend, as all model code is: it recognises flex at run time
//! by downcasting the tensor primitive (no concrete backend in any signature) and otherwise, and
//! for autodiff tensors, computes one 2-D matrix product. Tests check the kernels against a
//! float64 reference.

use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

#[cfg(target_arch = "x86_64")]
mod dot_x86;
mod weight_rows;

/// Up to this many rows a streaming kernel runs; above it the general product is faster: it
/// packs its operands into cache-sized panels, which pays off once enough rows share them.
pub const MAX_ROWS: usize = 128;

/// Up to this many rows, weights kept in GGUF block form (`kept_blocks`) are read in that
/// form: each group of weight rows is turned into f32 once (in L1) for all the rows, and
/// memory supplies ~6× fewer bytes. With AVX-512, SmolLM2 Q4_1 decoded ~18% faster at batch 16
/// (255 against 215 tok/s) and ~40% at batch 8 in block form, and about the same at batch 32.
/// With AVX2 the block form used to win only up to 4 rows (8% slower at 16), until the f32
/// values were put on 64-byte boundaries (`weight_rows.rs`); then, on a 2-core AVX2 CPU in
/// alternating runs, batch 8 decoded ~30% faster (218 against 166 tok/s), batch 16 +1% to
/// +14% in four rounds, batch 32 no faster (so the f32 rows stay above 16).
pub const MAX_QUANTISED_ROWS: usize = 16;

/// Weights smaller than this many elements stay with the general product: they sit in cache,
/// so streaming them gains nothing, and dispatching a few microseconds of work to the thread
/// pool cost more than the product itself (a 128 × 128 layer at one row: 34 µs against
/// 2.7 µs; the quickstart's 128-wide model decoded 1.7× slower). SmolLM2's smallest layer has
/// 110,592.
pub const MIN_WEIGHTS: usize = 1 << 16;

/// `x · W (+ b)` for a burn [`Linear`] (`W` is `[in, out]`, whatever its layout in memory).
///
/// # Shapes
/// `[batch, seq, in]` → `[batch, seq, out]`
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    product(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `x · weight (+ bias)`, with a streaming kernel for up to [`MAX_ROWS`] rows and weights of
/// at least [`MIN_WEIGHTS`] elements on flex, the many-row product (`crate::many_rows`) above
/// that for weights held in the checkpoint layout, and one 2-D matrix product otherwise.
///
/// # Shapes
/// `x`: `[batch, seq, in]`, `weight`: `[in, out]`, `bias`: `[out]` → `[batch, seq, out]`
pub fn product<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let [b, s, d_in] = x.dims();
    #[cfg(feature = "flex")]
    {
        let weights = weight.dims()[0] * weight.dims()[1];
        if b * s <= MAX_ROWS && weights >= MIN_WEIGHTS {
            if let Some(y) = flex::product(&x, &weight, bias.as_ref()) {
                return y;
            }
        }
        if b * s > MAX_ROWS {
            if let Some(y) = crate::many_rows::product(&x, &weight, bias.as_ref()) {
                return y;
            }
        }
    }
    // One 2-D product rather than burn's `linear`: that reshapes the weight to 3-D first, which
    // copies a weight held as a transposed view; a 2-D product reads it in place.
    let d_out = weight.dims()[1];
    let y = x.reshape([b * s, d_in]).matmul(weight);
    let y = match bias {
        Some(bias) => y + bias.unsqueeze::<2>(),
        None => y,
    };
    y.reshape([b, s, d_out])
}

#[cfg(feature = "flex")]
mod flex {
    use burn::tensor::{backend::Backend, Tensor};

    use super::kernel;
    use crate::flex_cpu::{contiguous_data, flex_f32, from_data, transposed_data};
    use crate::kept_blocks::kept_rows;

    pub(super) fn product<B: Backend>(
        x: &Tensor<B, 3>,
        weight: &Tensor<B, 2>,
        bias: Option<&Tensor<B, 1>>,
    ) -> Option<Tensor<B, 3>> {
        let [b, s, k] = x.dims();
        let x = flex_f32(x)?;
        let w = flex_f32(weight)?;
        let n = weight.dims()[1];
        let bias = match bias {
            Some(bias) => Some(flex_f32(bias)?),
            None => None,
        };
        let x_data = contiguous_data(&x)?;
        let bias_data = match &bias {
            Some(t) => Some(contiguous_data(t)?),
            None => None,
        };
        let quantised = (b * s <= super::MAX_QUANTISED_ROWS)
            .then(|| kept_rows(&w))
            .flatten()
            .filter(|q| {
                // Only the whole matrix as loaded: `[k, n]`, the transpose of the kept `[n, k]`.
                w.layout().start_offset() == 0 && q.rows() == n && q.cols() == k
            });
        let out = if let Some(wt) = transposed_data(&w) {
            match &quantised {
                Some(q) => kernel::few_rows_quantised(x_data, b * s, k, q, bias_data),
                None => kernel::few_rows_transposed(x_data, b * s, k, wt, n, bias_data),
            }
        } else if b * s >= 2 {
            // A single row stays with the general product on this layout: its matrix-vector
            // path reads each weight row whole, which beat the column tiles (22.6 vs 19.7
            // tok/s decoding SmolLM2 at batch 1).
            kernel::few_rows(x_data, b * s, k, contiguous_data(&w)?, n, bias_data)
        } else {
            return None;
        };
        from_data(out, [b, s, n])
    }
}

/// The backend-free kernel: plain slices in, a new row-major buffer out.
pub mod kernel {
    use rayon::prelude::*;

    /// Computes output columns `[start, start + width)` of `x[m, k] · w[k, n]` into `tile`
    /// (`[m, width]`): `(x, m, k, w, n, start, width, tile)`.
    type TileFn = fn(&[f32], usize, usize, &[f32], usize, usize, usize, &mut [f32]);

    /// The tile function for the widest vector unit the CPU has, and its tile width.
    ///
    /// Each pass keeps `ROWS × TILE` sums in vector registers: AVX-512 has 32 registers of 16
    /// lanes (4 rows × 64 columns take 16), AVX2 16 of 8 lanes (6 rows × 16 columns take 12; 4 × 64
    /// spilled to memory and ran 20–25% slower at 16 rows).
    fn select() -> (TileFn, usize) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return (x86::tile_avx512, x86::AVX512_TILE);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return (x86::tile_avx2, x86::AVX2_TILE);
            }
        }
        (tile_generic::<false, 32, 2>, 32)
    }

    /// `out[m, n] = x[m, k] · w[k, n] (+ bias[n])`, all row-major, in `f32`.
    ///
    /// Columns are split into tiles that run in parallel; within a tile, each weight row is read
    /// once per group of rows, and the sums over `k` run in order with fused multiply-adds where
    /// the CPU has them.
    pub fn few_rows(
        x: &[f32],
        m: usize,
        k: usize,
        w: &[f32],
        n: usize,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        assert_eq!(x.len(), m * k, "x is not [m, k]");
        assert_eq!(w.len(), k * n, "w is not [k, n]");
        let (tile_fn, tile_width) = select();
        by_column_blocks(m, n, tile_width, bias, |start, width, tile| {
            tile_fn(x, m, k, w, n, start, width, tile)
        })
    }

    /// The `[m, n]` product assembled from column blocks of `block_width` that
    /// `compute(start, width, block)` fills (`block` is `[m, width]`), computed in parallel,
    /// with the bias added.
    fn by_column_blocks(
        m: usize,
        n: usize,
        block_width: usize,
        bias: Option<&[f32]>,
        compute: impl Fn(usize, usize, &mut [f32]) + Sync,
    ) -> Vec<f32> {
        let blocks: Vec<Vec<f32>> = (0..n.div_ceil(block_width))
            .into_par_iter()
            // One block per piece of work that a thread can take from another: rayon's
            // default hands out runs of ~n/4 blocks, and a thread that had finished its own
            // waited out the other's whole run (batch-16 decoding +4% in six alternating pairs
            // of runs; batch 1 the same).
            .with_max_len(1)
            .map(|t| {
                let start = t * block_width;
                let width = block_width.min(n - start);
                let mut block = vec![0.0f32; m * width];
                compute(start, width, &mut block);
                block
            })
            .collect();
        let mut out = vec![0.0f32; m * n];
        for (t, block) in blocks.iter().enumerate() {
            let start = t * block_width;
            let width = block.len() / m.max(1);
            for row in 0..m {
                let dst = &mut out[row * n + start..row * n + start + width];
                dst.copy_from_slice(&block[row * width..(row + 1) * width]);
                if let Some(bias) = bias {
                    for (d, b) in dst.iter_mut().zip(&bias[start..start + width]) {
                        *d += b;
                    }
                }
            }
        }
        out
    }

    /// The loop nest compiled for each x86 vector unit: safe entry points that [`select`] hands
    /// out only after checking that the CPU has the unit.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    mod x86 {
        use super::tile_generic;

        pub(super) const AVX512_TILE: usize = 64;
        pub(super) const AVX2_TILE: usize = 16;
        const AVX2_ROWS: usize = 6;

        pub(super) fn tile_avx512(
            x: &[f32],
            m: usize,
            k: usize,
            w: &[f32],
            n: usize,
            start: usize,
            width: usize,
            tile: &mut [f32],
        ) {
            // SAFETY: only reached through `select`, which checked for AVX-512F.
            unsafe { avx512(x, m, k, w, n, start, width, tile) }
        }

        pub(super) fn tile_avx2(
            x: &[f32],
            m: usize,
            k: usize,
            w: &[f32],
            n: usize,
            start: usize,
            width: usize,
            tile: &mut [f32],
        ) {
            // SAFETY: only reached through `select`, which checked for AVX2 and FMA.
            unsafe { avx2(x, m, k, w, n, start, width, tile) }
        }

        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(
            x: &[f32],
            m: usize,
            k: usize,
            w: &[f32],
            n: usize,
            start: usize,
            width: usize,
            tile: &mut [f32],
        ) {
            tile_generic::<true, AVX512_TILE, 4>(x, m, k, w, n, start, width, tile)
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(
            x: &[f32],
            m: usize,
            k: usize,
            w: &[f32],
            n: usize,
            start: usize,
            width: usize,
            tile: &mut [f32],
        ) {
            tile_generic::<true, AVX2_TILE, AVX2_ROWS>(x, m, k, w, n, start, width, tile)
        }
    }

    /// `out[m, n] = x[m, k] · wt[n, k]ᵀ (+ bias[n])`, all row-major, in `f32`: the weight
    /// stored as HF checkpoints store it, one contiguous row of `k` inputs per output.
    ///
    /// Each output is a dot product of two contiguous rows, so the weights stream from memory
    /// in order (the hardware prefetchers follow; no strided access, no page walk per row).
    /// Blocks of output columns run in parallel; within a block, groups of `J` weight rows ×
    /// `R` activation rows keep `J × R` vector sums in registers.
    pub fn few_rows_transposed(
        x: &[f32],
        m: usize,
        k: usize,
        wt: &[f32],
        n: usize,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        assert_eq!(x.len(), m * k, "x is not [m, k]");
        assert_eq!(wt.len(), n * k, "wt is not [n, k]");
        let dot_fn = select_dot();
        by_column_blocks(m, n, DOT_BLOCK, bias, |start, width, block| {
            dot_fn(x, m, k, &wt[start * k..], width, block)
        })
    }

    /// [`few_rows_transposed`] with the weight kept in GGUF block form: `quantised` is
    /// `[n, k]`, and each group of its rows is turned into f32 just before use. The result is
    /// bit-identical to [`few_rows_transposed`] on the dequantised weight.
    pub fn few_rows_quantised(
        x: &[f32],
        m: usize,
        k: usize,
        quantised: &crate::weights::QuantRows,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        assert_eq!(x.len(), m * k, "x is not [m, k]");
        assert_eq!(quantised.cols(), k, "the weight rows do not have k values");
        let n = quantised.rows();
        if let Some(dot_fn) = select_quantised() {
            return by_column_blocks(m, n, DOT_BLOCK, bias, |start, width, block| {
                dot_fn(x, m, k, quantised, start, width, block)
            });
        }
        by_column_blocks(m, n, DOT_BLOCK, bias, |start, width, block| {
            let mut wt = vec![0.0f32; width * k];
            quantised.dequantize_rows(start, width, &mut wt);
            dot_portable(x, m, k, &wt, width, block)
        })
    }

    /// Output columns per parallel task of [`few_rows_transposed`]: 32 weight rows, 74 kB at
    /// SmolLM2's width, still far more work per task than handing it out costs. With 64, the
    /// 192-wide key and value projections were 3 tasks and the 576-wide ones 9, so one of two
    /// threads had nothing to do for a third (a ninth) of each; at 32 every SmolLM2 layer is
    /// an even 6, 18 or 48 tasks, and batch-16 decoding ran 5–20% faster in alternating runs on
    /// an AVX-512 CPU (batch 1 and 4 about the same).
    const DOT_BLOCK: usize = 32;

    /// Computes `block[m, width] = x[m, k] · wt[..width, k]ᵀ`: `(x, m, k, wt, width, block)`.
    /// `wt` may run past the block's `width` rows (to the end of the weight): kernels may ask
    /// the cache for those rows ahead of the next block.
    type DotFn = fn(&[f32], usize, usize, &[f32], usize, &mut [f32]);

    /// The dot-product block function for the CPU: AVX-512 or AVX2 with FMA where present,
    /// else portable code.
    fn select_dot() -> DotFn {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return super::dot_x86::dot_avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return super::dot_x86::dot_avx2;
            }
        }
        dot_portable
    }

    /// [`DotFn`] on rows `start..start + width` of a quantised `[n, k]` matrix:
    /// `(x, m, k, quantised, start, width, block)`.
    type QuantisedDotFn =
        fn(&[f32], usize, usize, &crate::weights::QuantRows, usize, usize, &mut [f32]);

    /// The quantised counterpart of [`select_dot`]'s choice, so that both give the same sums;
    /// `None` where the portable code runs.
    fn select_quantised() -> Option<QuantisedDotFn> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Some(super::dot_x86::dot_quantised_avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Some(super::dot_x86::dot_quantised_avx2);
            }
        }
        None
    }

    /// The dot products one at a time, in order: the reference for machines without AVX2.
    fn dot_portable(x: &[f32], m: usize, k: usize, wt: &[f32], width: usize, block: &mut [f32]) {
        for row in 0..m {
            let x_row = &x[row * k..(row + 1) * k];
            for col in 0..width {
                let w_row = &wt[col * k..(col + 1) * k];
                block[row * width + col] = x_row.iter().zip(w_row).map(|(a, b)| a * b).sum();
            }
        }
    }

    /// How many weight rows ahead [`prefetch_row`] asks for. A tile reads one short piece of
    /// each weight row, one row apart: a stride that hardware prefetchers do not follow, so
    /// without this every row waited for memory (the kernel ran slower than the general product
    /// at one row).
    const PREFETCH_ROWS: usize = 32;

    /// Asks the cache for `w[offset..offset + width]` ahead of use (no-op past the end, and on
    /// other architectures).
    #[inline(always)]
    fn prefetch_row(w: &[f32], offset: usize, width: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let mut at = offset;
            while at < (offset + width).min(w.len()) {
                // SAFETY: `at` is in bounds of `w`; a prefetch has no architectural effect.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        w.as_ptr().add(at) as *const i8,
                    )
                };
                at += 16; // one 64-byte cache line
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, offset, width);
    }

    /// The loop nest, inlined into each target-feature function so that the compiler vectorises
    /// it for that unit. `FUSED` selects `mul_add` (one rounding; only where the hardware has
    /// it, a software fused multiply-add would be slow); row groups of up to `ROWS` rows
    /// (at most 6) share each pass over a `TILE`-column piece of the weights.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile_generic<const FUSED: bool, const TILE: usize, const ROWS: usize>(
        x: &[f32],
        m: usize,
        k: usize,
        w: &[f32],
        n: usize,
        start: usize,
        width: usize,
        tile: &mut [f32],
    ) {
        let mut row = 0;
        while row < m {
            let rows = ROWS.min(m - row);
            if width == TILE {
                match rows {
                    6 => row_group::<FUSED, TILE, 6>(x, row, k, w, n, start, tile),
                    5 => row_group::<FUSED, TILE, 5>(x, row, k, w, n, start, tile),
                    4 => row_group::<FUSED, TILE, 4>(x, row, k, w, n, start, tile),
                    3 => row_group::<FUSED, TILE, 3>(x, row, k, w, n, start, tile),
                    2 => row_group::<FUSED, TILE, 2>(x, row, k, w, n, start, tile),
                    _ => row_group::<FUSED, TILE, 1>(x, row, k, w, n, start, tile),
                }
            } else {
                // The last, narrower tile: same sums, without the fixed-size blocking.
                for r in row..row + rows {
                    let out = &mut tile[r * width..(r + 1) * width];
                    for kk in 0..k {
                        let xv = x[r * k + kk];
                        let w_row = &w[kk * n + start..kk * n + start + width];
                        for (a, &wv) in out.iter_mut().zip(w_row) {
                            *a = if FUSED {
                                xv.mul_add(wv, *a)
                            } else {
                                *a + xv * wv
                            };
                        }
                    }
                }
            }
            row += rows;
        }
    }

    /// `R` rows × one full tile: sizes known at compile time, so the `R × TILE` sums stay in
    /// vector registers for the whole pass over `k`.
    #[inline(always)]
    fn row_group<const FUSED: bool, const TILE: usize, const R: usize>(
        x: &[f32],
        row: usize,
        k: usize,
        w: &[f32],
        n: usize,
        start: usize,
        tile: &mut [f32],
    ) {
        let mut acc = [[0.0f32; TILE]; R];
        for kk in 0..k {
            prefetch_row(w, (kk + PREFETCH_ROWS) * n + start, TILE);
            let w_row: &[f32; TILE] = w[kk * n + start..kk * n + start + TILE]
                .try_into()
                .expect("a full tile");
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xv = x[(row + r) * k + kk];
                for (a, &wv) in acc_r.iter_mut().zip(w_row) {
                    *a = if FUSED {
                        xv.mul_add(wv, *a)
                    } else {
                        *a + xv * wv
                    };
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            tile[(row + r) * TILE..(row + r + 1) * TILE].copy_from_slice(acc_r);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
