//! Advantages of a step's kept groups as loss rows: GRPO group normalisation per tree, or
//! REINFORCE++ (docs/arpo.md §3; verl `compute_reinforce_plus_plus_outcome_advantage` with KL
//! in the reward): per-token reward `−kl_coef · (log π_old − log π_ref)` plus the leaf's score
//! on its last trained token, discounted returns with `gamma` along the leaf's trained tokens,
//! then whitening over every trained token of the batch (not per group).
//!
//! Tree rollouts under REINFORCE++ use one row per leaf (soft attribution): a shared prefix
//! token has a different return in every leaf below it (the returns run back from different
//! endings), so it cannot carry one node-level advantage; each leaf's copy counts once in the
//! whitening, as if the leaves were independent trajectories.

use arpo_core::RolloutTree;
use arpo_model::CausalLm;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use crate::advantage::{
    attribute, discounted_returns, leaf_advantages, outcome_token_rewards, reinforce_pp_advantages,
    Attribution, LossRow,
};
use crate::config::{Estimator, TrainConfig};
use crate::tree_loss::{row_logprobs, TreeRows};
use crate::{Error, Result};

/// One trajectory's trained tokens, as REINFORCE++ needs them.
#[derive(Debug, Clone, Copy)]
pub struct PpTrajectory<'a> {
    /// The outcome reward of the trajectory.
    pub reward: f32,
    /// Log-probs of the trained tokens under the sampling policy.
    pub old_logprobs: &'a [f32],
    /// Log-probs of the same tokens under the frozen reference.
    pub ref_logprobs: &'a [f32],
}

/// REINFORCE++ advantages of every trained token of a batch of trajectories (k1 KL in the
/// reward, discounted returns, batch whitening), one vector per trajectory.
pub fn reinforce_pp_token_advantages(
    trajectories: &[PpTrajectory],
    gamma: f32,
    kl_coef: f32,
) -> Result<Vec<Vec<f32>>> {
    let mut returns = Vec::with_capacity(trajectories.len());
    for (i, t) in trajectories.iter().enumerate() {
        if t.old_logprobs.len() != t.ref_logprobs.len() {
            return Err(Error::Usage(format!(
                "REINFORCE++ trajectory {i}: {} old log-probs, {} reference log-probs",
                t.old_logprobs.len(),
                t.ref_logprobs.len()
            )));
        }
        let kl: Vec<f32> = t
            .old_logprobs
            .iter()
            .zip(t.ref_logprobs)
            .map(|(&old, &reference)| old - reference)
            .collect();
        let rewards = outcome_token_rewards(t.reward, &kl, kl_coef);
        returns.push(discounted_returns(&rewards, gamma));
    }
    Ok(reinforce_pp_advantages(&returns))
}

/// Per-node sampling log-probs over the node's concatenated segments.
fn node_logprobs(tree: &RolloutTree) -> Vec<Vec<f32>> {
    tree.nodes
        .iter()
        .map(|n| {
            n.segments
                .iter()
                .flat_map(|s| s.logprobs.iter().copied())
                .collect()
        })
        .collect()
}

