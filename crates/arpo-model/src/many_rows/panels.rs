//! The weights of a many-row product laid out in the register panels of the matrix-product
//! crate's kernel by 8 × 8 transposes, and the register tiles run over them: this crate's
//! kernel for whole tiles where it has one (`tile_x86.rs`), `gemm-f32`'s for the rest.
//!
//! `gemm` turns `out = x · wtᵀ` around (`outᵀ = wt · xᵀ`), so the weights are its left operand,
//! which it copies into panels of `MR` rows (one register block of output columns) laid out
//! depth by depth, gathering the `MR` values of each depth from the row-major `[n, k]`
//! checkpoint layout one at a time. Here each 8 × 8 tile is loaded as eight vectors and
//! transposed in registers, with the next rows prefetched; the weights still come from memory
//! once per product, so the copy went only from ~3.2% to ~2.8% of a SmolLM2 prefill on a
//! 2-core AVX2 CPU, but the whole-tile kernel made the products ~3% faster (best of 30, one
//! thread, 512 × 1536 × 576: 84.6 against 82.0 GFLOP/s, of ~94 that a multiply-add loop on
//! registers reaches there). `gemm-common`'s cache blocking and the tiles' arithmetic are
//! `gemm`'s, so every sum is the one `gemm` computes, in the same order (the tests check the
//! bits).

use std::cell::RefCell;
use std::sync::OnceLock;

use gemm_common::microkernel::MicroKernelFn;

/// Tokens (the right operand's columns in `gemm`'s view) one microkernel call covers: `NR`
/// of both the AVX2 and the AVX-512 kernel tables.
const TOKENS: usize = 6;

/// The microkernels of one instruction set: `table[r][t]` covers `(r + 1) · lanes` panel rows
/// and `t + 1` tokens.
pub(super) struct Kernels {
    lanes: usize,
    table: &'static [[MicroKernelFn<f32>; TOKENS]],
    /// This crate's kernel for whole panels by [`TOKENS`] tokens, where it has one
    /// (`tile_x86.rs`); `table` covers the tiles at the edges.
    whole_tile: Option<WholeTile>,
}

/// A kernel for one whole panel by [`TOKENS`] tokens: `(depth, panel, x, x_stride, dst,
/// dst_stride, accumulate)`, as [`super::tile_x86::tile_16x6`].
type WholeTile = unsafe fn(usize, *const f32, *const f32, usize, *mut f32, usize, bool);

impl Kernels {
    /// The kernels `gemm` itself would pick on this CPU, or `None` where it would use its
    /// portable ones (no AVX2 and FMA): there [`super::strided_product`] is left to `gemm`.
    pub(super) fn detect() -> Option<&'static Kernels> {
        static DETECTED: OnceLock<Option<Kernels>> = OnceLock::new();
        DETECTED
            .get_or_init(|| {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        return Some(Kernels {
                            lanes: 16,
                            table: &gemm_f32::microkernel::avx512f::f32::UKR,
                            whole_tile: None,
                        });
                    }
                    if std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                    {
                        return Some(Kernels {
                            lanes: 8,
                            table: &gemm_f32::microkernel::fma::f32::UKR,
                            whole_tile: Some(|depth, panel, x, stride, dst, dst_stride, add| {
                                // SAFETY: `block_product`'s call, on a CPU found to have AVX2
                                // and FMA.
                                unsafe {
                                    super::tile_x86::tile_16x6(
                                        depth, panel, x, stride, dst, dst_stride, add,
                                    )
                                }
                            }),
                        });
                    }
                }
                None
            })
            .as_ref()
    }

    /// Rows of one panel (`MR`): the widest kernel's rows.
    fn panel_rows(&self) -> usize {
        self.lanes * self.table.len()
    }

    /// `out[t, r] (+)= Σ_d panel[d, r] · x[t, d]` for `r < rows`, `t < tokens`, `d < depth`:
    /// one register tile, by this crate's kernel where the tile is whole and it has one, else
    /// by `gemm`'s for its size; `x` and `out` come with their row strides, and the sums are
    /// added to `out` when `accumulate`.
    ///
    /// # Safety
    /// `panel` holds `depth` steps of [`Self::panel_rows`] values; `x` `tokens` rows of
    /// `depth` values; `out` `tokens` rows of `rows` writable values that no one else touches
    /// meanwhile; `rows ≤ panel_rows`, `tokens ≤ TOKENS`; the CPU has the kernels'
    /// instructions.
    unsafe fn tile(
        &self,
        [rows, tokens, depth]: [usize; 3],
        panel: *const f32,
        (x, x_stride): (*const f32, usize),
        (out, out_stride): (*mut f32, usize),
        accumulate: bool,
    ) {
        if let Some(whole_tile) = self.whole_tile {
            if rows == self.panel_rows() && tokens == TOKENS {
                // SAFETY: the caller's contract, for a whole tile.
                unsafe { whole_tile(depth, panel, x, x_stride, out, out_stride, accumulate) };
                return;
            }
        }
        let kernel = self.table[rows.div_ceil(self.lanes) - 1][tokens - 1];
        // SAFETY: the caller's contract; in `gemm`'s terms the destination's rows are output
        // columns (unit stride) and its columns tokens, `alpha_status` 1 adds the sums and 0
        // writes them (the scale factors are 1).
        unsafe {
            kernel(
                rows,
                tokens,
                depth,
                out,
                panel,
                x,
                out_stride as isize,
                1,
                self.panel_rows() as isize,
                1,
                x_stride as isize,
                1.0,
                1.0,
                u8::from(accumulate),
                false,
                false,
                false,
                std::ptr::null(),
            )
        };
    }
}

