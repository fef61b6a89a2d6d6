//! Old log-probs recomputed by the trainer (`ppo.recompute_old_logprobs`, as verl's actor
//! does before every update) instead of taken from the rollout.
//!
//! The rollout's log-probs come from batched decoding, and which paths share a forward depends
//! on when each tool call returned: a padded row sums its attention over a different length, a
//! different batch height can take a different matmul kernel, and the last bits of a log-prob
//! change. The tokens drawn are the same (each path samples from its own seeded stream), but the
//! PPO ratio, and from there every weight, would then depend on machine load. Recomputing them
//! one tree at a time, in the trainer's packed layout, makes the update a function of the
//! sampled tokens alone.

use arpo_core::RolloutTree;
use arpo_model::CausalLm;
use burn::tensor::backend::Backend;

use crate::advantage::{attribute, Attribution};
use crate::config::TrainConfig;
use crate::tree_loss::{row_logprobs, TreeRows};
use crate::Result;

/// Overwrites the sampling log-probs of every trained token of `trees` with `policy`'s, at
/// `ppo.temperature`. Prompt and tool tokens (never trained) keep theirs. Call it with the
/// inference copy of the policy that sampled the trees, before any update.
pub(super) fn recompute_old_logprobs<B: Backend>(
    policy: &CausalLm<B>,
    trees: &mut [RolloutTree],
    train: &TrainConfig,
) -> Result<()> {
    for tree in trees.iter_mut() {
        let updates: Vec<(usize, usize, f32)> = {
            // Soft rows: one per leaf, covering every trained token of the tree.
            let rows = attribute(tree, &vec![0.0; tree.leaves.len()], Attribution::Soft)?;
            if rows.iter().all(|r| r.tokens.is_empty()) {
                continue;
            }
            let batch = [TreeRows { tree, rows }];
            let logprobs = row_logprobs(
                policy,
                &batch,
                train.ppo.forward.into(),
                train.ppo.temperature,
            )?;
            batch[0]
                .rows
                .iter()
                .zip(&logprobs)
                .flat_map(|(row, lp)| {
                    row.tokens
                        .iter()
                        .zip(lp)
                        .map(|(t, &v)| (t.node, t.offset, v))
                })
                .collect()
        };
        for (node, offset, value) in updates {
            set_logprob(tree, node, offset, value);
        }
    }
    Ok(())
}

/// Sets the log-prob of the token at `offset` of `node` (offsets count over the node's
/// concatenated segments).
fn set_logprob(tree: &mut RolloutTree, node: usize, offset: usize, value: f32) {
    let mut rest = offset;
    for segment in &mut tree.nodes[node].segments {
        if rest < segment.logprobs.len() {
            segment.logprobs[rest] = value;
            return;
        }
        rest -= segment.logprobs.len();
    }
}
