//! The policy loss of a mini-batch of rollout trees: log-probs of every loss-row token from
//! packed forwards (one per tree) or per-leaf forwards (one per trajectory, the reference),
//! laid out as `[rows, width]` beside the rollout's old log-probs, entropies and advantages
//! (one per row, or one per token for REINFORCE++). [`row_logprobs`] returns the same gathered
//! log-probs on the host, for the frozen reference of REINFORCE++'s KL-in-reward.

use arpo_core::{NodeId, RolloutTree};
use arpo_model::CausalLm;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::advantage::{LossRow, RowSource, TokenRef};
use crate::loss::{host, policy_loss, LossStats, PolicyLossConfig, PolicyLossInput};
use crate::packed::{leaf_logprobs, packed_logprobs, PackedTree};
use crate::{Error, Result};

/// Maps a row's token to its index in the tree's concatenated log-prob vector.
type SlotFn<'a> = Box<dyn Fn(&LossRow, TokenRef) -> Result<usize> + 'a>;

/// How the log-probs of a batch are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// One forward per tree, shared prefixes once.
    Packed,
    /// One forward per trajectory (the reference).
    PerLeaf,
}

/// The loss rows of one tree.
#[derive(Debug, Clone)]
pub struct TreeRows<'a> {
    /// The tree.
    pub tree: &'a RolloutTree,
    /// Its rows (from [`crate::attribute`]).
    pub rows: Vec<LossRow>,
}

/// Work done by the forwards of one loss evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForwardStats {
    /// Tokens fed to the model (per leaf: all but the last token of each trajectory; packed:
    /// every token of the tree once).
    pub tokens: usize,
    /// Forward calls.
    pub forwards: usize,
}

/// Flattened rows: for row `r` and column `c`, `slot[r * width + c]` indexes the concatenated
/// per-tree log-prob vectors.
struct Layout {
    rows: usize,
    width: usize,
    slot: Vec<i64>,
    mask: Vec<f32>,
    old: Vec<f32>,
    adv: Vec<f32>,
    ent: Vec<f32>,
}

/// Per-token rollout data of a node, over its segments.
fn node_data(tree: &RolloutTree, node: NodeId) -> (Vec<f32>, Vec<f32>) {
    let segs = &tree.nodes[node].segments;
    (
        segs.iter()
            .flat_map(|s| s.logprobs.iter().copied())
            .collect(),
        segs.iter()
            .flat_map(|s| s.entropies.iter().copied())
            .collect(),
    )
}

