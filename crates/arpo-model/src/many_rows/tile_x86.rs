//! The whole 16 × 6 register tile of the many-row product on AVX2 with FMA: 16 output columns
//! (one panel) by 6 tokens, 12 accumulators.
//!
//! `gemm-f32`'s kernel for this tile reaches the six rows of its right operand through one
//! pointer that it steps from row to row, 13 dependent additions per two depth steps against
//! 12 cycles of multiply-adds, so the additions set its pace (~3/4 of a 2-core AVX2 prefill ran
//! in it). Here each row has its own base and all share one index, so the multiply-adds set
//! it. The arithmetic is `gemm`'s: the same multiply-adds on the same accumulators in the
//! same depth order, then the sums written or added to the destination, so the values are
//! the same to the bit.

use std::arch::x86_64::*;

/// `dst[t, c] (+)= Σ_d panel[d, c] · x[t, d]` for 16 columns `c` and 6 tokens `t`: `panel` is
/// `depth` steps of 16 values; the tokens' rows of `x` are `x_stride` apart and those of
/// `dst` `dst_stride` apart; the sums are added to `dst` when `accumulate`.
///
/// # Safety
/// `panel` holds `16 · depth` values, `x` six rows of `depth` values, `dst` six rows of 16
/// writable values that no one else touches meanwhile; the CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_16x6(
    depth: usize,
    panel: *const f32,
    x: *const f32,
    x_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
) {
    let mut sums = [_mm256_setzero_ps(); 12];
    // SAFETY (whole body): the caller's contract bounds every offset below.
    unsafe {
        let rows: [*const f32; 6] = std::array::from_fn(|token| x.add(token * x_stride));
        for step in 0..depth {
            let low = _mm256_loadu_ps(panel.add(step * 16));
            let high = _mm256_loadu_ps(panel.add(step * 16 + 8));
            for (token, row) in rows.iter().enumerate() {
                let value = _mm256_broadcast_ss(&*row.add(step));
                sums[2 * token] = _mm256_fmadd_ps(low, value, sums[2 * token]);
                sums[2 * token + 1] = _mm256_fmadd_ps(high, value, sums[2 * token + 1]);
            }
        }
        for token in 0..6 {
            let out = dst.add(token * dst_stride);
            let (mut low, mut high) = (sums[2 * token], sums[2 * token + 1]);
            if accumulate {
                low = _mm256_add_ps(_mm256_loadu_ps(out), low);
                high = _mm256_add_ps(_mm256_loadu_ps(out.add(8)), high);
            }
            _mm256_storeu_ps(out, low);
            _mm256_storeu_ps(out.add(8), high);
        }
    }
}
