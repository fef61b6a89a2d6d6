//! Tree-packed training: a whole rollout tree as one sequence, every node's tokens once, each
//! token attending to its ancestors only and positioned at its depth, so that a shared prefix is
//! forwarded once per update instead of once per leaf. The per-leaf path (each trajectory
//! forwarded on its own) is kept as the slow reference that tests compare with.

use arpo_core::{NodeId, RolloutTree, TokenId};
use arpo_model::{attention_mask, CausalLm};
use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::advantage::TokenRef;
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
    let (picked, target_ids) = packed_predictors(model, packed, targets)?;
    score(model, picked, target_ids, temperature)
}

/// [`packed_logprobs`] and the full-vocabulary entropy of `softmax(logits / T)` at each target
/// (the rollout's definition of a token's sampling entropy), copied to the host.
pub fn packed_logprobs_entropies<B: Backend>(
    model: &CausalLm<B>,
    packed: &PackedTree,
    targets: &[usize],
    temperature: f64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (picked, target_ids) = packed_predictors(model, packed, targets)?;
    let [k, _] = picked.dims();
    let logp = log_softmax(logits(model, picked, temperature), 1);
    let device = logp.device();
    let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(target_ids, [k, 1]), &device);
    let chosen = logp.clone().gather(1, idx).reshape([k]);
    let entropy = logp.clone().exp().mul(logp).sum_dim(1).neg().reshape([k]);
    Ok((crate::loss::host(chosen)?, crate::loss::host(entropy)?))
}

/// One forward of the packed tree: the hidden states that predict the tokens at `targets`
/// (`[targets.len(), d]`) and those tokens' ids.
fn packed_predictors<B: Backend>(
    model: &CausalLm<B>,
    packed: &PackedTree,
    targets: &[usize],
) -> Result<(Tensor<B, 2>, Vec<i64>)> {
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
    Ok((picked, target_ids))
}

/// `head(h) / T` for each row of `hidden: [k, d]`: `[k, vocab]`.
fn logits<B: Backend>(model: &CausalLm<B>, hidden: Tensor<B, 2>, temperature: f64) -> Tensor<B, 2> {
    let [k, d] = hidden.dims();
    model
        .head(hidden.reshape([1, k, d]))
        .reshape([k, model.vocab_size()])
        .div_scalar(temperature)
}

/// `log softmax(head(h) / T)[target]` for each row of `hidden: [k, d]`.
pub(crate) fn score<B: Backend>(
    model: &CausalLm<B>,
    hidden: Tensor<B, 2>,
    targets: Vec<i64>,
    temperature: f64,
) -> Result<Tensor<B, 1>> {
    let k = hidden.dims()[0];
    let logits = logits(model, hidden, temperature);
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
