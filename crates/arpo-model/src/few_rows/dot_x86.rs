//! The dot-product kernels of `few_rows` for weights in the checkpoint layout (`[out, in]`),
//! compiled once per x86 vector unit: AVX2 (8 lanes, 16 registers) and AVX-512 (16 lanes,
//! 32 registers).
//!
//! One loop nest serves both: it is written over [`Lanes`], whose methods are always inlined,
//! and each unit's entry point is a `#[target_feature]` function that the nest is inlined
//! into, so the intrinsics compile to that unit's instructions. The entry points are safe
//! functions that `few_rows::kernel` hands out only after checking that the CPU has the unit.
//!
//! AVX-512 matters at 16 rows: there the sums, not the weights' trip from memory, bound the
//! AVX2 kernel (an AVX-512 CPU read ~6.5 GB/s of weights of the ~18 GB/s its two threads can
//! stream), and 16-lane vectors do the same multiply-adds in half the instructions.

use std::arch::x86_64::*;

use super::weight_rows::{F32Rows, QuantGroups, WeightRows};
use crate::weights::QuantRows;

/// A vector of `f32` lanes: what the loop nest needs of a vector unit.
///
/// # Safety
/// Every method needs the unit's target feature; they are only called from code inlined into
/// a function compiled with it.
pub(super) trait Lanes: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// Activation rows per register group: `COLS × ROWS` sums, plus the operands, fit in the
    /// unit's vector registers.
    const ROWS: usize;
    unsafe fn zero() -> Self;
    /// Loads `LANES` values from `at` (no alignment needed).
    unsafe fn load(at: *const f32) -> Self;
    /// `a · b + c` in one rounding.
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    /// The sum of the lanes, in a fixed order.
    unsafe fn sum(self) -> f32;
    /// The lane sums of `LANES` vectors at once: `sums[i]` is the sum of `v[i]`'s lanes, added
    /// as a tree of vector shuffles and adds (about three instructions per sum against ~20
    /// for [`Lanes::sum`], which at SmolLM2's width took a fifth of the kernel's time).
    /// `v` and `sums` hold `LANES` each.
    unsafe fn sum_each(v: &[Self], sums: &mut [f32]);
}

/// Output columns (weight rows) per register group, for both units: a group of quantised
/// weights is turned into f32 this many rows at a time.
pub(super) const COLS: usize = 4;

/// Room for one register group's sums, rounded up to whole runs of lanes: 4 × 4 with AVX-512
/// (one run of 16), 4 × 3 with AVX2 (two runs of 8).
const MAX_SUMS: usize = 16;

impl Lanes for __m256 {
    const LANES: usize = 8;
    /// 4 × 3 sums take 12 of the 16 registers, leaving room for the operands.
    const ROWS: usize = 3;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        unsafe { _mm256_loadu_ps(at) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let mut lanes = [0.0f32; 8];
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), self) };
        ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
    }
    #[inline(always)]
    unsafe fn sum_each(v: &[Self], sums: &mut [f32]) {
        assert!(v.len() == 8 && sums.len() == 8);
        unsafe {
            // Within each 128-bit half, as in `sum_each` for 16 lanes: after these two
            // stages half `h` of `fours[i]` holds that half's sums of v[4i..4i + 4].
            // (Loops, not closures: a closure is not compiled with the caller's target
            // feature, so the intrinsics in it would not be inlined.)
            let mut pairs = [_mm256_setzero_ps(); 4];
            for (i, pair) in pairs.iter_mut().enumerate() {
                let (a, b) = (v[2 * i], v[2 * i + 1]);
                *pair = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            }
            let mut fours = [_mm256_setzero_ps(); 2];
            for (i, four) in fours.iter_mut().enumerate() {
                let (c, d) = (
                    _mm256_castps_pd(pairs[2 * i]),
                    _mm256_castps_pd(pairs[2 * i + 1]),
                );
                *four = _mm256_add_ps(
                    _mm256_castpd_ps(_mm256_unpacklo_pd(c, d)),
                    _mm256_castpd_ps(_mm256_unpackhi_pd(c, d)),
                );
            }
            let low = _mm256_permute2f128_ps::<0x20>(fours[0], fours[1]);
            let high = _mm256_permute2f128_ps::<0x31>(fours[0], fours[1]);
            _mm256_storeu_ps(sums.as_mut_ptr(), _mm256_add_ps(low, high));
        }
    }
}

