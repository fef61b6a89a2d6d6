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

mod weight_rows;

/// Up to this many rows a streaming kernel runs; above it the general product is faster: it
/// packs its operands into cache-sized panels, which pays off once enough rows share them.
pub const MAX_ROWS: usize = 128;

/// Up to this many rows, weights kept in GGUF block form (`kept_blocks`) are read in that
/// form. Turning a block into f32 costs about as much as 16 rows' multiply-adds on it, so the
/// saving in memory traffic wins only for few rows: SmolLM2 Q4_1 decoded 30% faster at batch 1
/// (40–45 against 33 tok/s, same binary, alternating runs) and 8% slower at batch 16.
pub const MAX_QUANTISED_ROWS: usize = 4;

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
        use crate::few_rows::weight_rows::{F32Rows, QuantGroups, WeightRows};
        use crate::weights::QuantRows;

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

        pub(super) fn dot_avx2(
            x: &[f32],
            m: usize,
            k: usize,
            wt: &[f32],
            width: usize,
            block: &mut [f32],
        ) {
            let rows = F32Rows {
                wt,
                k,
                group_rows: DOT_COLS,
            };
            // SAFETY: only reached through `select_dot`, which checked for AVX2 and FMA.
            unsafe { dot_block_avx2(x, m, k, rows, width, block) }
        }

        /// [`dot_avx2`] on rows `start..start + width` of a quantised matrix, each group of
        /// rows turned into f32 (in L1) just before its passes.
        pub(super) fn dot_quantised_avx2(
            x: &[f32],
            m: usize,
            k: usize,
            quantised: &QuantRows,
            start: usize,
            width: usize,
            block: &mut [f32],
        ) {
            let rows = QuantGroups::new(quantised, start, DOT_COLS);
            // SAFETY: only reached after `is_x86_feature_detected!` for AVX2 and FMA.
            unsafe { dot_block_avx2(x, m, k, rows, width, block) }
        }

        /// Output columns per group: `DOT_COLS × DOT_ROWS` sums take 12 of the 16 vector
        /// registers, leaving room for the operands.
        const DOT_COLS: usize = 4;
        const DOT_ROWS: usize = 3;

        /// Where one register group works: `R` activation rows from `row` × `J` weight rows
        /// from `col` of a block `width` columns wide, and the weight lines to ask the cache for
        /// meanwhile (`ahead`).
        #[derive(Clone, Copy)]
        struct GroupAt<'a> {
            x: &'a [f32],
            row: usize,
            k: usize,
            /// The group's `J` weight rows, `J * k` values.
            w: &'a [f32],
            col: usize,
            width: usize,
            ahead: &'a [u8],
        }

        /// Groups of [`DOT_COLS`] output columns × up to [`DOT_ROWS`] rows; the last columns
        /// one at a time.
        ///
        /// A group's weight rows come from memory on its first row pass and from L1 on the
        /// others, so left alone the loads from memory came in bursts (one pass in six at 16
        /// rows) that the hardware prefetchers did not smooth. Each pass therefore also asks the
        /// cache for its share of the next group's rows, spread over its steps: the weights now
        /// stream at an even rate, and batch-16 decoding of SmolLM2 went from ~200 to ~250
        /// tokens/s (batch 4 +25%; batch 1, which already streamed evenly, about the same).
        #[target_feature(enable = "avx2,fma")]
        unsafe fn dot_block_avx2<'a, W: WeightRows<'a>>(
            x: &[f32],
            m: usize,
            k: usize,
            mut weights: W,
            width: usize,
            block: &mut [f32],
        ) {
            let passes = m.div_ceil(DOT_ROWS);
            let mut col = 0;
            while col < width {
                let cols = if width - col >= DOT_COLS { DOT_COLS } else { 1 };
                // The stored weights of the group after this one (past the block's end, the
                // next block's first rows), a share per pass.
                let next = weights.next_group_bytes(col + cols);
                let share = next.len().div_ceil(passes).next_multiple_of(64);
                let w = weights.group(col, cols);
                let mut row = 0;
                while row < m {
                    let rows = DOT_ROWS.min(m - row);
                    let pass = row / DOT_ROWS;
                    let ahead_start = (pass * share).min(next.len());
                    let ahead = &next[ahead_start..(ahead_start + share).min(next.len())];
                    let at = GroupAt {
                        x,
                        row,
                        k,
                        w,
                        col,
                        width,
                        ahead,
                    };
                    // SAFETY (all arms): the caller checked for AVX2 and FMA.
                    unsafe {
                        match (cols, rows) {
                            (DOT_COLS, 4) => dot_group::<DOT_COLS, 4>(at, block),
                            (DOT_COLS, 3) => dot_group::<DOT_COLS, 3>(at, block),
                            (DOT_COLS, 2) => dot_group::<DOT_COLS, 2>(at, block),
                            (DOT_COLS, _) => dot_group::<DOT_COLS, 1>(at, block),
                            (_, 4) => dot_group::<1, 4>(at, block),
                            (_, 3) => dot_group::<1, 3>(at, block),
                            (_, 2) => dot_group::<1, 2>(at, block),
                            (_, _) => dot_group::<1, 1>(at, block),
                        }
                    }
                    row += rows;
                }
                col += cols;
            }
        }

        /// `R` activation rows from `row` × `J` weight rows from `col`: 8-lane sums over `k`
        /// in registers, added across lanes at the end, the last `k % 8` inputs one by one;
        /// one cache line or more of `ahead` requested per step.
        /// Written with intrinsics: left to the auto-vectoriser, some of these sizes came out
        /// as 4-lane shuffles or with the sums spilled to the stack on every step.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn dot_group<const J: usize, const R: usize>(
            GroupAt {
                x,
                row,
                k,
                w,
                col,
                width,
                ahead,
            }: GroupAt<'_>,
            block: &mut [f32],
        ) {
            use std::arch::x86_64::*;
            let mut x_rows = [&x[..0]; R];
            for (r, x_row) in x_rows.iter_mut().enumerate() {
                *x_row = &x[(row + r) * k..(row + r + 1) * k];
            }
            let mut w_rows = [&w[..0]; J];
            for (j, w_row) in w_rows.iter_mut().enumerate() {
                *w_row = &w[j * k..(j + 1) * k];
            }
            let mut acc = [[_mm256_setzero_ps(); R]; J];
            let whole = k - k % 8;
            // Bytes of `ahead` (whole cache lines) to ask for per step, spread over the pass.
            let per_step = (ahead.len() / 64).div_ceil((whole / 8).max(1)) * 64;
            let mut ahead_at = 0;
            let mut at = 0;
            while at < whole {
                let mut line = 0;
                while line < per_step && ahead_at < ahead.len() {
                    // SAFETY: in bounds; a prefetch has no architectural effect.
                    unsafe {
                        _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().add(ahead_at) as *const i8)
                    };
                    ahead_at += 64;
                    line += 64;
                }
                let mut xs = [_mm256_setzero_ps(); R];
                for r in 0..R {
                    // SAFETY: `at + 8 <= whole <= k`, the length of every row slice.
                    xs[r] = unsafe { _mm256_loadu_ps(x_rows[r].as_ptr().add(at)) };
                }
                for j in 0..J {
                    // SAFETY: as above.
                    let wv = unsafe { _mm256_loadu_ps(w_rows[j].as_ptr().add(at)) };
                    for r in 0..R {
                        acc[j][r] = _mm256_fmadd_ps(xs[r], wv, acc[j][r]);
                    }
                }
                at += 8;
            }
            for j in 0..J {
                for r in 0..R {
                    let mut lanes = [0.0f32; 8];
                    // SAFETY: `lanes` holds 8 floats.
                    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[j][r]) };
                    let mut sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
                        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
                    for kk in whole..k {
                        sum += x_rows[r][kk] * w_rows[j][kk];
                    }
                    block[(row + r) * width + col + j] = sum;
                }
            }
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
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return by_column_blocks(m, n, DOT_BLOCK, bias, |start, width, block| {
                    x86::dot_quantised_avx2(x, m, k, quantised, start, width, block)
                });
            }
        }
        by_column_blocks(m, n, DOT_BLOCK, bias, |start, width, block| {
            let mut wt = vec![0.0f32; width * k];
            quantised.dequantize_rows(start, width, &mut wt);
            dot_portable(x, m, k, &wt, width, block)
        })
    }

    /// Output columns per parallel task of [`few_rows_transposed`]: 64 weight rows, 147 kB
    /// at SmolLM2's width, enough work per task and enough tasks (3 to 24) for two threads.
    const DOT_BLOCK: usize = 64;

    /// Computes `block[m, width] = x[m, k] · wt[..width, k]ᵀ`: `(x, m, k, wt, width, block)`.
    /// `wt` may run past the block's `width` rows (to the end of the weight): kernels may ask
    /// the cache for those rows ahead of the next block.
    type DotFn = fn(&[f32], usize, usize, &[f32], usize, &mut [f32]);

    /// The dot-product block function for the CPU: AVX2 with FMA where present (also on
    /// AVX-512 CPUs, where it is bound by memory all the same), else portable code.
    fn select_dot() -> DotFn {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return x86::dot_avx2;
            }
        }
        dot_portable
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
mod tests;
