//! Summary figures of one rollout tree (leaves, branching, token sharing, tool calls, reward).
//!
//! The renderers may be handed a tree read back from JSON, so nothing here panics on a
//! malformed tree: paths stop at missing or repeated nodes instead of indexing out of bounds.

use arpo_core::{NodeId, Origin, RolloutTree, Segment};

/// Headline numbers of a rollout tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSummary {
    /// Complete trajectories.
    pub leaves: usize,
    /// Nodes, root included.
    pub nodes: usize,
    /// Branch decisions taken (whether they branched or not).
    pub decisions: usize,
    /// Branch decisions that branched.
    pub branches: usize,
    /// Tokens stored in the tree, shared prefixes once (what the tree rollout forwarded).
    pub unique_tokens: usize,
    /// Tokens over all trajectories, shared prefixes once per leaf (independent sampling).
    pub trajectory_tokens: usize,
    /// Model-sampled tokens stored in the tree.
    pub model_tokens: usize,
    /// Tool calls executed (each tool segment once, even when shared by several leaves).
    pub tool_calls: usize,
    /// Executed tool calls that failed (timeout, limit, error, refusal).
    pub failed_tool_calls: usize,
    /// Tool calls summed over leaves (`Leaf::tool_calls`).
    pub trajectory_tool_calls: usize,
    /// Leaves with a reward.
    pub scored_leaves: usize,
    /// Mean reward over the scored leaves (`None` when none is scored).
    pub mean_reward: Option<f64>,
    /// Mean entropy (nats) over model tokens (`None` when there is none).
    pub mean_model_entropy: Option<f64>,
}

impl TreeSummary {
    /// Computes the summary of `tree`.
    pub fn of(tree: &RolloutTree) -> Self {
        let segments = || tree.nodes.iter().flat_map(|n| n.segments.iter());
        let model = || segments().filter(|s| s.origin == Origin::Model);
        let calls = || segments().filter_map(|s| s.tool_call.as_ref());
        let decisions = || tree.nodes.iter().flat_map(|n| n.decisions.iter());
        let rewards: Vec<f64> = tree
            .leaves
            .iter()
            .filter_map(|l| l.reward)
            .map(f64::from)
            .collect();
        let entropy_sum: f64 = model()
            .flat_map(|s| s.entropies.iter())
            .map(|&h| f64::from(h))
            .sum();
        let model_tokens: usize = model().map(Segment::len).sum();
        let trajectory_tokens = tree
            .leaves
            .iter()
            .flat_map(|l| safe_path(tree, l.node))
            .map(|n| tree.nodes[n].num_tokens())
            .sum();
        Self {
            leaves: tree.leaves.len(),
            nodes: tree.nodes.len(),
            decisions: decisions().count(),
            branches: decisions().filter(|d| d.branched).count(),
            unique_tokens: segments().map(Segment::len).sum(),
            trajectory_tokens,
            model_tokens,
            tool_calls: calls().count(),
            failed_tool_calls: calls().filter(|c| !c.ok).count(),
            trajectory_tool_calls: tree.leaves.iter().map(|l| l.tool_calls).sum(),
            scored_leaves: rewards.len(),
            mean_reward: mean(rewards.iter().sum(), rewards.len()),
            mean_model_entropy: mean(entropy_sum, model_tokens),
        }
    }

    /// `unique_tokens / trajectory_tokens`: 1 without sharing, lower the more prefixes the
    /// leaves share (`None` for an empty tree).
    pub fn sharing_ratio(&self) -> Option<f64> {
        mean(self.unique_tokens as f64, self.trajectory_tokens)
    }
}

/// `sum / n`, or `None` when `n` is 0.
pub(crate) fn mean(sum: f64, n: usize) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// Node ids from the root to `node`, root first, like [`RolloutTree::path`] but stopping at a
/// missing node or a repeated one (a cycle in a malformed tree) instead of panicking or looping.
pub(crate) fn safe_path(tree: &RolloutTree, node: NodeId) -> Vec<NodeId> {
    let mut path = Vec::new();
    let mut cur = Some(node);
    while let Some(id) = cur {
        if id >= tree.nodes.len() || path.contains(&id) {
            break;
        }
        path.push(id);
        cur = tree.nodes[id].parent;
    }
    path.reverse();
    path
}

/// For every node, how many leaves lie below it (safe version of
/// [`RolloutTree::descendant_leaves`]).
pub(crate) fn leaves_below(tree: &RolloutTree) -> Vec<usize> {
    let mut counts = vec![0usize; tree.nodes.len()];
    for leaf in &tree.leaves {
        for n in safe_path(tree, leaf.node) {
            counts[n] += 1;
        }
    }
    counts
}

/// Token counts of a node by origin, as `"prompt 12"`, `"model 40"`, `"tool 9"` (zero counts
/// left out); shared by the HTML and text renderers.
pub(crate) fn origin_breakdown(node: &arpo_core::TreeNode) -> Vec<String> {
    use arpo_core::{Origin, Segment};
    [
        (Origin::Prompt, "prompt"),
        (Origin::Model, "model"),
        (Origin::Tool, "tool"),
    ]
    .into_iter()
    .filter_map(|(o, name)| {
        let n: usize = node
            .segments
            .iter()
            .filter(|s| s.origin == o)
            .map(Segment::len)
            .sum();
        (n > 0).then(|| format!("{name} {n}"))
    })
    .collect()
}
