//! Attention of a block of many queries (a prefill) through the matrix-product crate's
//! kernel: per head, the block's scores against every key it may see in one product, their
//! softmax, and the weighted values in a second product.
//!
//! The per-query loops of [`super::kernel`] suit decoding (one to a few queries per row), but
//! over a 512-token SmolLM2 prefill they ran at about a third of the multiply-add rate that
//! the products reach: each score was a dot product of its own with a horizontal sum at the
//! end, and each value sum went through memory once per block of keys. Products over a block
//! keep the partial sums in registers across keys and queries instead. The cost is the
//! scores of the keys between the block's first and last query that early queries may not
//! see, computed and then set to zero: with 32 queries per block over 512 positions, 6% more
//! multiply-adds.

use super::kernel::{exp_in_place, key_blocks, seen_by_first, Row};
use super::Heads;
use crate::many_rows::strided_product;

/// Queries `first..` of `row` (as many as `q` holds), every head; like
/// [`super::kernel`]'s tasks, `q` and `out` are `[queries, heads * head_dim]`. `keys_t` is
/// the row's keys as `super::kernel::transposed_keys` lays them out.
#[inline(always)]
pub(super) fn task(
    q: &[f32],
    row: &Row<'_>,
    keys_t: &[f32],
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
    let total = keys_t.len() / (heads.kv_heads * hd);
    debug_assert!(widest <= total && keys_t.len() == heads.kv_heads * hd * total);
    // The history up to the last query's position, one piece per chunk (each from the chunk's
    // first position).
    let pieces = key_blocks(row, widest, usize::MAX);
    let mut scores = vec![0.0f32; queries * widest];
    let mut sums = vec![0.0f32; queries];
    for h in 0..heads.heads {
        let kv = h / group;
        // scores[t, p] = q_h[t] · key(p): `[queries, hd] · [hd, widest]`, the keys read from
        // their transposed copy, `[hd, total]` for this kv head.
        // SAFETY: `attend` checked that `q` is `[queries, width]`; `keys_t` holds `hd` rows of
        // `total >= widest` positions per kv head; the destination is the `[queries, widest]`
        // score buffer.
        unsafe {
            strided_product(
                [queries, widest, hd],
                (scores.as_mut_ptr(), widest as isize, 1),
                false,
                (q.as_ptr().add(h * hd), width as isize, 1),
                (keys_t[kv * hd * total..].as_ptr(), total as isize, 1),
            )
        };
        for t in 0..queries {
            let row_scores = &mut scores[t * widest..(t + 1) * widest];
            let (seen, unseen) = row_scores.split_at_mut(visible(t));
            sums[t] = exp_in_place(seen);
            unseen.fill(0.0);
        }
        for (index, piece) in pieces.iter().enumerate() {
            let (chunk, start, len) = (piece.chunk, piece.start, piece.len);
            let values = chunk.values[kv * chunk.head_stride..].as_ptr();
            // out_h[t] (+)= Σ_p weight[t, start + p] · value(p): `[queries, len] · [len, hd]`.
            // SAFETY: as above; the destination is head `h`'s columns of `out`, `[queries,
            // width]`, read back (`index > 0`) to add the pieces after the first.
            unsafe {
                strided_product(
                    [queries, hd, len],
                    (out.as_mut_ptr().add(h * hd), width as isize, 1),
                    index > 0,
                    (scores.as_ptr().add(start), widest as isize, 1),
                    (values, chunk.position_stride as isize, 1),
                )
            };
        }
        for (t, &sum) in sums.iter().enumerate() {
            let inverse = 1.0 / sum;
            for o in &mut out[t * width + h * hd..][..hd] {
                *o *= inverse;
            }
        }
    }
}