/// REINFORCE++ loss rows of a batch of scored trees: one row per leaf with per-token
/// advantages. `ref_logprobs[t][l]` holds the reference log-probs of leaf `l` of tree `t` on
/// its trained tokens, in sequence order (as [`row_logprobs`] returns them for soft rows).
pub fn reinforce_pp_rows(
    trees: &[&RolloutTree],
    ref_logprobs: &[Vec<Vec<f32>>],
    gamma: f32,
    kl_coef: f32,
) -> Result<Vec<Vec<LossRow>>> {
    if trees.len() != ref_logprobs.len() {
        return Err(Error::Usage(format!(
            "REINFORCE++: {} trees, reference log-probs for {}",
            trees.len(),
            ref_logprobs.len()
        )));
    }
    let mut rows = Vec::with_capacity(trees.len());
    let mut old: Vec<Vec<f32>> = Vec::new();
    for (tree, reference) in trees.iter().zip(ref_logprobs) {
        // Advantages are set below; the soft layout fixes which tokens each leaf trains.
        let soft = attribute(tree, &vec![0.0; tree.leaves.len()], Attribution::Soft)?;
        if reference.len() != soft.len() {
            return Err(Error::Usage(format!(
                "tree {}: reference log-probs for {} leaves, tree has {}",
                tree.task_id,
                reference.len(),
                soft.len()
            )));
        }
        let lp = node_logprobs(tree);
        for row in &soft {
            old.push(row.tokens.iter().map(|t| lp[t.node][t.offset]).collect());
        }
        rows.push(soft);
    }
    let mut trajectories = Vec::new();
    let mut k = 0;
    for ((tree, tree_rows), reference) in trees.iter().zip(&rows).zip(ref_logprobs) {
        // Soft rows come one per leaf, in leaf order.
        for (leaf, ref_lp) in (0..tree_rows.len()).zip(reference) {
            let reward = tree.leaves[leaf].reward.ok_or_else(|| {
                Error::Usage(format!("tree {}: leaf {leaf} has no reward", tree.task_id))
            })?;
            trajectories.push(PpTrajectory {
                reward,
                old_logprobs: &old[k],
                ref_logprobs: ref_lp,
            });
            k += 1;
        }
    }
    let mut adv = reinforce_pp_token_advantages(&trajectories, gamma, kl_coef)?.into_iter();
    for row in rows.iter_mut().flatten() {
        row.token_advantages = adv.next();
    }
    Ok(rows)
}

/// Loss rows of the kept trees under the configured estimator; trees without a trained token
/// are left out. `reference` is the frozen model of REINFORCE++'s KL (needed unless its
/// `kl_coef` is 0).
pub(super) fn loss_rows<'t, B: AutodiffBackend>(
    trees: &'t [RolloutTree],
    reference: Option<&CausalLm<B>>,
    train: &TrainConfig,
) -> Result<Vec<TreeRows<'t>>> {
    let per_tree: Vec<Vec<LossRow>> = match train.advantage.estimator {
        Estimator::Grpo { eps } => trees
            .iter()
            .map(|tree| {
                let adv = leaf_advantages(tree, eps)?;
                attribute(tree, &adv, train.advantage.attribution)
            })
            .collect::<Result<_>>()?,
        // Always per-leaf rows (check_settings refuses hard attribution here).
        Estimator::ReinforcePp { gamma, kl_coef } => {
            let refs = reference_logprobs(trees, reference, train, kl_coef)?;
            let tree_refs: Vec<&RolloutTree> = trees.iter().collect();
            reinforce_pp_rows(&tree_refs, &refs, gamma, kl_coef)?
        }
    };
    Ok(trees
        .iter()
        .zip(per_tree)
        .filter(|(_, rows)| rows.iter().any(|r| !r.tokens.is_empty()))
        .map(|(tree, rows)| TreeRows { tree, rows })
        .collect())
}

/// Reference log-probs of every leaf's trained tokens, per tree and leaf. With `kl_coef` 0 the
/// KL term vanishes, so the sampling log-probs stand in and no reference is needed.
fn reference_logprobs<B: AutodiffBackend>(
    trees: &[RolloutTree],
    reference: Option<&CausalLm<B>>,
    train: &TrainConfig,
    kl_coef: f32,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let reference = match reference {
        Some(r) => Some(r.valid()),
        None if kl_coef == 0.0 => None,
        None => {
            return Err(Error::Usage(format!(
                "advantage.estimator reinforce_pp with kl_coef = {kl_coef} needs a reference \
                 model (pass `reference` to run_rl / rl_step, or set kl_coef = 0)"
            )))
        }
    };
    trees
        .iter()
        .map(|tree| {
            let rows = attribute(tree, &vec![0.0; tree.leaves.len()], Attribution::Soft)?;
            match &reference {
                _ if rows.iter().all(|r| r.tokens.is_empty()) => Ok(vec![Vec::new(); rows.len()]),
                // One tree at a time bounds the forward's memory; no graph is recorded on the
                // inference copy.
                Some(model) => row_logprobs(
                    model,
                    &[TreeRows { tree, rows }],
                    train.ppo.forward.into(),
                    train.ppo.temperature,
                ),
                None => {
                    let lp = node_logprobs(tree);
                    Ok(rows
                        .iter()
                        .map(|r| r.tokens.iter().map(|t| lp[t.node][t.offset]).collect())
                        .collect())
                }
            }
        })
        .collect()
}
