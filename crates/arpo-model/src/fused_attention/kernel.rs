//! The backend-free kernel of [`crate::fused_attention`]: plain slices in, a new buffer out.

use rayon::prelude::*;

use super::Heads;
use crate::activation::kernel::exp;

/// One piece of a sequence's history: keys and values of `len` positions × `kv_heads`
/// heads × `head_dim`, at any strides (a cache chunk is head-major, a whole sequence's
/// projections are position-major).
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Keys.
    pub keys: &'a [f32],
    /// Values, laid out like the keys.
    pub values: &'a [f32],
    /// Filled positions.
    pub len: usize,
    /// Elements from one position of a head to the next.
    pub position_stride: usize,
    /// Elements from the first position of one kv head to that of the next.
    pub head_stride: usize,
}

impl Chunk<'_> {
    /// The key and value vectors of kv head `kv` at `position`.
    #[inline(always)]
    fn at(&self, kv: usize, position: usize, head_dim: usize) -> (&[f32], &[f32]) {
        let start = kv * self.head_stride + position * self.position_stride;
        (
            &self.keys[start..start + head_dim],
            &self.values[start..start + head_dim],
        )
    }
}

/// One batch row: its history in order (its new tokens' keys and values included, last)
/// and how many new tokens it has.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// New tokens (queries) of this row.
    pub new: usize,
    /// The history, oldest first.
    pub chunks: Vec<Chunk<'a>>,
}

/// Queries per parallel task, so that a long prompt still spreads over the threads.
const QUERIES_PER_TASK: usize = 16;

