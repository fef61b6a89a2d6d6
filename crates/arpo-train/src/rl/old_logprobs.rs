//! Old log-probs (and sampling entropies) recomputed by the trainer
//! (`ppo.recompute_old_logprobs`, as verl's actor does before every update) instead of taken
//! from the rollout.
//!
//! The rollout's log-probs come from batched decoding, and which paths share a forward depends
//! on when each tool call returned: a padded row sums its attention over a different length, a
//! different batch height can take a different matmul kernel, and the last bits of a log-prob
//! change. The tokens drawn are the same (each path samples from its own seeded stream), but the
//! PPO ratio, and from there every weight, would then depend on machine load. Recomputing them
//! one tree at a time, in the packed layout (whatever `ppo.forward` is), makes the update a
//! function of the sampled tokens alone. The entropies (AEPO's weights, the logged entropy mean)
//! are recomputed from the same forward for the same reason.

use arpo_core::RolloutTree;
use arpo_model::CausalLm;
use burn::tensor::backend::Backend;

use crate::advantage::{attribute, Attribution, TokenRef};
use crate::config::TrainConfig;
use crate::packed::{packed_logprobs_entropies, PackedTree};
use crate::Result;

/// Overwrites the sampling log-probs and entropies of every trained token of `trees` with
/// `policy`'s, at `ppo.temperature`, from one packed forward per tree. Prompt and tool tokens
/// (never trained) keep theirs. Call it with the inference copy of the policy that sampled the
/// trees, before any update.
pub fn recompute_old_logprobs<B: Backend>(
    policy: &CausalLm<B>,
    trees: &mut [RolloutTree],
    train: &TrainConfig,
) -> Result<()> {
    for tree in trees.iter_mut() {
        // Soft rows: one per leaf, covering every trained token of the tree.
        let rows = attribute(tree, &vec![0.0; tree.leaves.len()], Attribution::Soft)?;
        let mut trained: Vec<TokenRef> =
            rows.iter().flat_map(|r| r.tokens.iter().copied()).collect();
        if trained.is_empty() {
            continue;
        }
        let packed = PackedTree::new(tree)?;
        trained.sort_unstable_by_key(|&t| packed.index(t));
        trained.dedup();
        let targets: Vec<usize> = trained.iter().map(|&t| packed.index(t)).collect();
        let (logprobs, entropies) =
            packed_logprobs_entropies(policy, &packed, &targets, train.ppo.temperature)?;
        for ((t, lp), h) in trained.into_iter().zip(logprobs).zip(entropies) {
            set_token_data(tree, t, lp, h);
        }
    }
    Ok(())
}

/// Sets the log-prob and entropy of token `t` (its offset counts over the node's concatenated
/// segments).
fn set_token_data(tree: &mut RolloutTree, t: TokenRef, logprob: f32, entropy: f32) {
    let mut rest = t.offset;
    for segment in &mut tree.nodes[t.node].segments {
        if rest < segment.logprobs.len() {
            segment.logprobs[rest] = logprob;
            segment.entropies[rest] = entropy;
            return;
        }
        rest -= segment.logprobs.len();
    }
}