thread_local! {
    /// Each thread's panels, kept between products so that a prefill allocates them once.
    static PANELS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `dst[i, j] (+)= Σ_d x[i, d] · wt[j, d]` for `i < m`, `j < width`, as
/// [`super::block_product`] (same contract), with the weights packed here.
///
/// # Safety
/// `x` is `[m, k]` and `wt` at least `[width, k]`, row-major; `dst` points at `m` rows of
/// `width` writable values, `dst_stride` apart, that no one else touches meanwhile; the CPU
/// has the instructions of `kernels` (as [`Kernels::detect`] found).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn block_product(
    kernels: &Kernels,
    x: &[f32],
    m: usize,
    k: usize,
    wt: &[f32],
    width: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
) {
    debug_assert!(k > 0 && x.len() >= m * k && wt.len() >= width * k);
    let panel_rows = kernels.panel_rows();
    // `gemm`'s blocking for this product in its view (`width` rows, `m` columns): the depth
    // chunk decides how the sums are split, so it must be `gemm`'s for equal results.
    let params = gemm_common::cache::kernel_params(width, m, k, panel_rows, TOKENS, 4);
    let (depth_chunk, row_chunk) = (params.kc, params.mc.max(panel_rows));
    let token_chunk = if params.nc > 0 { params.nc } else { m };
    PANELS.with_borrow_mut(|buffer| {
        // The panels start on a 64-byte boundary, so that no vector load of the kernels spans
        // two cache lines: at the allocator's 16-byte alignment every other 8-lane load did
        // (no difference measured on an AVX2 CPU) and every 16-lane one.
        let len = row_chunk.next_multiple_of(panel_rows) * depth_chunk;
        buffer.resize(len + 15, 0.0);
        let aligned = buffer.as_ptr().align_offset(64).min(15);
        let panels = &mut buffer[aligned..aligned + len];
        for token_start in (0..m).step_by(token_chunk) {
            let tokens = token_chunk.min(m - token_start);
            for depth_start in (0..k).step_by(depth_chunk) {
                let depth = depth_chunk.min(k - depth_start);
                // Later depth chunks add to the sums of the earlier ones.
                let add = accumulate || depth_start > 0;
                for row_start in (0..width).step_by(row_chunk) {
                    let rows = row_chunk.min(width - row_start);
                    // SAFETY: rows `row_start..row_start + rows` of `wt` exist (`width` rows
                    // of `k`), and `panels` holds `rows` rounded up to whole panels.
                    unsafe {
                        pack_panels(
                            wt[(row_start * k + depth_start)..].as_ptr(),
                            k,
                            rows,
                            depth,
                            panel_rows,
                            panels.as_mut_ptr(),
                        )
                    };
                    // SAFETY: `panels` holds the chunk just packed; the tokens' rows of `x`
                    // hold `depth` values from `depth_start`; the chunk's columns of `dst`
                    // lie inside the caller's `m × width` block.
                    unsafe {
                        chunk_tiles(
                            kernels,
                            panels,
                            [rows, depth],
                            x[depth_start..].as_ptr(),
                            k,
                            token_start..token_start + tokens,
                            (dst.add(row_start), dst_stride),
                            add,
                        )
                    };
                }
            }
        }
    });
}