/// Softmax attention of each new query over its row's history up to and including its own
/// position. `q` is `[rows, seq, heads * head_dim]` row-major (queries already scaled);
/// returns the same shape, zero at padded positions.
pub fn attend(q: &[f32], seq: usize, rows: &[Row<'_>], heads: Heads) -> Vec<f32> {
    let width = heads.heads * heads.head_dim;
    assert_eq!(
        q.len(),
        rows.len() * seq * width,
        "q is not [rows, seq, width]"
    );
    assert!(
        heads.kv_heads > 0 && heads.heads % heads.kv_heads == 0,
        "query heads must be a multiple of kv heads"
    );
    for row in rows {
        assert!(row.new <= seq, "more new tokens than sequence positions");
        let total: usize = row.chunks.iter().map(|c| c.len).sum();
        assert!(total >= row.new, "a row's history must hold its new tokens");
        for c in &row.chunks {
            if c.len > 0 {
                let end = (heads.kv_heads - 1) * c.head_stride
                    + (c.len - 1) * c.position_stride
                    + heads.head_dim;
                assert!(
                    c.keys.len() >= end && c.values.len() >= end,
                    "chunk too short"
                );
            }
        }
    }
    // The keys of each row that takes the blocked path, transposed (see `transposed_keys`).
    let keys_t: Vec<Vec<f32>> = rows
        .iter()
        .map(|row| {
            if is_blocked(row) {
                transposed_keys(row, heads)
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut out = vec![0.0f32; q.len()];
    // Tasks: (row, first query, queries, blocked) over disjoint output rows.
    let mut tasks = Vec::new();
    let mut rest: &mut [f32] = &mut out;
    for (i, row) in rows.iter().enumerate() {
        let (mine, tail) = rest.split_at_mut(seq * width);
        rest = tail;
        let mut mine = &mut mine[..row.new * width];
        let blocked = is_blocked(row);
        let per_task = if blocked {
            BLOCKED_QUERIES
        } else {
            QUERIES_PER_TASK
        };
        let mut first = 0;
        while !mine.is_empty() {
            let count = per_task.min(row.new - first);
            let (block, tail) = mine.split_at_mut(count * width);
            tasks.push((i, first, block, blocked));
            mine = tail;
            first += count;
        }
    }
    // Later queries see more keys: handing them out first lets the short tasks fill the gaps
    // at the end, where the threads would otherwise wait for the one that took a long task.
    tasks.reverse();
    let (task_fn, blocked_fn) = select();
    let run = |(i, first, block, blocked): (usize, usize, &mut [f32], bool)| {
        let q_block = &q[(i * seq + first) * width..][..block.len()];
        if blocked {
            blocked_fn(q_block, &rows[i], &keys_t[i], first, heads, block);
        } else {
            task_fn(q_block, &rows[i], first, heads, block);
        }
    };
    if tasks.len() == 1 {
        // Batch-1 decoding: less work than handing it to the pool.
        tasks.into_iter().for_each(run);
    } else {
        tasks.into_par_iter().for_each(run);
    }
    out
}

/// Whether rows with at least [`BLOCKED_QUERIES`] new tokens take the products of
/// `super::blocked` (which calls the matrix-product crate that the CPU backend brings).
const BLOCKED: bool = cfg!(feature = "flex");

/// Queries per task on the blocked path. Fewer wastes less on the causal diagonal (the scores
/// of keys that only the block's later queries see) but makes smaller products, whose fixed
/// costs weigh more.
pub(super) const BLOCKED_QUERIES: usize = 32;

/// Whether `row`'s queries take the blocked path.
fn is_blocked(row: &Row<'_>) -> bool {
    BLOCKED && row.new >= BLOCKED_QUERIES
}

/// `(queries, row, first query, heads, out)`: one task's queries.
type TaskFn = fn(&[f32], &Row<'_>, usize, Heads, &mut [f32]);

/// `(queries, row, the row's transposed keys, first query, heads, out)`: one blocked task.
type BlockedFn = fn(&[f32], &Row<'_>, &[f32], usize, Heads, &mut [f32]);

/// The per-query task and the blocked task for this CPU.
fn select() -> (TaskFn, BlockedFn) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return (x86::task_avx2, x86::blocked_avx2);
        }
    }
    (task_portable, blocked_portable)
}

fn task_portable(q: &[f32], row: &Row<'_>, first: usize, heads: Heads, out: &mut [f32]) {
    task_generic::<false>(q, row, first, heads, out)
}

fn blocked_portable(
    q: &[f32],
    row: &Row<'_>,
    keys_t: &[f32],
    first: usize,
    heads: Heads,
    out: &mut [f32],
) {
    blocked_task(q, row, keys_t, first, heads, out)
}

/// [`blocked::task`] where the products are built in; the per-query task elsewhere (never
/// reached: [`BLOCKED`] is false then).
#[inline(always)]
fn blocked_task(
    q: &[f32],
    row: &Row<'_>,
    keys_t: &[f32],
    first: usize,
    heads: Heads,
    out: &mut [f32],
) {
    #[cfg(feature = "flex")]
    super::blocked::task(q, row, keys_t, first, heads, out);
    #[cfg(not(feature = "flex"))]
    {
        let _ = keys_t;
        task_generic::<false>(q, row, first, heads, out);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Heads, Row};

    pub(super) fn task_avx2(q: &[f32], row: &Row<'_>, first: usize, heads: Heads, out: &mut [f32]) {
        // SAFETY: only reached through `select`, which checked for AVX2 and FMA.
        unsafe { task(q, row, first, heads, out) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn task(q: &[f32], row: &Row<'_>, first: usize, heads: Heads, out: &mut [f32]) {
        super::task_generic::<true>(q, row, first, heads, out)
    }

    pub(super) fn blocked_avx2(
        q: &[f32],
        row: &Row<'_>,
        keys_t: &[f32],
        first: usize,
        heads: Heads,
        out: &mut [f32],
    ) {
        // SAFETY: only reached through `select`, which checked for AVX2 and FMA.
        unsafe { blocked(q, row, keys_t, first, heads, out) }
    }

    /// The blocked task compiled for AVX2, so that its softmax's `exp` is vectorised.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn blocked(
        q: &[f32],
        row: &Row<'_>,
        keys_t: &[f32],
        first: usize,
        heads: Heads,
        out: &mut [f32],
    ) {
        super::blocked_task(q, row, keys_t, first, heads, out)
    }

    /// `out[j] = q · keys[j]` for eight keys: eight independent 8-lane sums (so that no
    /// multiply-add waits for the previous one), then reduced together by pairwise
    /// horizontal adds. Every key must be as long as `q`, a multiple of 8.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot8(q: &[f32], keys: [&[f32]; 8], out: &mut [f32; 8]) {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut d = 0;
        while d + 8 <= q.len() {
            // SAFETY: `d + 8 <= q.len()`, and every key is as long as `q`.
            let qv = unsafe { _mm256_loadu_ps(q.as_ptr().add(d)) };
            for j in 0..8 {
                // SAFETY: as above.
                let kv = unsafe { _mm256_loadu_ps(keys[j].as_ptr().add(d)) };
                acc[j] = _mm256_fmadd_ps(qv, kv, acc[j]);
            }
            d += 8;
        }
        // [k0 k1 k0 k1 | k0 k1 k0 k1] pair sums, then quads, then the two 128-bit halves.
        let s01 = _mm256_hadd_ps(acc[0], acc[1]);
        let s23 = _mm256_hadd_ps(acc[2], acc[3]);
        let s45 = _mm256_hadd_ps(acc[4], acc[5]);
        let s67 = _mm256_hadd_ps(acc[6], acc[7]);
        let s0123 = _mm256_hadd_ps(s01, s23);
        let s4567 = _mm256_hadd_ps(s45, s67);
        let low = _mm256_permute2f128_ps::<0x20>(s0123, s4567);
        let high = _mm256_permute2f128_ps::<0x31>(s0123, s4567);
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(low, high)) };
    }
}

/// Lanes of the partial sums: one AVX2 vector.
const LANES: usize = 8;

/// Positions per block of keys: the keys and values of one head (16 kB at width 64) stay
/// in the first-level cache (32 kB) while every query of a task uses them.
const KEY_BLOCK: usize = 32;

/// A block of positions of one chunk.
#[derive(Clone, Copy)]
pub(super) struct KeyBlock<'c, 'a> {
    pub(super) chunk: &'c Chunk<'a>,
    /// First position within the chunk.
    pub(super) local: usize,
    /// First position within the row's history.
    pub(super) start: usize,
    pub(super) len: usize,
}

/// How many positions of `row`'s history the task's query `first` sees: causal, query `t`
/// of a task sits at history position `total - new + first + t` and sees keys up to it.
pub(super) fn seen_by_first(row: &Row<'_>, first: usize) -> usize {
    let total: usize = row.chunks.iter().map(|c| c.len).sum();
    total - row.new + first + 1
}

/// Every key of `row`'s history transposed, `[kv_heads, head_dim, positions]` row-major, for
/// the blocked path's score products.
///
/// The matrix-product crate lays out the keys for its kernel with positions along the vector
/// lanes; read from a cache chunk (one position's `head_dim` values together) that is a
/// gather, one value at a time, and every 32-query task of a prefill repeated it for every
/// key it sees: ~5% of a 512-token SmolLM2 prefill. Transposed once per row, the keys are
/// read in lane order.
pub(super) fn transposed_keys(row: &Row<'_>, heads: Heads) -> Vec<f32> {
    let hd = heads.head_dim;
    let total: usize = row.chunks.iter().map(|c| c.len).sum();
    let mut keys_t = vec![0.0f32; heads.kv_heads * hd * total];
    let mut at = 0;
    for chunk in &row.chunks {
        for kv in 0..heads.kv_heads {
            let head = &mut keys_t[kv * hd * total..][..hd * total];
            for p in 0..chunk.len {
                for (d, &value) in chunk.at(kv, p, hd).0.iter().enumerate() {
                    head[d * total + at + p] = value;
                }
            }
        }
        at += chunk.len;
    }
    keys_t
}

/// The first `widest` positions of `row`'s history in blocks of at most `block` positions,
/// none across two chunks.
pub(super) fn key_blocks<'c, 'a>(
    row: &'c Row<'a>,
    widest: usize,
    block: usize,
) -> Vec<KeyBlock<'c, 'a>> {
    let mut blocks = Vec::with_capacity(widest.div_ceil(block) + row.chunks.len());
    let mut at = 0;
    for chunk in &row.chunks {
        let mut local = 0;
        while local < chunk.len && at + local < widest {
            let len = block.min(chunk.len - local).min(widest - at - local);
            blocks.push(KeyBlock {
                chunk,
                local,
                start: at + local,
                len,
            });
            local += len;
        }
        at += chunk.len;
    }
    blocks
}

/// Queries `first..` of `row` (as many as `q` holds), every head: for each, the scores of
/// the keys it may see (positions up to its own), their softmax, and the weighted sum of
/// the values. `FUSED` selects `mul_add`, only where the hardware has it.
///
/// Loops run kv head → block of keys → query → query head of the group, so that each
/// block of keys and values is read from memory once per task and then from the
/// first-level cache by every query (one query per pass re-read the whole history from the
/// second level for each of them, and ran at a fifth of this speed on a 512-token prefill).
#[inline(always)]
fn task_generic<const FUSED: bool>(
    q: &[f32],
    row: &Row<'_>,
    first: usize,
    heads: Heads,
    out: &mut [f32],
) {
    let hd = heads.head_dim;
    let group = heads.heads / heads.kv_heads;
    let width = heads.heads * hd;
    let queries = q.len() / width;
    let seen_by_first = seen_by_first(row, first);
    let visible = |t: usize| seen_by_first + t;
    let widest = visible(queries - 1);
    let blocks = key_blocks(row, widest, KEY_BLOCK);
    // Scores, then weights, of query vector `t * group + g`, over positions `0..widest`.
    let mut scores = vec![0.0f32; queries * group * widest];
    let mut sums = vec![0.0f32; queries * group];
    out.fill(0.0);
    for kv in 0..heads.kv_heads {
        let head = |t: usize, g: usize| t * width + (kv * group + g) * hd;
        for block in &blocks {
            for t in 0..queries {
                let seen = block.len.min(visible(t).saturating_sub(block.start));
                for g in 0..group {
                    let at = (t * group + g) * widest + block.start;
                    let q_h = &q[head(t, g)..head(t, g) + hd];
                    score_keys::<FUSED>(q_h, block, kv, &mut scores[at..at + seen]);
                }
            }
        }
        for t in 0..queries {
            for g in 0..group {
                let at = (t * group + g) * widest;
                sums[t * group + g] = exp_in_place(&mut scores[at..at + visible(t)]);
            }
        }
        for block in &blocks {
            for t in 0..queries {
                let seen = block.len.min(visible(t).saturating_sub(block.start));
                for g in 0..group {
                    let at = (t * group + g) * widest + block.start;
                    let out_h = &mut out[head(t, g)..head(t, g) + hd];
                    let weights = &scores[at..at + seen];
                    if hd == 64 {
                        add_weighted_values::<FUSED, 64>(weights, block, kv, out_h);
                    } else {
                        add_weighted_values_any::<FUSED>(weights, block, kv, out_h);
                    }
                }
            }
        }
        for t in 0..queries {
            for g in 0..group {
                let inverse = 1.0 / sums[t * group + g];
                for o in &mut out[head(t, g)..head(t, g) + hd] {
                    *o *= inverse;
                }
            }
        }
    }
}

/// `scores[p] = q · key(p)` for the first `scores.len()` positions of `block`.
///
/// On the fused (AVX2 + FMA) build with head widths that are a multiple of 8, eight keys
/// at a time in intrinsics: left to itself, the compiler vectorised across the keys
/// (4-lane gathers by element inserts, a quarter of a prefill) instead of along them.
#[inline(always)]
fn score_keys<const FUSED: bool>(
    q: &[f32],
    block: &KeyBlock<'_, '_>,
    kv: usize,
    scores: &mut [f32],
) {
    let hd = q.len();
    let (chunk, local) = (block.chunk, block.local);
    let mut p = 0;
    #[cfg(target_arch = "x86_64")]
    if FUSED && hd % LANES == 0 {
        while p + LANES <= scores.len() {
            let keys: [&[f32]; LANES] = std::array::from_fn(|j| chunk.at(kv, local + p + j, hd).0);
            let out: &mut [f32; LANES] = (&mut scores[p..p + LANES])
                .try_into()
                .expect("LANES scores");
            // SAFETY: `FUSED` builds of this module run only where `select` found AVX2 and
            // FMA; every key is `hd` long, a multiple of 8.
            unsafe { x86::dot8(q, keys, out) };
            p += LANES;
        }
    }
    for (offset, score) in scores[p..].iter_mut().enumerate() {
        let key = chunk.at(kv, local + p + offset, hd).0;
        let mut lanes = [0.0f32; LANES];
        let whole = hd - hd % LANES;
        for (x, y) in q[..whole].chunks_exact(LANES).zip(key.chunks_exact(LANES)) {
            for l in 0..LANES {
                lanes[l] = fma::<FUSED>(x[l], y[l], lanes[l]);
            }
        }
        let tail: f32 = q[whole..]
            .iter()
            .zip(&key[whole..])
            .map(|(a, b)| a * b)
            .sum();
        *score = lane_sum(&lanes) + tail;
    }
}

/// Replaces each score by `exp(score − max)` and returns their sum.
#[inline(always)]
pub(super) fn exp_in_place(scores: &mut [f32]) -> f32 {
    let max = scores.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut sums = [0.0f32; LANES];
    let mut whole = scores.chunks_exact_mut(LANES);
    for piece in &mut whole {
        for l in 0..LANES {
            piece[l] = exp(piece[l] - max);
            sums[l] += piece[l];
        }
    }
    let mut sum = lane_sum(&sums);
    for s in whole.into_remainder() {
        *s = exp(*s - max);
        sum += *s;
    }
    sum
}

/// `out += Σ weights[p] · value(p)` over the first `weights.len()` positions of `block`,
/// for heads of width `HD`: the sum stays in registers across positions.
#[inline(always)]
fn add_weighted_values<const FUSED: bool, const HD: usize>(
    weights: &[f32],
    block: &KeyBlock<'_, '_>,
    kv: usize,
    out: &mut [f32],
) {
    let out: &mut [f32; HD] = out.try_into().expect("HD outputs");
    let mut acc = *out;
    for (p, &w) in weights.iter().enumerate() {
        let value: &[f32; HD] = block
            .chunk
            .at(kv, block.local + p, HD)
            .1
            .try_into()
            .expect("HD values");
        for d in 0..HD {
            acc[d] = fma::<FUSED>(w, value[d], acc[d]);
        }
    }
    *out = acc;
}

/// [`add_weighted_values`] for any head width.
#[inline(always)]
fn add_weighted_values_any<const FUSED: bool>(
    weights: &[f32],
    block: &KeyBlock<'_, '_>,
    kv: usize,
    out: &mut [f32],
) {
    for (p, &w) in weights.iter().enumerate() {
        let value = block.chunk.at(kv, block.local + p, out.len()).1;
        for (o, &v) in out.iter_mut().zip(value) {
            *o = fma::<FUSED>(w, v, *o);
        }
    }
}

#[inline(always)]
fn fma<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn lane_sum(lanes: &[f32; LANES]) -> f32 {
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

#[cfg(test)]
mod tests {
    use super::{attend, Chunk, Row};
    use crate::fused_attention::Heads;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Softmax attention in float64, written out: the history of each row gathered into one
    /// list of positions, every key scored, then masked by position.
    fn reference(q: &[f32], seq: usize, rows: &[Row<'_>], heads: Heads) -> Vec<f64> {
        let hd = heads.head_dim;
        let width = heads.heads * hd;
        let group = heads.heads / heads.kv_heads;
        let mut out = vec![0.0f64; q.len()];
        for (i, row) in rows.iter().enumerate() {
            for h in 0..heads.heads {
                let kv = h / group;
                let mut keys = Vec::new();
                let mut vals = Vec::new();
                for c in &row.chunks {
                    for p in 0..c.len {
                        let at = kv * c.head_stride + p * c.position_stride;
                        keys.push(&c.keys[at..at + hd]);
                        vals.push(&c.values[at..at + hd]);
                    }
                }
                let total = keys.len();
                for t in 0..row.new {
                    let q_h = &q[(i * seq + t) * width + h * hd..][..hd];
                    let position = total - row.new + t;
                    let scores: Vec<f64> = keys
                        .iter()
                        .enumerate()
                        .map(|(j, k)| {
                            if j > position {
                                f64::NEG_INFINITY
                            } else {
                                q_h.iter().zip(*k).map(|(&a, &b)| a as f64 * b as f64).sum()
                            }
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = weights.iter().sum();
                    for d in 0..hd {
                        let v: f64 = weights
                            .iter()
                            .zip(&vals)
                            .map(|(w, v)| w * v[d] as f64)
                            .sum();
                        out[(i * seq + t) * width + h * hd + d] = v / sum;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_float64_attention_over_chunked_histories_of_different_lengths() {
        // Grouped heads (3, 7 and 2 query heads per kv head); head widths 12 (not a multiple of 8:
        // the portable loops) and 64 (the 8-key products and the fixed-width value sums);
        // rows with one, several and more-than-one-task new tokens; cache histories in one
        // and in several head-major chunks with spare capacity, spanning several key blocks;
        // and a whole position-major sequence, as a prefill passes its projections. The last
        // two rows have enough new tokens for the blocked products (with flex): 35 over three
        // chunks, whose queries span all three, and 70, whose last task is partial.
        // Groups of 3, 7 and 2 query heads per kv head.
        for (head_dim, (query_heads, kv_heads)) in [12, 64]
            .into_iter()
            .flat_map(|d| [(6, 2), (7, 1), (4, 2)].map(|h| (d, h)))
        {
            let heads = Heads {
                heads: query_heads,
                kv_heads,
                head_dim,
            };
            let seq = 70;
            let cache_chunk = |len: usize, capacity: usize, seed: u64| {
                let size = heads.kv_heads * capacity * head_dim;
                let layout = (head_dim, capacity * head_dim);
                (values(size, seed), values(size, seed + 1), len, layout)
            };
            let kv_width = heads.kv_heads * head_dim;
            let whole_sequence = (
                values(seq * kv_width, 13),
                values(seq * kv_width, 14),
                seq,
                (kv_width, head_dim),
            );
            let buffers = [
                vec![cache_chunk(5, 8, 1), cache_chunk(3, 64, 3)],
                vec![cache_chunk(20, 20, 5)],
                vec![
                    cache_chunk(7, 7, 7),
                    cache_chunk(2, 2, 9),
                    cache_chunk(30, 40, 11),
                ],
                vec![whole_sequence],
            ];
            let news = [3usize, 20, 35, seq];
            let rows: Vec<Row<'_>> = buffers
                .iter()
                .zip(news)
                .map(|(chunks, new)| Row {
                    new,
                    chunks: chunks
                        .iter()
                        .map(|(k, v, len, (position_stride, head_stride))| Chunk {
                            keys: k,
                            values: v,
                            len: *len,
                            position_stride: *position_stride,
                            head_stride: *head_stride,
                        })
                        .collect(),
                })
                .collect();
            let q = values(rows.len() * seq * heads.heads * head_dim, 99);
            let ours = attend(&q, seq, &rows, heads);
            let expected = reference(&q, seq, &rows, heads);
            let worst = ours
                .iter()
                .zip(&expected)
                .map(|(&a, &b)| (a as f64 - b).abs())
                .fold(0.0f64, f64::max);
            assert!(
                worst < 1e-5,
                "{query_heads}/{kv_heads} heads of width {head_dim}: max abs diff {worst}"
            );
            // Padded positions stay zero.
            let width = heads.heads * head_dim;
            assert!(ours[(3 * width)..(seq * width)].iter().all(|&v| v == 0.0));
        }
    }
}
