//! The decoder-only transformer of the Llama / Qwen2 / Qwen3 / SmolLM families, read top-down:
//! MLP → attention → decoder layer → decoder → causal-LM head.
//!
//! Field names equal HF checkpoint keys (`model.layers.N.self_attn.q_proj`, `mlp.gate_proj`, ...)
//! so loading needs no rename table. Linear weights are `[in, out]` to burn (its layout); loaded
//! ones are transposed views of the checkpoint's `[out, in]` buffers, which `few_rows` reads in
//! place.
//!
//! Two forward paths share every projection: [`CausalLm::forward`] runs whole right-padded
//! sequences with a causal mask (training, scoring), and [`CausalLm::forward_cached`] extends each
//! sequence of a batch from its own [`KvCache`] (generation). Tests check they agree.

use std::cell::OnceCell;

use burn::module::Module;
use burn::nn::{Embedding, Linear};
use burn::tensor::{backend::Backend, ElementConversion, Int, Tensor, TensorData};

use crate::activation::{silu, softmax};
use crate::cache::{KvCache, LayerCache};
use crate::config::ModelConfig;
use crate::few_rows::{linear, product};
use crate::fused_attention::{self, Heads};
use crate::norm::RmsNorm;
use crate::pool::on_thread_pool;
use crate::rope::{HeadTables, Rotary};
use crate::{Error, Result};

/// Added to masked attention scores; finite so that no row can become NaN.
const MASKED: f32 = -1.0e30;

/// SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// `[hidden, intermediate]`
    pub gate_proj: Linear<B>,
    /// `[hidden, intermediate]`
    pub up_proj: Linear<B>,
    /// `[intermediate, hidden]`
    pub down_proj: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// # Shapes
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        #[cfg(feature = "flex")]
        {
            let [b, s, _] = x.dims();
            if b * s > crate::few_rows::MAX_ROWS {
                if let Some(h) = crate::many_rows::gated_product(&x, &self.gate_proj, &self.up_proj)
                {
                    return linear(&self.down_proj, h);
                }
            }
        }
        let gate = silu(linear(&self.gate_proj, x.clone()));
        linear(&self.down_proj, gate.mul(linear(&self.up_proj, x)))
    }
}

/// RoPE tables of one forward for the query and the key heads.
pub struct RopeTables<B: Backend> {
    /// For `[batch, seq, heads * head_dim]` queries.
    pub queries: HeadTables<B>,
    /// For `[batch, seq, kv_heads * head_dim]` keys.
    pub keys: HeadTables<B>,
}

/// Grouped-query self-attention with RoPE (and per-head q/k RMSNorm for Qwen3).
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `[hidden, heads * head_dim]`, bias for Qwen2.
    pub q_proj: Linear<B>,
    /// `[hidden, kv_heads * head_dim]`
    pub k_proj: Linear<B>,
    /// `[hidden, kv_heads * head_dim]`
    pub v_proj: Linear<B>,
    /// `[heads * head_dim, hidden]`
    pub o_proj: Linear<B>,
    /// Qwen3 only: RMSNorm over each query head.
    pub q_norm: Option<RmsNorm<B>>,
    /// Qwen3 only: RMSNorm over each key head.
    pub k_norm: Option<RmsNorm<B>>,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
}

impl<B: Backend> Attention<B> {
    fn groups(&self) -> usize {
        self.num_heads / self.num_kv_heads
    }