/// Log-probs under `model` of every row token, in `[rows, width]`, and the rollout data beside.
fn gather<B: Backend>(
    model: &CausalLm<B>,
    batch: &[TreeRows],
    forward: Forward,
    temperature: f64,
    lay: &mut Option<Layout>,
) -> Result<(Tensor<B, 2>, ForwardStats)> {
    let width = batch
        .iter()
        .flat_map(|b| &b.rows)
        .map(|r| r.tokens.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let rows: usize = batch.iter().map(|b| b.rows.len()).sum();
    let mut l = Layout {
        rows,
        width,
        slot: vec![0; rows * width],
        mask: vec![0.0; rows * width],
        old: vec![0.0; rows * width],
        adv: vec![0.0; rows * width],
        ent: vec![0.0; rows * width],
    };
    let mut parts = Vec::new();
    let mut stats = ForwardStats::default();
    let (mut base, mut r) = (0usize, 0usize);
    for tr in batch {
        let tree = tr.tree;
        let data: Vec<_> = (0..tree.nodes.len()).map(|n| node_data(tree, n)).collect();
        let slot_of: SlotFn = match forward {
            Forward::Packed => {
                let packed = PackedTree::new(tree)?;
                let mut targets: Vec<usize> = tr
                    .rows
                    .iter()
                    .flat_map(|row| row.tokens.iter().map(|&t| packed.index(t)))
                    .collect();
                targets.sort_unstable();
                targets.dedup();
                parts.push(packed_logprobs(model, &packed, &targets, temperature)?);
                stats.tokens += packed.len();
                stats.forwards += 1;
                Box::new(move |_, t| {
                    targets
                        .binary_search(&packed.index(t))
                        .map_err(|_| Error::Usage("token missing from targets".into()))
                })
            }
            Forward::PerLeaf => {
                // Offset of each leaf's scores in this tree's part and where each node starts on it.
                let mut leaf_base = Vec::new();
                let mut acc = 0;
                for leaf in 0..tree.leaves.len() {
                    let lp = leaf_logprobs(model, tree, leaf, temperature)?;
                    leaf_base.push(acc);
                    acc += lp.dims()[0];
                    stats.tokens += lp.dims()[0];
                    stats.forwards += 1;
                    parts.push(lp);
                }
                let node_pos = |leaf: usize, node: NodeId| -> Option<usize> {
                    let path = tree.path(tree.leaves[leaf].node);
                    let i = path.iter().position(|&p| p == node)?;
                    Some(path[..i].iter().map(|&p| tree.nodes[p].num_tokens()).sum())
                };
                Box::new(move |row, t| {
                    let leaf = match row.source {
                        RowSource::Leaf(l) => l,
                        RowSource::Node(_) => (0..tree.leaves.len())
                            .find(|&l| node_pos(l, t.node).is_some())
                            .ok_or_else(|| {
                                Error::Usage(format!("node {} under no leaf", t.node))
                            })?,
                    };
                    let start = node_pos(leaf, t.node).ok_or_else(|| {
                        Error::Usage(format!("node {} not on leaf {leaf}", t.node))
                    })?;
                    // Scores start at the second token: token at sequence position p is score p − 1.
                    (start + t.offset)
                        .checked_sub(1)
                        .map(|p| leaf_base[leaf] + p)
                        .ok_or_else(|| Error::Usage("the first token cannot be trained".into()))
                })
            }
        };
        for row in &tr.rows {
            if let Some(a) = row
                .token_advantages
                .as_ref()
                .filter(|a| a.len() != row.tokens.len())
            {
                return Err(Error::Usage(format!(
                    "tree {}: row {:?} has {} token advantages for {} tokens",
                    tree.task_id,
                    row.source,
                    a.len(),
                    row.tokens.len()
                )));
            }
            for (c, &t) in row.tokens.iter().enumerate() {
                let k = r * width + c;
                l.slot[k] = (base + slot_of(row, t)?) as i64;
                l.mask[k] = 1.0;
                l.old[k] = data[t.node].0[t.offset];
                l.ent[k] = data[t.node].1[t.offset];
                l.adv[k] = row.advantage_at(c);
            }
            r += 1;
        }
        base = parts.iter().map(|p| p.dims()[0]).sum();
    }
    let device = model.device();
    let flat = Tensor::cat(parts, 0);
    let idx =
        Tensor::<B, 1, Int>::from_data(TensorData::new(l.slot.clone(), [rows * width]), &device);
    let out = flat.select(0, idx).reshape([rows, width]);
    *lay = Some(l);
    Ok((out, stats))
}

/// The policy loss of a mini-batch of trees: log-probs from `model` (packed or per leaf), old
/// log-probs, entropies and advantages from the trees, reference log-probs from `reference`
/// (detached) when KL is on.
pub fn tree_policy_loss<B: Backend>(
    model: &CausalLm<B>,
    reference: Option<&CausalLm<B>>,
    batch: &[TreeRows],
    forward: Forward,
    config: &PolicyLossConfig,
    temperature: f64,
) -> Result<(Tensor<B, 1>, LossStats, ForwardStats)> {
    if batch.iter().all(|b| b.rows.is_empty()) {
        return Err(Error::Usage("policy loss over a batch with no row".into()));
    }
    let mut layout = None;
    let (logprobs, stats) = gather(model, batch, forward, temperature, &mut layout)?;
    let ref_logprobs = match (config.kl, reference) {
        (Some(_), Some(m)) => Some(
            gather(m, batch, forward, temperature, &mut None)?
                .0
                .detach(),
        ),
        (Some(_), None) => {
            return Err(Error::Usage(
                "KL penalty configured but no reference model given".into(),
            ))
        }
        _ => None,
    };
    let l = layout.ok_or_else(|| Error::Usage("empty layout".into()))?;
    let device = model.device();
    let t = |v: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(v, [l.rows, l.width]), &device);
    let input = PolicyLossInput {
        logprobs,
        old_logprobs: t(l.old),
        advantages: t(l.adv),
        mask: t(l.mask),
        ref_logprobs,
        entropies: Some(t(l.ent)),
    };
    let (loss, loss_stats) = policy_loss(input, config)?;
    Ok((loss, loss_stats, stats))
}

/// Log-probs under `model` of every row token, one vector per row (rows of all trees in order),
/// copied to the host: the frozen reference's view of the rollout for the KL-in-reward of
/// REINFORCE++. Call it on an inference model (`valid()`) so that no graph is recorded.
pub fn row_logprobs<B: Backend>(
    model: &CausalLm<B>,
    batch: &[TreeRows],
    forward: Forward,
    temperature: f64,
) -> Result<Vec<Vec<f32>>> {
    let mut layout = None;
    let (logprobs, _) = gather(model, batch, forward, temperature, &mut layout)?;
    let width = layout
        .ok_or_else(|| Error::Usage("empty layout".into()))?
        .width;
    let flat = host(logprobs)?;
    Ok(batch
        .iter()
        .flat_map(|b| &b.rows)
        .enumerate()
        .map(|(r, row)| flat[r * width..r * width + row.tokens.len()].to_vec())
        .collect())
}