impl Lanes for __m512 {
    const LANES: usize = 16;
    /// 4 × 4 sums take 16 of the 32 registers: 16 rows in four passes over each group.
    const ROWS: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        unsafe { _mm512_loadu_ps(at) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let mut lanes = [0.0f32; 16];
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), self) };
        let half: [f32; 8] = std::array::from_fn(|i| lanes[i] + lanes[i + 8]);
        ((half[0] + half[4]) + (half[1] + half[5])) + ((half[2] + half[6]) + (half[3] + half[7]))
    }
    #[inline(always)]
    unsafe fn sum_each(v: &[Self], sums: &mut [f32]) {
        assert!(v.len() == 16 && sums.len() == 16);
        unsafe {
            // Each 128-bit lane `q` first: interleave pairs and add (`pairs[i]` holds, per
            // lane, two partial sums of v[2i] and two of v[2i + 1]), then pairs of those as
            // 64-bit halves (`fours[i]` holds, per lane, one partial sum of each of
            // v[4i..4i + 4]).
            // (Loops, not closures: see `sum_each` for 8 lanes.)
            let mut pairs = [_mm512_setzero_ps(); 8];
            for (i, pair) in pairs.iter_mut().enumerate() {
                let (a, b) = (v[2 * i], v[2 * i + 1]);
                *pair = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
            }
            let mut fours = [_mm512_setzero_ps(); 4];
            for (i, four) in fours.iter_mut().enumerate() {
                let (c, d) = (
                    _mm512_castps_pd(pairs[2 * i]),
                    _mm512_castps_pd(pairs[2 * i + 1]),
                );
                *four = _mm512_add_ps(
                    _mm512_castpd_ps(_mm512_unpacklo_pd(c, d)),
                    _mm512_castpd_ps(_mm512_unpackhi_pd(c, d)),
                );
            }
            // Then across the four 128-bit lanes: lanes 0+1 and 2+3 of two `fours` at a
            // time, then the two halves, so that lane `q` of the result holds the totals of
            // v[4q..4q + 4].
            let mut halves = [_mm512_setzero_ps(); 2];
            for (i, half) in halves.iter_mut().enumerate() {
                let (a, b) = (fours[2 * i], fours[2 * i + 1]);
                *half = _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
                    _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
                );
            }
            let (a, b) = (halves[0], halves[1]);
            let total = _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
                _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
            );
            _mm512_storeu_ps(sums.as_mut_ptr(), total);
        }
    }
}

/// `block[m, width] = x[m, k] · wt[..width, k]ᵀ` with AVX2; `wt` may run past `width` rows.
pub(super) fn dot_avx2(x: &[f32], m: usize, k: usize, wt: &[f32], width: usize, block: &mut [f32]) {
    let rows = F32Rows {
        wt,
        k,
        group_rows: COLS,
    };
    // SAFETY: only reached through `select_dot`, which checked for AVX2 and FMA.
    unsafe { block_avx2(x, m, k, rows, width, block) }
}

/// [`dot_avx2`] with AVX-512.
pub(super) fn dot_avx512(
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
        group_rows: COLS,
    };
    // SAFETY: only reached through `select_dot`, which checked for AVX-512F.
    unsafe { block_avx512(x, m, k, rows, width, block) }
}

/// [`dot_avx2`] on rows `start..start + width` of a quantised matrix, each group of rows
/// turned into f32 (in L1) just before its passes.
pub(super) fn dot_quantised_avx2(
    x: &[f32],
    m: usize,
    k: usize,
    quantised: &QuantRows,
    start: usize,
    width: usize,
    block: &mut [f32],
) {
    let rows = QuantGroups::new(quantised, start, COLS);
    // SAFETY: only reached through `select_quantised`, which checked for AVX2 and FMA.
    unsafe { block_avx2(x, m, k, rows, width, block) }
}