    /// Projects and rotates queries, keys and values. Queries come out multiplied by
    /// `1/√head_dim` (the attention scale), which costs a pass over the queries instead of one
    /// over the much larger score matrix.
    ///
    /// # Shapes
    /// `x: [batch, seq, hidden]` → q `[batch, seq, heads * head_dim]`,
    /// k and v `[batch, seq, kv_heads * head_dim]`
    fn qkv(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 3>) {
        let [b, s, _] = x.dims();
        let hd = self.head_dim;
        let mut q = linear(&self.q_proj, x.clone());
        let mut k = linear(&self.k_proj, x.clone());
        let v = linear(&self.v_proj, x);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            let per_head = |norm: &RmsNorm<B>, t: Tensor<B, 3>, heads: usize| {
                norm.forward(t.reshape([b, s, heads, hd]))
                    .reshape([b, s, heads * hd])
            };
            q = per_head(qn, q, self.num_heads);
            k = per_head(kn, k, self.num_kv_heads);
        }
        let q = rope.queries.apply(q).mul_scalar(1.0 / (hd as f64).sqrt());
        (q, rope.keys.apply(k), v)
    }

    /// Whole sequences under an additive attention mask (0 where allowed, a large negative
    /// number where not), shared by all heads.
    ///
    /// # Shapes
    /// `x: [batch, seq, hidden]`, `mask: [batch or 1, seq, seq]` → `[batch, seq, hidden]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        mask: &Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        let (q, k, v) = self.qkv(x, rope);
        self.attend_masked(q, k, v, mask)
    }

    /// Whole sequences under the causal mask (each position sees itself and those before it).
    ///
    /// The fused kernel needs no mask; where it does not apply (other backends, autodiff), the
    /// additive causal mask is built into `mask` on first use and shared by the later layers.
    ///
    /// # Shapes
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub fn forward_causal(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        mask: &OnceCell<Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let [_, s, _] = x.dims();
        let device = x.device();
        let (q, k, v) = self.qkv(x, rope);
        if let Some(out) = fused_attention::attend_causal(&q, &k, &v, self.heads()) {
            return linear(&self.o_proj, out);
        }
        let mask = mask.get_or_init(|| causal_mask::<B>(1, s, 0, s, &device).unsqueeze::<3>());
        self.attend_masked(q, k, v, mask)
    }

    fn heads(&self) -> Heads {
        Heads {
            heads: self.num_heads,
            kv_heads: self.num_kv_heads,
            head_dim: self.head_dim,
        }
    }

    /// Attention of projected queries, keys and values under an additive mask, with burn
    /// operations.
    ///
    /// # Shapes
    /// `q: [batch, seq, heads * head_dim]`, `k`, `v: [batch, seq, kv_heads * head_dim]`,
    /// `mask: [batch or 1, seq, seq]` → `[batch, seq, hidden]`
    fn attend_masked(
        &self,
        q: Tensor<B, 3>,
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
        mask: &Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        let [b, s, _] = q.dims();
        let (g, kvh, hd) = (self.groups(), self.num_kv_heads, self.head_dim);
        // Query heads of one kv group are stacked along the row axis: no key/value repeat.
        let q = q
            .reshape([b, s, kvh, g, hd])
            .permute([0, 2, 3, 1, 4])
            .reshape([b, kvh, g * s, hd]);
        let heads = |t: Tensor<B, 3>| t.reshape([b, s, kvh, hd]).swap_dims(1, 2);
        let scores = q.matmul(heads(k).swap_dims(2, 3));
        let probs = softmax(add_mask(scores, mask, g));
        let out = probs.matmul(heads(v)).reshape([b, self.num_heads, s, hd]);
        linear(
            &self.o_proj,
            out.swap_dims(1, 2).reshape([b, s, self.num_heads * hd]),
        )
    }

    /// Extends each sequence from its own history. `lens[i]` tokens of row `i` are real (the
    /// rest is padding); their keys/values are appended to `caches[i]`.
    ///
    /// # Shapes
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]` (padded rows are zero)
    fn forward_cached(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        lens: &[usize],
        caches: &mut [&mut LayerCache<B>],
    ) -> Tensor<B, 3> {
        let [b, s, _] = x.dims();
        let (g, kvh, hd) = (self.groups(), self.num_kv_heads, self.head_dim);
        let device = x.device();
        let (q, k, v) = self.qkv(x, rope);
        for (i, (cache, &n)) in caches.iter_mut().zip(lens).enumerate() {
            let take = |t: &Tensor<B, 3>| {
                t.clone()
                    .slice([i..i + 1, 0..n])
                    .reshape([n, kvh, hd])
                    .swap_dims(0, 1)
            };
            cache.append(take(&k), take(&v));
        }
        if let Some(out) = fused_attention::attend_cached(&q, lens, caches, self.heads()) {
            return linear(&self.o_proj, out);
        }
        let mut rows = Vec::with_capacity(b);
        for (i, (cache, &n)) in caches.iter().zip(lens).enumerate() {
            let q_i = q
                .clone()
                .slice([i..i + 1, 0..n])
                .reshape([n, kvh, g, hd])
                .permute([1, 2, 0, 3])
                .reshape([kvh, g * n, hd]);
            let chunks: Vec<_> = cache.chunks.iter().map(|c| c.filled()).collect();
            let widths: Vec<usize> = chunks.iter().map(|(k, _)| k.dims()[1]).collect();
            let total: usize = widths.iter().sum();
            let scores: Vec<_> = chunks
                .iter()
                .map(|(k, _)| q_i.clone().matmul(k.clone().swap_dims(1, 2)))
                .collect();
            let mut scores = Tensor::cat(scores, 2);
            if n > 1 {
                let mask = causal_mask::<B>(g, n, total - n, total, &device);
                // One row of `g·n·total` values shared by the kv heads: the broadcast form
                // CPU backends add in place.
                scores = scores
                    .reshape([kvh, g * n * total])
                    .add(mask.reshape([1, g * n * total]))
                    .reshape([kvh, g * n, total]);
            }
            let probs = softmax(scores);
            let mut start = 0;
            let mut out: Option<Tensor<B, 3>> = None;
            for ((_, v_c), w) in chunks.into_iter().zip(widths) {
                let p = probs.clone().slice([0..kvh, 0..g * n, start..start + w]);
                let part = p.matmul(v_c);
                out = Some(match out {
                    Some(acc) => acc.add(part),
                    None => part,
                });
                start += w;
            }
            let out = out.expect("a cache holds at least the rows just appended");
            let out = out
                .reshape([self.num_heads, n, hd])
                .swap_dims(0, 1)
                .reshape([1, n, self.num_heads * hd]);
            rows.push(if n < s {
                Tensor::cat(
                    vec![out, Tensor::zeros([1, s - n, self.num_heads * hd], &device)],
                    1,
                )
            } else {
                out
            });
        }
        linear(&self.o_proj, Tensor::cat(rows, 0))
    }
}

/// Adds an additive mask shared by all heads to the scores of `groups` stacked query heads.
///
/// The mask is laid out as one long row per batch entry, so that the sum is either the
/// "one row broadcast over all leading rows" form or a sum of equal shapes: the two forms CPU
/// backends run in place at memory speed. Broadcasting `[b, 1, s, s]` over heads instead went
/// through strided iteration (a quarter of a SmolLM2 prefill).
///
/// # Shapes
/// `scores: [batch, kv_heads, groups * seq, seq]`, `mask: [batch or 1, seq, seq]` → like scores
fn add_mask<B: Backend>(scores: Tensor<B, 4>, mask: &Tensor<B, 3>, groups: usize) -> Tensor<B, 4> {
    let [b, kvh, rows, keys] = scores.dims();
    let [mb, s, _] = mask.dims();
    let per_head = groups * s * keys;
    let mask = mask.clone().reshape([mb, 1, s * keys]);
    let mask = if groups == 1 {
        mask
    } else {
        mask.repeat_dim(1, groups).reshape([mb, 1, per_head])
    };
    let summed = if mb == 1 {
        scores
            .reshape([b * kvh, per_head])
            .add(mask.reshape([1, per_head]))
    } else {
        scores
            .reshape([b, kvh, per_head])
            .add(mask.repeat_dim(1, kvh))
            .reshape([b * kvh, per_head])
    };
    summed.reshape([b, kvh, rows, keys])
}

/// Additive causal mask for `groups` stacked query heads of `queries` rows each, whose first
/// query sits at key position `offset`, over `keys` columns.
///
/// # Shapes
/// returns `[groups * queries, keys]`
fn causal_mask<B: Backend>(
    groups: usize,
    queries: usize,
    offset: usize,
    keys: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut data = Vec::with_capacity(groups * queries * keys);
    for _ in 0..groups {
        for i in 0..queries {
            data.extend((0..keys).map(|j| if j > offset + i { MASKED } else { 0.0 }));
        }
    }
    Tensor::from_data(TensorData::new(data, [groups * queries, keys]), device)
}

/// Additive attention mask from an "may attend" predicate: 0 where `allowed[i][j]`, a large
/// negative number elsewhere. Every row must allow at least one key.
///
/// # Shapes
/// `allowed: seq × seq` → `[1, seq, seq]`
pub fn attention_mask<B: Backend>(allowed: &[Vec<bool>], device: &B::Device) -> Tensor<B, 3> {
    let n = allowed.len();
    let data: Vec<f32> = allowed
        .iter()
        .flat_map(|row| row.iter().map(|&a| if a { 0.0 } else { MASKED }))
        .collect();
    Tensor::from_data(TensorData::new(data, [1, n, n]), device)
}

/// Pre-norm decoder layer: `x + attn(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Self-attention.
    pub self_attn: Attention<B>,
    /// Feed-forward.
    pub mlp: Mlp<B>,
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm<B>,
}

