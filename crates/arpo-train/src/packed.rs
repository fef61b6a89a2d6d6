//! Tree-packed training: a whole rollout tree as one sequence, every node's tokens once, each
//! token attending to its ancestors only and positioned at its depth, so that a shared prefix is
//! forwarded once per update instead of once per leaf. The per-leaf path (each trajectory
//! forwarded on its own) is kept as the slow reference that tests compare with.

use arpo_core::{NodeId, RolloutTree, TokenId};
use arpo_model::{attention_mask, CausalLm};
use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::advantage::{LossRow, RowSource, TokenRef};
use crate::loss::{policy_loss, LossStats, PolicyLossConfig, PolicyLossInput};
use crate::{Error, Result};

/// A rollout tree laid out as one sequence: nodes in id order (a parent before its children).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedTree {
    /// Token ids, node after node.
    pub tokens: Vec<TokenId>,
    /// Position of each token: its index on the root → token path.
    pub positions: Vec<usize>,
    /// Node of each token.
    pub node_of: Vec<NodeId>,
    /// Packed index of each node's first token.
    pub node_start: Vec<usize>,
    /// Packed index of the token whose logits predict each token (`None` for the first token).
    pub predecessor: Vec<Option<usize>>,
    /// `ancestor[a][b]`: node `b` is `a` or an ancestor of `a`.
    ancestor: Vec<Vec<bool>>,
}

impl PackedTree {
    /// Packs `tree` (validated first).
    pub fn new(tree: &RolloutTree) -> Result<Self> {
        tree.validate()
            .map_err(|e| Error::Usage(format!("tree {}: {e}", tree.task_id)))?;
        let n = tree.nodes.len();
        let mut p = Self {
            tokens: Vec::new(),
            positions: Vec::new(),
            node_of: Vec::new(),
            node_start: vec![0; n],
            predecessor: Vec::new(),
            ancestor: vec![vec![false; n]; n],
        };
        // Depth of the next token after each node, and the packed index of the last token on the
        // path to the end of each node (an empty node inherits its parent's).
        let mut depth_after = vec![0usize; n];
        let mut last = vec![None::<usize>; n];
        for id in 0..n {
            let parent = tree.nodes[id].parent;
            if let Some(par) = parent {
                let row = p.ancestor[par].clone();
                p.ancestor[id] = row;
            }
            p.ancestor[id][id] = true;
            let mut depth = parent.map_or(0, |q| depth_after[q]);
            let mut prev = parent.and_then(|q| last[q]);
            p.node_start[id] = p.tokens.len();
            for &tok in tree.nodes[id].segments.iter().flat_map(|s| &s.tokens) {
                p.predecessor.push(prev);
                prev = Some(p.tokens.len());
                p.tokens.push(tok);
                p.positions.push(depth);
                p.node_of.push(id);
                depth += 1;
            }
            depth_after[id] = depth;
            last[id] = prev;
        }
        Ok(p)
    }

    /// Number of packed tokens (= [`RolloutTree::unique_tokens`]).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the tree holds no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Packed index of a token.
    pub fn index(&self, t: TokenRef) -> usize {
        self.node_start[t.node] + t.offset
    }

    /// Who may attend to whom: earlier tokens of the same node and every token of an ancestor.
    pub fn allowed(&self) -> Vec<Vec<bool>> {
        (0..self.len())
            .map(|i| {
                (0..self.len())
                    .map(|j| {
                        let (a, b) = (self.node_of[i], self.node_of[j]);
                        if a == b {
                            j <= i
                        } else {
                            self.ancestor[a][b]
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// Log-probs of the tokens at packed indices `targets`, from one forward of the packed tree.
///
/// # Shapes
/// returns `[targets.len()]`
pub fn packed_logprobs<B: Backend>(
    model: &CausalLm<B>,
    packed: &PackedTree,
    targets: &[usize],
    temperature: f64,
) -> Result<Tensor<B, 1>> {
    let device = model.device();
    let n = packed.len();
    let preds = targets
        .iter()
        .map(|&t| {
            packed
                .predecessor
                .get(t)
                .copied()
                .flatten()
                .map(|p| p as i64)
                .ok_or_else(|| {
                    Error::Usage(format!("packed token {t} has no predecessor to score it"))
                })
        })
        .collect::<Result<Vec<i64>>>()?;
    let ids: Vec<i64> = packed.tokens.iter().map(|&t| i64::from(t)).collect();
    let pos: Vec<i64> = packed.positions.iter().map(|&p| p as i64).collect();
    let tokens = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, n]), &device);
    let positions = Tensor::<B, 2, Int>::from_data(TensorData::new(pos, [1, n]), &device);
    let hidden = model.forward_hidden_masked(
        tokens,
        positions,
        attention_mask::<B>(&packed.allowed(), &device),
    )?;
    let d = hidden.dims()[2];
    let k = targets.len();
    let picked = hidden
        .reshape([n, d])
        .select(0, Tensor::from_data(TensorData::new(preds, [k]), &device));
    let target_ids: Vec<i64> = targets
        .iter()
        .map(|&t| i64::from(packed.tokens[t]))
        .collect();
    score(model, picked, target_ids, temperature)
}

/// `log softmax(head(h) / T)[target]` for each row of `hidden: [k, d]`.
fn score<B: Backend>(
    model: &CausalLm<B>,
    hidden: Tensor<B, 2>,
    targets: Vec<i64>,
    temperature: f64,
) -> Result<Tensor<B, 1>> {
    let [k, d] = hidden.dims();
    let logits = model
        .head(hidden.reshape([1, k, d]))
        .reshape([k, model.vocab_size()])
        .div_scalar(temperature);
    let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(targets, [k, 1]), &logits.device());
    Ok(log_softmax(logits, 1).gather(1, idx).reshape([k]))
}

/// Log-probs of tokens `1..` of one trajectory, forwarded on its own (causal attention).
///
/// # Shapes
/// returns `[leaf_tokens(leaf).len() - 1]`
pub fn leaf_logprobs<B: Backend>(
    model: &CausalLm<B>,
    tree: &RolloutTree,
    leaf: usize,
    temperature: f64,
) -> Result<Tensor<B, 1>> {
    let toks = tree.leaf_tokens(leaf);
    let n = toks.len();
    if n < 2 {
        return Err(Error::Usage(format!(
            "tree {}: leaf {leaf} has {n} tokens, nothing to score",
            tree.task_id
        )));
    }
    let device = model.device();
    let ids: Vec<i64> = toks.iter().map(|&t| i64::from(t)).collect();
    let input =
        Tensor::<B, 2, Int>::from_data(TensorData::new(ids[..n - 1].to_vec(), [1, n - 1]), &device);
    let hidden = model.forward_hidden(input)?;
    let d = hidden.dims()[2];
    score(
        model,
        hidden.reshape([n - 1, d]),
        ids[1..].to_vec(),
        temperature,
    )
}

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
        let slot_of: Box<dyn Fn(&LossRow, TokenRef) -> Result<usize>> = match forward {
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
            for (c, &t) in row.tokens.iter().enumerate() {
                let k = r * width + c;
                l.slot[k] = (base + slot_of(row, t)?) as i64;
                l.mask[k] = 1.0;
                l.old[k] = data[t.node].0[t.offset];
                l.ent[k] = data[t.node].1[t.offset];
                l.adv[k] = row.advantage;
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
