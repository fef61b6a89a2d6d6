//! Advantages: GRPO group normalisation, REINFORCE++ batch whitening, and the two ways of
//! attributing leaf advantages to the tokens of a rollout tree (docs/arpo.md §3).
//!
//! Departures from verl: a group of one gets advantage 0 (verl divides by a std of 1 and keeps
//! the raw score), as docs/arpo.md §3 asks; a group whose rewards are all equal gets exactly 0
//! even when the float mean is off by rounding.

use arpo_core::{NodeId, RolloutTree};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Added to the group std before dividing (the reference value).
pub const GROUP_EPS: f64 = 1e-6;
/// Added to the batch variance before the square root (verl `masked_whiten`).
pub const WHITEN_EPS: f64 = 1e-8;

/// Mean and unbiased std of one group of rewards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupStats {
    /// Mean reward.
    pub mean: f64,
    /// Unbiased standard deviation (0 for a group of one).
    pub std: f64,
}

/// `Â_i = (R_i − mean(R)) / (std(R) + eps)` with the unbiased std; a group of one and a group of
/// equal rewards give zeros.
pub fn group_advantages(rewards: &[f32], eps: f64) -> (Vec<f32>, GroupStats) {
    let n = rewards.len();
    if n == 0 {
        return (
            Vec::new(),
            GroupStats {
                mean: 0.0,
                std: 0.0,
            },
        );
    }
    let mean = rewards.iter().map(|&r| f64::from(r)).sum::<f64>() / n as f64;
    if n == 1 || rewards.iter().all(|&r| r == rewards[0]) {
        return (vec![0.0; n], GroupStats { mean, std: 0.0 });
    }
    let var = rewards
        .iter()
        .map(|&r| (f64::from(r) - mean).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    let std = var.sqrt();
    let adv = rewards
        .iter()
        .map(|&r| ((f64::from(r) - mean) / (std + eps)) as f32)
        .collect();
    (adv, GroupStats { mean, std })
}

/// Per-token rewards of one trajectory for REINFORCE++ with "KL in the reward": `−coef · kl_t` on
/// every token, plus the outcome `reward` on the last one.
pub fn outcome_token_rewards(reward: f32, kl: &[f32], coef: f32) -> Vec<f32> {
    let mut r: Vec<f32> = kl.iter().map(|&k| -coef * k).collect();
    if let Some(last) = r.last_mut() {
        *last += reward;
    }
    r
}

/// Discounted returns `G_t = r_t + γ G_{t+1}` of one trajectory.
pub fn discounted_returns(token_rewards: &[f32], gamma: f32) -> Vec<f32> {
    let mut out = vec![0.0; token_rewards.len()];
    let mut running = 0.0f32;
    for (t, &r) in token_rewards.iter().enumerate().rev() {
        running = r + gamma * running;
        out[t] = running;
    }
    out
}

/// REINFORCE++ advantages: the returns of every token of the batch whitened together (verl
/// `masked_whiten`: mean, unbiased variance, `(x − mean) / sqrt(var + 1e-8)`).
pub fn reinforce_pp_advantages(token_returns: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n: usize = token_returns.iter().map(Vec::len).sum();
    if n < 2 {
        return token_returns.iter().map(|r| vec![0.0; r.len()]).collect();
    }
    let all = token_returns.iter().flatten().map(|&x| f64::from(x));
    let mean = all.clone().sum::<f64>() / n as f64;
    let var = all.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let scale = 1.0 / (var + WHITEN_EPS).sqrt();
    token_returns
        .iter()
        .map(|r| {
            r.iter()
                .map(|&x| ((f64::from(x) - mean) * scale) as f32)
                .collect()
        })
        .collect()
}

/// How leaf advantages reach the tokens of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Every leaf is its own GRPO sample: a shared token appears once per leaf below it, each
    /// time with that leaf's advantage (the paper's default).
    #[default]
    Soft,
    /// Every token appears once, with the mean advantage of the leaves below its node.
    Hard,
}

/// A token of the tree: the node and the offset among the node's tokens (over its segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenRef {
    /// The node.
    pub node: NodeId,
    /// Offset within the node's concatenated segment tokens.
    pub offset: usize,
}

/// Where a loss row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSource {
    /// A trajectory (soft attribution).
    Leaf(usize),
    /// A tree node (hard attribution).
    Node(NodeId),
}

/// One sample of the policy loss: trained tokens sharing one advantage.
#[derive(Debug, Clone, PartialEq)]
pub struct LossRow {
    /// The trajectory or node the row stands for.
    pub source: RowSource,
    /// The advantage of every token in the row (unless `token_advantages` is set).
    pub advantage: f32,
    /// The trained tokens (loss mask on), in sequence order.
    pub tokens: Vec<TokenRef>,
    /// Per-token advantages, one per entry of `tokens`, for estimators whose advantage varies
    /// along a trajectory (REINFORCE++); `None`: `advantage` for every token.
    pub token_advantages: Option<Vec<f32>>,
}

impl LossRow {
    /// The advantage of the row's `index`-th token.
    ///
    /// # Panics
    /// When `token_advantages` is set and shorter than `index + 1` (the loss checks the
    /// lengths before reading).
    pub fn advantage_at(&self, index: usize) -> f32 {
        self.token_advantages
            .as_ref()
            .map_or(self.advantage, |a| a[index])
    }
}