/// Embedding, the layer stack and the final norm (HF's `model.` prefix).
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    /// `[vocab, hidden]`
    pub embed_tokens: Embedding<B>,
    /// The layers.
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
}

/// A causal language model: decoder plus output head (tied to the embedding when `lm_head` is
/// `None`).
#[derive(Module, Debug)]
pub struct CausalLm<B: Backend> {
    /// The decoder (HF `model.`).
    pub model: Decoder<B>,
    /// Untied output head, `[hidden, vocab]`.
    pub lm_head: Option<Linear<B>>,
    /// RoPE tables (constants, not parameters).
    pub rotary: Rotary<B>,
    /// The configuration the network was built from.
    #[module(skip)]
    pub config: ModelConfig,
}

/// Token ids of a batch, right-padded, with the real length of each row.
pub struct PaddedBatch<B: Backend> {
    /// `[batch, seq]`
    pub tokens: Tensor<B, 2, Int>,
    /// Real length of each row.
    pub lens: Vec<usize>,
}

impl<B: Backend> PaddedBatch<B> {
    /// Pads `rows` (each non-empty) with id 0 to the longest.
    pub fn new(rows: &[Vec<u32>], device: &B::Device) -> Result<Self> {
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        if rows.is_empty() || rows.iter().any(Vec::is_empty) {
            return Err(Error::Usage(
                "a batch needs at least one row and no empty row".into(),
            ));
        }
        let mut ids = Vec::with_capacity(rows.len() * width);
        for r in rows {
            ids.extend(r.iter().map(|&t| t as i64));
            ids.extend(std::iter::repeat_n(0i64, width - r.len()));
        }
        Ok(Self {
            tokens: Tensor::from_data(TensorData::new(ids, [rows.len(), width]), device),
            lens: rows.iter().map(Vec::len).collect(),
        })
    }
}