/// [`dot_quantised_avx2`] with AVX-512: the same sums as [`dot_avx512`] on the dequantised
/// rows.
pub(super) fn dot_quantised_avx512(
    x: &[f32],
    m: usize,
    k: usize,
    quantised: &QuantRows,
    start: usize,
    width: usize,
    block: &mut [f32],
) {
    let rows = QuantGroups::new(quantised, start, COLS);
    // SAFETY: only reached through `select_quantised`, which checked for AVX-512F.
    unsafe { block_avx512(x, m, k, rows, width, block) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2<'a, W: WeightRows<'a>>(
    x: &[f32],
    m: usize,
    k: usize,
    weights: W,
    width: usize,
    block: &mut [f32],
) {
    // SAFETY: compiled with AVX2 and FMA, which the callers checked for.
    unsafe { dot_block::<__m256, W>(x, m, k, weights, width, block) }
}

#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<'a, W: WeightRows<'a>>(
    x: &[f32],
    m: usize,
    k: usize,
    weights: W,
    width: usize,
    block: &mut [f32],
) {
    // SAFETY: compiled with AVX-512F, which the callers checked for.
    unsafe { dot_block::<__m512, W>(x, m, k, weights, width, block) }
}

/// Where one register group works: `R` activation rows from `row` × `J` weight rows from
/// `col` of a block `width` columns wide, and the weight lines to ask the cache for meanwhile
/// (`ahead`).
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

/// Groups of [`COLS`] output columns × up to `V::ROWS` rows; the last columns one at a time.
///
/// A group's weight rows come from memory on its first row pass and from L1 on the others,
/// so left alone the loads from memory came in bursts (one pass in six at 16 rows) that the
/// hardware prefetchers did not smooth. Each pass therefore also asks the cache for its share
/// of the next group's rows, spread over its steps: the weights now stream at an even rate,
/// and batch-16 decoding of SmolLM2 went from ~200 to ~250 tokens/s (batch 4 +25%; batch 1,
/// which already streamed evenly, about the same).
///
/// # Safety
/// Runs only inlined into a function compiled with `V`'s target feature.
#[inline(always)]
unsafe fn dot_block<'a, V: Lanes, W: WeightRows<'a>>(
    x: &[f32],
    m: usize,
    k: usize,
    mut weights: W,
    width: usize,
    block: &mut [f32],
) {
    let passes = m.div_ceil(V::ROWS);
    let mut col = 0;
    while col < width {
        let cols = if width - col >= COLS { COLS } else { 1 };
        // The stored weights of the group after this one (past the block's end, the next
        // block's first rows), a share per pass.
        let next = weights.next_group_bytes(col + cols);
        let share = next.len().div_ceil(passes).next_multiple_of(64);
        let w = weights.group(col, cols);
        let mut row = 0;
        while row < m {
            let rows = V::ROWS.min(m - row);
            let pass = row / V::ROWS;
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
            // SAFETY (all arms): the caller's contract.
            unsafe {
                match (cols, rows) {
                    (COLS, 4) => dot_group::<V, COLS, 4>(at, block),
                    (COLS, 3) => dot_group::<V, COLS, 3>(at, block),
                    (COLS, 2) => dot_group::<V, COLS, 2>(at, block),
                    (COLS, _) => dot_group::<V, COLS, 1>(at, block),
                    (_, 4) => dot_group::<V, 1, 4>(at, block),
                    (_, 3) => dot_group::<V, 1, 3>(at, block),
                    (_, 2) => dot_group::<V, 1, 2>(at, block),
                    (_, _) => dot_group::<V, 1, 1>(at, block),
                }
            }
            row += rows;
        }
        col += cols;
    }
}

/// `R` activation rows from `row` × `J` weight rows from `col`: `V::LANES`-lane sums over `k`
/// in registers, added across lanes at the end (all `J × R` together, [`Lanes::sum_each`]:
/// batch-16 decoding of SmolLM2 on AVX-512 went from ~340 to ~367 tok/s), the last
/// `k % V::LANES` inputs one by one;
/// one cache line or more of `ahead` requested per step.
/// Written with intrinsics: left to the auto-vectoriser, some of these sizes came out as
/// 4-lane shuffles or with the sums spilled to the stack on every step.
///
/// # Safety
/// As [`dot_block`].
#[inline(always)]
unsafe fn dot_group<V: Lanes, const J: usize, const R: usize>(
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
    let mut x_rows = [&x[..0]; R];
    for (r, x_row) in x_rows.iter_mut().enumerate() {
        *x_row = &x[(row + r) * k..(row + r + 1) * k];
    }
    let mut w_rows = [&w[..0]; J];
    for (j, w_row) in w_rows.iter_mut().enumerate() {
        *w_row = &w[j * k..(j + 1) * k];
    }
    // SAFETY (every `V` call below): the caller's contract.
    let mut acc = [[unsafe { V::zero() }; R]; J];
    let whole = k - k % V::LANES;
    // Bytes of `ahead` (whole cache lines) to ask for per step, spread over the pass.
    let per_step = (ahead.len() / 64).div_ceil((whole / V::LANES).max(1)) * 64;
    let mut ahead_at = 0;
    let mut at = 0;
    while at < whole {
        let mut line = 0;
        while line < per_step && ahead_at < ahead.len() {
            // SAFETY: in bounds; a prefetch has no architectural effect.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().add(ahead_at) as *const i8) };
            ahead_at += 64;
            line += 64;
        }
        let mut xs = [unsafe { V::zero() }; R];
        for r in 0..R {
            // SAFETY: `at + LANES <= whole <= k`, the length of every row slice.
            xs[r] = unsafe { V::load(x_rows[r].as_ptr().add(at)) };
        }
        for j in 0..J {
            // SAFETY: as above.
            let wv = unsafe { V::load(w_rows[j].as_ptr().add(at)) };
            for r in 0..R {
                acc[j][r] = unsafe { V::mul_add(xs[r], wv, acc[j][r]) };
            }
        }
        at += V::LANES;
    }
    // The J × R lane sums, row-major (`r * J + j`), `V::LANES` vectors at a time; a last run
    // of fewer than half that many is added one vector at a time instead of padded.
    let count = J * R;
    let mut flat = [unsafe { V::zero() }; MAX_SUMS];
    for j in 0..J {
        for r in 0..R {
            flat[r * J + j] = acc[j][r];
        }
    }
    let mut sums = [0.0f32; MAX_SUMS];
    let mut at = 0;
    while at < count {
        if count - at >= V::LANES / 2 {
            unsafe { V::sum_each(&flat[at..at + V::LANES], &mut sums[at..at + V::LANES]) };
        } else {
            for i in at..count {
                sums[i] = unsafe { flat[i].sum() };
            }
        }
        at += V::LANES;
    }
    for r in 0..R {
        for j in 0..J {
            let mut sum = sums[r * J + j];
            for kk in whole..k {
                sum += x_rows[r][kk] * w_rows[j][kk];
            }
            block[(row + r) * width + col + j] = sum;
        }
    }
}
