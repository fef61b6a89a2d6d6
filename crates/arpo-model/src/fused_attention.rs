//! Softmax attention in one kernel on burn's CPU backend: new tokens over their KV caches
//! (decoding), and whole sequences under the causal mask (prefill, scoring).
//!
//! Written with burn operations, decoding attends one row of the batch at a time (each row
//! has its own cache, of its own length, in its own chunks): about fifteen small tensor
//! operations per row and layer, each a few microseconds of dispatch for a few hundred
//! nanoseconds of arithmetic. At batch 16 that was a quarter of a SmolLM2 decoding step. A
//! whole-sequence forward instead computed the full square of scores, added a mask, and
//! permuted queries and outputs between token-major and head-major layouts (a fifth of a
//! 512-token prefill). Here one call reads the projections and the caches' buffers in place, in
//! whatever layout they have, and computes every row, head and query with the causal limit
//! applied by counting: no mask is built, no masked key is scored, nothing is permuted. Rows
//! and blocks of queries run in parallel. Rows with many new tokens (a prefill) go through
//! two matrix products per head and block of queries (`blocked.rs`), the others through
//! per-query loops that suit one to a few queries (`kernel.rs`).
//!
//! The entry points are generic over the backend and return `None` unless every tensor is a
//! contiguous `f32` tensor of flex (so never for autodiff tensors); callers then take the burn
//! path. Tests compare the kernel with a float64 softmax attention written out in full.

use burn::tensor::{backend::Backend, Tensor};

use crate::cache::LayerCache;

#[cfg(feature = "flex")]
mod blocked;
pub mod kernel;

/// The head layout of one attention layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heads {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads; query head `h` reads kv head `h / (heads / kv_heads)`.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// Attention output of every real query of a batch, with padded positions zero.
///
/// `q` holds the rotated, scaled queries; row `i` has `lens[i]` real tokens whose keys and
/// values are already the last `lens[i]` entries of `caches[i]`.
///
/// # Shapes
/// `q: [batch, seq, heads * head_dim]` → `[batch, seq, heads * head_dim]`
pub(crate) fn attend_cached<B: Backend>(
    q: &Tensor<B, 3>,
    lens: &[usize],
    caches: &[&mut LayerCache<B>],
    heads: Heads,
) -> Option<Tensor<B, 3>> {
    #[cfg(feature = "flex")]
    {
        flex::attend_cached(q, lens, caches, heads)
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (q, lens, caches, heads);
        None
    }
}

/// Causal attention within each whole sequence: position `p` sees positions `0..=p`.
///
/// # Shapes
/// `q: [batch, seq, heads * head_dim]`, `k`, `v: [batch, seq, kv_heads * head_dim]` →
/// `[batch, seq, heads * head_dim]`
pub(crate) fn attend_causal<B: Backend>(
    q: &Tensor<B, 3>,
    k: &Tensor<B, 3>,
    v: &Tensor<B, 3>,
    heads: Heads,
) -> Option<Tensor<B, 3>> {
    #[cfg(feature = "flex")]
    {
        flex::attend_causal(q, k, v, heads)
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (q, k, v, heads);
        None
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::tensor::{backend::Backend, Tensor};
    use burn_flex::FlexTensor;

    use super::kernel::{self, Chunk, Row};
    use super::Heads;
    use crate::cache::LayerCache;
    use crate::flex_cpu::{contiguous_data, flex_f32, from_data};

    pub(super) fn attend_causal<B: Backend>(
        q: &Tensor<B, 3>,
        k: &Tensor<B, 3>,
        v: &Tensor<B, 3>,
        heads: Heads,
    ) -> Option<Tensor<B, 3>> {
        let [b, s, width] = q.dims();
        let (q_flex, k_flex, v_flex) = (flex_f32(q)?, flex_f32(k)?, flex_f32(v)?);
        let q_data = contiguous_data(&q_flex)?;
        let (k_data, v_data) = (contiguous_data(&k_flex)?, contiguous_data(&v_flex)?);
        let kv_width = heads.kv_heads * heads.head_dim;
        if k_data.len() != b * s * kv_width || v_data.len() != k_data.len() {
            return None;
        }
        let rows: Vec<Row<'_>> = (0..b)
            .map(|i| Row {
                new: s,
                chunks: vec![Chunk {
                    keys: &k_data[i * s * kv_width..(i + 1) * s * kv_width],
                    values: &v_data[i * s * kv_width..(i + 1) * s * kv_width],
                    len: s,
                    position_stride: kv_width,
                    head_stride: heads.head_dim,
                }],
            })
            .collect();
        from_data(kernel::attend(q_data, s, &rows, heads), [b, s, width])
    }

    pub(super) fn attend_cached<B: Backend>(
        q: &Tensor<B, 3>,
        lens: &[usize],
        caches: &[&mut LayerCache<B>],
        heads: Heads,
    ) -> Option<Tensor<B, 3>> {
        let [b, s, width] = q.dims();
        let q_flex = flex_f32(q)?;
        let q_data = contiguous_data(&q_flex)?;
        // The flex tensors own the buffers the slices below borrow.
        let mut held: Vec<Vec<(FlexTensor, FlexTensor, usize, usize)>> = Vec::with_capacity(b);
        let head_dim = heads.head_dim;
        for cache in caches {
            let mut chunks = Vec::with_capacity(cache.chunks.len());
            for chunk in &cache.chunks {
                let (keys, values, len) = chunk.buffers();
                let capacity = keys.dims()[1];
                chunks.push((flex_f32(keys)?, flex_f32(values)?, len, capacity));
            }
            held.push(chunks);
        }
        let mut rows = Vec::with_capacity(b);
        for (chunks, &new) in held.iter().zip(lens) {
            let mut views = Vec::with_capacity(chunks.len());
            for (keys, values, len, capacity) in chunks {
                views.push(Chunk {
                    keys: contiguous_data(keys)?,
                    values: contiguous_data(values)?,
                    len: *len,
                    position_stride: head_dim,
                    head_stride: capacity * head_dim,
                });
            }
            rows.push(Row { new, chunks: views });
        }
        let out = kernel::attend(q_data, s, &rows, heads);
        from_data(out, [b, s, width])
    }
}