impl<B: Backend> CausalLm<B> {
    /// The device the weights live on.
    pub fn device(&self) -> B::Device {
        self.model.norm.weight.device()
    }

    /// Whether the weights are tensors of burn's CPU backend (flex), whose forwards keep the
    /// thread pool awake (see `crate::pool`); an autodiff or GPU model's do not.
    fn on_cpu(&self) -> bool {
        #[cfg(feature = "flex")]
        {
            crate::flex_cpu::flex_f32(&self.model.norm.weight.val()).is_some()
        }
        #[cfg(not(feature = "flex"))]
        {
            false
        }
    }

    /// Logit width.
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// An empty cache for one sequence.
    pub fn new_cache(&self) -> KvCache<B> {
        KvCache::new(self.model.layers.len())
    }

    /// Output head: `[batch, seq, hidden]` → `[batch, seq, vocab]`.
    pub fn head(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.lm_head {
            Some(head) => linear(head, hidden),
            None => {
                // The transposed embedding as a strided view: the few-row kernel and the CPU
                // backend's 2-D product read it in place. (Batched 3-D forms made the CPU
                // backend copy the 113 MB matrix of SmolLM2 at every call; `embed · hiddenᵀ`
                // avoided that but paid a transposed copy of the logits, 100 MB for a
                // 512-token prefill.)
                product(
                    hidden,
                    self.model.embed_tokens.weight.val().transpose(),
                    None,
                )
            }
        }
    }