/// The register tiles over one packed chunk: every group of [`TOKENS`] tokens of `tokens`
/// (rows of `x`, `k` apart, read from the chunk's first depth step) × every panel of `rows`
/// output columns, into `out` (the chunk's first column, rows `out_stride` apart).
///
/// # Safety
/// `panels` holds `rows` rounded up to whole panels, `depth` steps each; each token's row of
/// `x` holds `depth` values; `out` has the tokens' rows of `rows` writable values that no one
/// else touches meanwhile; the CPU has the kernels' instructions.
#[allow(clippy::too_many_arguments)]
unsafe fn chunk_tiles(
    kernels: &Kernels,
    panels: &[f32],
    [rows, depth]: [usize; 2],
    x: *const f32,
    k: usize,
    tokens: std::ops::Range<usize>,
    (out, out_stride): (*mut f32, usize),
    add: bool,
) {
    let panel_rows = kernels.panel_rows();
    for token in tokens.clone().step_by(TOKENS) {
        let token_count = TOKENS.min(tokens.end - token);
        for row in (0..rows).step_by(panel_rows) {
            let row_count = panel_rows.min(rows - row);
            // SAFETY: the caller's contract: the panel, the tokens' rows and the tile's place
            // in `out` lie inside the buffers.
            unsafe {
                kernels.tile(
                    [row_count, token_count, depth],
                    panels.as_ptr().add(row / panel_rows * depth * panel_rows),
                    (x.add(token * k), k),
                    (out.add(token * out_stride + row), out_stride),
                    add,
                )
            };
        }
    }
}

/// Copies `rows × depth` values of `src` (rows `src_stride` apart) into panels of
/// `panel_rows` rows: value `(r, d)` goes to `dst[(r / panel_rows) · depth · panel_rows +
/// d · panel_rows + r % panel_rows]`; rows past `rows` in the last panel are zeros (the
/// kernels load whole vectors and drop those rows' sums).
///
/// # Safety
/// `src` holds `rows` rows of `depth` values at that stride; `dst` has room for `rows`
/// rounded up to a multiple of `panel_rows` (a multiple of 8), times `depth`; the CPU has AVX.
unsafe fn pack_panels(
    src: *const f32,
    src_stride: usize,
    rows: usize,
    depth: usize,
    panel_rows: usize,
    dst: *mut f32,
) {
    let at = |row: usize, step: usize| {
        (row / panel_rows) * depth * panel_rows + step * panel_rows + row % panel_rows
    };
    let whole_tiles = rows / 8 * 8;
    for row in (0..whole_tiles).step_by(8) {
        // SAFETY: eight rows from `row` exist; `at(row, 0)` starts eight consecutive values
        // of each step (`panel_rows` is a multiple of 8).
        unsafe {
            #[cfg(target_arch = "x86_64")]
            let done = transpose_tiles(
                src.add(row * src_stride),
                src_stride,
                depth,
                panel_rows,
                dst.add(at(row, 0)),
            );
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for step in done..depth {
                for r in 0..8 {
                    *dst.add(at(row + r, step)) = *src.add((row + r) * src_stride + step);
                }
            }
        }
    }
    for row in whole_tiles..rows.next_multiple_of(panel_rows) {
        for step in 0..depth {
            // SAFETY: rows below `rows` exist; every index is inside the padded panels.
            unsafe {
                *dst.add(at(row, step)) = if row < rows {
                    *src.add(row * src_stride + step)
                } else {
                    0.0
                }
            };
        }
    }
}

