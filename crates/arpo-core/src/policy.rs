//! The policy trait: next-token logits for a batch of sequences, each with its own forkable cache.

use burn::tensor::{backend::Backend, Tensor};

use crate::{Result, TokenId};

/// A language model seen from the rollout engine: it extends sequences by tokens and returns the
/// logits of the next token.
///
/// Each sequence owns a `Cache` (its attention history). Cloning a cache forks the sequence: the
/// clone shares the history with the original and costs O(1) in the history length, which is what
/// makes branching a rollout tree cheap.
pub trait Policy<B: Backend> {
    /// Per-sequence attention history; `clone` is a fork.
    type Cache: Clone;

    /// The device the policy computes on.
    fn device(&self) -> B::Device;

    /// Width of the logits (the embedding size, which may exceed the tokenizer's real tokens).
    fn vocab_size(&self) -> usize;

    /// An empty history.
    fn new_cache(&self) -> Self::Cache;

    /// Number of tokens already in a history.
    fn cache_len(&self, cache: &Self::Cache) -> usize;

    /// Appends `tokens[i]` (non-empty) to sequence `i`, updating `caches[i]`, and returns the
    /// logits that follow the last appended token of each sequence.
    ///
    /// # Shapes
    /// returns `[tokens.len(), vocab_size]`.
    fn extend(&self, tokens: &[Vec<TokenId>], caches: &mut [Self::Cache]) -> Result<Tensor<B, 2>>;
}