    /// RoPE tables for the query and key head counts at `positions` (`[batch, seq]`), built
    /// once per forward and shared by every layer.
    fn rope_tables(&self, positions: Tensor<B, 2, Int>) -> RopeTables<B> {
        let attention = &self.model.layers[0].self_attn;
        let [queries, keys] = self
            .rotary
            .head_tables(positions, [attention.num_heads, attention.num_kv_heads]);
        RopeTables { queries, keys }
    }

    fn check_positions(&self, end: usize) -> Result<()> {
        if end > self.rotary.max_positions {
            return Err(Error::Usage(format!(
                "position {end} beyond the context of {} tokens",
                self.rotary.max_positions
            )));
        }
        Ok(())
    }

    /// Final hidden states of whole sequences (positions start at 0, causal attention).
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, hidden]`
    pub fn forward_hidden(&self, tokens: Tensor<B, 2, Int>) -> Result<Tensor<B, 3>> {
        let [b, s] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<B, 1, Int>::arange(0..s as i64, &device)
            .unsqueeze::<2>()
            .repeat_dim(0, b);
        self.run_layers(tokens, positions, None)
    }

    /// Final hidden states with explicit positions and attention mask: the general form behind
    /// [`Self::forward_hidden`], used to pack a whole rollout tree into one sequence (each token
    /// attends to its ancestors only, and its position is its depth in the tree).
    ///
    /// # Shapes
    /// `tokens`, `positions: [batch, seq]`, `mask: [batch or 1, seq, seq]` additive
    /// (see [`attention_mask`]) → `[batch, seq, hidden]`
    pub fn forward_hidden_masked(
        &self,
        tokens: Tensor<B, 2, Int>,
        positions: Tensor<B, 2, Int>,
        mask: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>> {
        self.run_layers(tokens, positions, Some(mask))
    }

    /// The layer stack over whole sequences, under `mask` or, when `None`, the causal mask.
    fn run_layers(
        &self,
        tokens: Tensor<B, 2, Int>,
        positions: Tensor<B, 2, Int>,
        mask: Option<Tensor<B, 3>>,
    ) -> Result<Tensor<B, 3>> {
        on_thread_pool(self.on_cpu(), || {
            let max_pos = positions.clone().max().into_scalar().elem::<i64>();
            self.check_positions(max_pos as usize + 1)?;
            let rope = self.rope_tables(positions);
            let mut x = self.model.embed_tokens.forward(tokens);
            let causal = OnceCell::new();
            for layer in &self.model.layers {
                let normed = layer.input_layernorm.forward(x.clone());
                let h = match &mask {
                    Some(mask) => layer.self_attn.forward(normed, &rope, mask),
                    None => layer.self_attn.forward_causal(normed, &rope, &causal),
                };
                x = x.add(h);
                let h = layer
                    .mlp
                    .forward(layer.post_attention_layernorm.forward(x.clone()));
                x = x.add(h);
            }
            Ok(self.model.norm.forward(x))
        })
    }

    /// Logits for every position of whole sequences (right padding allowed; padded positions
    /// produce logits that callers ignore).
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, vocab]`
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Result<Tensor<B, 3>> {
        Ok(self.head(self.forward_hidden(tokens)?))
    }

    /// Appends `batch` row `i` to `caches[i]` and returns the final hidden state of every
    /// position (padded positions are garbage).
    ///
    /// # Shapes
    /// returns `[batch, seq, hidden]`
    pub fn forward_cached_hidden(
        &self,
        batch: &PaddedBatch<B>,
        caches: &mut [KvCache<B>],
    ) -> Result<Tensor<B, 3>> {
        let [b, s] = batch.tokens.dims();
        if caches.len() != b || batch.lens.len() != b {
            return Err(Error::Usage(format!(
                "{b} rows but {} caches",
                caches.len()
            )));
        }
        let device = batch.tokens.device();
        let mut pos = Vec::with_capacity(b * s);
        for (cache, &n) in caches.iter().zip(&batch.lens) {
            self.check_positions(cache.len() + n)?;
            // Padded positions reuse the last real one: any valid row of the table will do.
            pos.extend((0..s).map(|i| (cache.len() + i.min(n - 1)) as i64));
        }
        let positions = Tensor::from_data(TensorData::new(pos, [b, s]), &device);
        let rope = self.rope_tables(positions);
        let mut x = self.model.embed_tokens.forward(batch.tokens.clone());
        for (l, layer) in self.model.layers.iter().enumerate() {
            let mut layer_caches: Vec<&mut LayerCache<B>> =
                caches.iter_mut().map(|c| &mut c.layers[l]).collect();
            let h = layer.self_attn.forward_cached(
                layer.input_layernorm.forward(x.clone()),
                &rope,
                &batch.lens,
                &mut layer_caches,
            );
            x = x.add(h);
            let h = layer
                .mlp
                .forward(layer.post_attention_layernorm.forward(x.clone()));
            x = x.add(h);
        }
        for (cache, &n) in caches.iter_mut().zip(&batch.lens) {
            cache.advance(n);
        }
        Ok(self.model.norm.forward(x))
    }

    /// Appends row `i` of `batch` to `caches[i]`; logits for every position.
    ///
    /// # Shapes
    /// returns `[batch, seq, vocab]`
    pub fn forward_cached(
        &self,
        batch: &PaddedBatch<B>,
        caches: &mut [KvCache<B>],
    ) -> Result<Tensor<B, 3>> {
        Ok(self.head(self.forward_cached_hidden(batch, caches)?))
    }

    /// Appends `rows[i]` to `caches[i]` and returns only the logits after each row's last token
    /// (the head runs on one position per row).
    ///
    /// # Shapes
    /// returns `[rows.len(), vocab]`
    pub fn extend(&self, rows: &[Vec<u32>], caches: &mut [KvCache<B>]) -> Result<Tensor<B, 2>> {
        on_thread_pool(self.on_cpu(), || {
            let batch = PaddedBatch::new(rows, &self.device())?;
            let hidden = self.forward_cached_hidden(&batch, caches)?;
            let [b, _, d] = hidden.dims();
            let last: Vec<i64> = batch
                .lens
                .iter()
                .enumerate()
                .map(|(i, &n)| (i * hidden.dims()[1] + n - 1) as i64)
                .collect();
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(last, [b]), &hidden.device());
            let seq = hidden.dims()[1];
            let picked = hidden
                .reshape([b * seq, d])
                .select(0, idx)
                .reshape([b, 1, d]);
            Ok(self.head(picked).reshape([b, self.vocab_size()]))
        })
    }
}