/// Transposes the 8 × 8 tiles of eight rows (`src_stride` apart) into `dst`, one 8-value
/// group every `dst_step` values per depth step; returns the depth steps done (a multiple
/// of 8).
///
/// # Safety
/// `src` holds eight rows of `depth` values; `dst` has room for `depth` groups; the CPU has
/// AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_tiles(
    src: *const f32,
    src_stride: usize,
    depth: usize,
    dst_step: usize,
    dst: *mut f32,
) -> usize {
    use std::arch::x86_64::*;
    let whole = depth / 8 * 8;
    for step in (0..whole).step_by(8) {
        // SAFETY: the caller's contract; prefetches never fault, wherever they point.
        unsafe {
            if step % 16 == 0 {
                // The same line of the next eight rows, read a tile row from now: the rows
                // come from memory (a weight is read once per product), and eight short
                // streams at once are more than the hardware prefetcher follows in time.
                for r in 8..16 {
                    _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(r * src_stride + step).cast());
                }
            }
            let row = |r: usize| _mm256_loadu_ps(src.add(r * src_stride + step));
            let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
            let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
            // Pairs of rows interleaved, then quadruples, then the 128-bit halves swapped:
            // the usual three-stage 8 × 8 transpose.
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let q0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let q1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let q2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let q3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let q4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let q5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let q6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let q7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let out = |s: usize| dst.add((step + s) * dst_step);
            _mm256_storeu_ps(out(0), _mm256_permute2f128_ps::<0x20>(q0, q4));
            _mm256_storeu_ps(out(1), _mm256_permute2f128_ps::<0x20>(q1, q5));
            _mm256_storeu_ps(out(2), _mm256_permute2f128_ps::<0x20>(q2, q6));
            _mm256_storeu_ps(out(3), _mm256_permute2f128_ps::<0x20>(q3, q7));
            _mm256_storeu_ps(out(4), _mm256_permute2f128_ps::<0x31>(q0, q4));
            _mm256_storeu_ps(out(5), _mm256_permute2f128_ps::<0x31>(q1, q5));
            _mm256_storeu_ps(out(6), _mm256_permute2f128_ps::<0x31>(q2, q6));
            _mm256_storeu_ps(out(7), _mm256_permute2f128_ps::<0x31>(q3, q7));
        }
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::few_rows::tests::values;

    /// The panels and the driver against `gemm::gemm` on the same operands: every value equal
    /// to the bit, over shapes with partial panels (width not a multiple of 8 or of the panel
    /// rows), partial token groups, depths that are not a multiple of 8 or that `gemm` splits
    /// into chunks, a destination wider than the block, and sums added to what it holds.
    #[test]
    fn block_product_equals_gemm_bit_for_bit() {
        let Some(kernels) = Kernels::detect() else {
            eprintln!("skipped: this CPU has neither AVX2 with FMA nor AVX-512");
            return;
        };
        for (m, k, width) in [
            (100, 576, 64),
            (67, 37, 130),
            (300, 1100, 96),
            (513, 19, 200),
            (65, 1536, 77),
            (7, 300, 251),
        ] {
            assert!(
                super::super::gemm_blocks(width, m, k),
                "m{m} k{k} width{width}"
            );
            let x = values(1, m * k);
            let wt = values(2, width * k);
            let stride = width + 5;
            for accumulate in [false, true] {
                let start = values(3, m * stride);
                let (mut got, mut want) = (start.clone(), start);
                // SAFETY: `x` is `[m, k]`, `wt` `[width, k]`, both destinations `m` rows of
                // `stride ≥ width` values; `detect` found the kernels' instructions.
                unsafe {
                    block_product(
                        kernels,
                        &x,
                        m,
                        k,
                        &wt,
                        width,
                        got.as_mut_ptr(),
                        stride,
                        accumulate,
                    );
                    super::super::strided_product(
                        [m, width, k],
                        (want.as_mut_ptr(), stride as isize, 1),
                        accumulate,
                        (x.as_ptr(), k as isize, 1),
                        (wt.as_ptr(), 1, k as isize),
                    );
                }
                for (index, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "m{m} k{k} width{width} accumulate {accumulate}: value {index}: {g} vs {w}"
                    );
                }
            }
        }
    }
}