/// Offsets of a node's trained tokens (loss mask on).
pub fn trained_offsets(tree: &RolloutTree, node: NodeId) -> Vec<usize> {
    tree.nodes[node]
        .segments
        .iter()
        .flat_map(|s| s.loss_mask.iter())
        .enumerate()
        .filter(|(_, &m)| m)
        .map(|(i, _)| i)
        .collect()
}

/// Group-normalised advantage of every leaf of a tree (the tree is one group).
pub fn leaf_advantages(tree: &RolloutTree, eps: f64) -> Result<Vec<f32>> {
    let rewards = tree
        .leaves
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.reward.ok_or_else(|| {
                Error::Usage(format!("tree {}: leaf {i} has no reward", tree.task_id))
            })
        })
        .collect::<Result<Vec<f32>>>()?;
    Ok(group_advantages(&rewards, eps).0)
}

/// Turns leaf advantages into loss rows: one per leaf (soft) or one per node with trained
/// tokens (hard, the node's advantage is the mean over the leaves below it).
pub fn attribute(
    tree: &RolloutTree,
    leaf_adv: &[f32],
    attribution: Attribution,
) -> Result<Vec<LossRow>> {
    if leaf_adv.len() != tree.leaves.len() {
        return Err(Error::Usage(format!(
            "tree {}: {} advantages for {} leaves",
            tree.task_id,
            leaf_adv.len(),
            tree.leaves.len()
        )));
    }
    tree.validate()
        .map_err(|e| Error::Usage(format!("tree {}: {e}", tree.task_id)))?;
    let node_tokens = |n: NodeId| {
        trained_offsets(tree, n)
            .into_iter()
            .map(move |offset| TokenRef { node: n, offset })
    };
    Ok(match attribution {
        Attribution::Soft => (0..tree.leaves.len())
            .map(|l| LossRow {
                source: RowSource::Leaf(l),
                advantage: leaf_adv[l],
                tokens: tree
                    .path(tree.leaves[l].node)
                    .into_iter()
                    .flat_map(node_tokens)
                    .collect(),
                token_advantages: None,
            })
            .collect(),
        Attribution::Hard => {
            let (sums, counts) = subtree_sums(tree, leaf_adv);
            (0..tree.nodes.len())
                .filter(|&n| counts[n] > 0)
                .map(|n| LossRow {
                    source: RowSource::Node(n),
                    advantage: (sums[n] / counts[n] as f64) as f32,
                    tokens: node_tokens(n).collect(),
                    token_advantages: None,
                })
                .filter(|r| !r.tokens.is_empty())
                .collect()
        }
    })
}

/// Sum of leaf advantages and number of leaves below every node, accumulated bottom-up (a
/// node's id is larger than its parent's, so one reverse sweep suffices).
fn subtree_sums(tree: &RolloutTree, leaf_adv: &[f32]) -> (Vec<f64>, Vec<usize>) {
    let mut sums = vec![0.0f64; tree.nodes.len()];
    let mut counts = vec![0usize; tree.nodes.len()];
    for (leaf, &a) in tree.leaves.iter().zip(leaf_adv) {
        sums[leaf.node] += f64::from(a);
        counts[leaf.node] += 1;
    }
    for id in (1..tree.nodes.len()).rev() {
        if let Some(p) = tree.nodes[id].parent {
            sums[p] += sums[id];
            counts[p] += counts[id];
        }
    }
    (sums, counts)
}

/// Total advantage weight each token receives from `rows` (the coefficient of its log-prob
/// gradient before aggregation), indexed `[node][offset]`; untrained tokens get 0.
pub fn token_weights(tree: &RolloutTree, rows: &[LossRow]) -> Vec<Vec<f64>> {
    let mut w: Vec<Vec<f64>> = tree
        .nodes
        .iter()
        .map(|n| vec![0.0; n.num_tokens()])
        .collect();
    for row in rows {
        for (i, t) in row.tokens.iter().enumerate() {
            w[t.node][t.offset] += f64::from(row.advantage_at(i));
        }
    }
    w
}

/// DAPO's soft overlong punishment: 0 up to `max_len − buffer` tokens, then falling linearly to
/// `−factor` at `max_len`, and `−factor` beyond.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverlongPenalty {
    /// Response length at which the full penalty applies.
    pub max_len: usize,
    /// Length of the linear zone before `max_len`.
    pub buffer: usize,
    /// Largest penalty (1.0 in DAPO).
    pub factor: f32,
}

impl OverlongPenalty {
    /// The (non-positive) reward added to a response of `len` tokens.
    pub fn penalty(&self, len: usize) -> f32 {
        let start = self.max_len.saturating_sub(self.buffer);
        if len <= start {
            0.0
        } else if len <= self.max_len && self.buffer > 0 {
            (start as f32 - len as f32) / self.buffer as f32 * self.factor
        } else {
            -self.factor
        }
    }
}

/// DAPO dynamic sampling: a group is kept only when its rewards are not all equal (an
/// all-equal group has zero advantage everywhere and only dilutes the batch).
pub fn keeps_group(rewards: &[f32]) -> bool {
    rewards.windows(2).any(|w| w[0] != w[1])
}
