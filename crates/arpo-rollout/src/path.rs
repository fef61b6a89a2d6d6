//! One live trajectory of the rollout, and the tree surgery a branch needs.

use rand_chacha::ChaCha8Rng;

use arpo_core::{NodeId, RolloutTree, TokenId};
use arpo_tools::TrajectoryToolState;

/// What a path needs before it can produce its next token.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Tokens to feed (the last sampled token, a prompt or a tool result).
    Input(Vec<TokenId>),
    /// Logits already computed (a fresh copy samples from its parent's snapshot).
    Logits(Vec<f32>),
    /// A tool call is running.
    Tool,
}

/// A fork point: everything a copy needs to start where its parent stood right after a tool
/// result.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot<C> {
    pub cache: C,
    pub logits: Vec<f32>,
    pub node: NodeId,
    /// Segments of `node` before the fork point.
    pub segment: usize,
    pub history_len: usize,
    pub response_tokens: usize,
    pub tool_calls: usize,
    pub tool_state: TrajectoryToolState,
}

/// Entropies of the tokens after the latest tool result, and where that result ended.
#[derive(Debug)]
pub(crate) struct PostTool<C> {
    pub entropies: Vec<f32>,
    pub snapshot: Snapshot<C>,
}

/// A live trajectory.
#[derive(Debug)]
pub(crate) struct Path<C> {
    pub prompt: usize,
    /// Creation order within its prompt: part of every ordering key, so nothing depends on timing.
    pub local: usize,
    pub seed: u64,
    pub node: NodeId,
    pub cache: C,
    pub pending: Pending,
    pub rng: ChaCha8Rng,
    pub decision_rng: ChaCha8Rng,
    /// Prompt and response tokens (for the repetition penalty).
    pub history: Vec<TokenId>,
    pub response_tokens: usize,
    pub tool_calls: usize,
    pub tool_state: TrajectoryToolState,
    /// Entropies of the first tokens until the window is full.
    pub initial_window: Vec<f32>,
    pub initial_entropy: Option<f64>,
    pub post_tool: Option<PostTool<C>>,
    /// Branch decisions made so far (= the round of the next one).
    pub decisions: usize,
    /// Consecutive branching decisions (AEPO penalty).
    pub consecutive: usize,
    /// Whether the node's last segment is a model segment still being written.
    pub open_segment: bool,
    /// Whether this is the AEPO pre-check probe of its prompt.
    pub probe: bool,
}

/// Tokens in `node` before segment `segment`: the offset of a fork point within its node.
pub(crate) fn tokens_before(tree: &RolloutTree, node: NodeId, segment: usize) -> usize {
    tree.nodes[node].segments[..segment]
        .iter()
        .map(|s| s.len())
        .sum()
}

/// Splits `node` before segment `segment`: the segments from there on (and the decisions and
/// leaves after the fork point) move into a new child, which is returned. The node then ends at
/// the fork point, where the copies will hang.
pub(crate) fn split_node(tree: &mut RolloutTree, node: NodeId, segment: usize) -> NodeId {
    let cut = tokens_before(tree, node, segment);
    let child = tree.add_child(node);
    let moved: Vec<_> = tree.nodes[node].segments.drain(segment..).collect();
    // Children other than the new one (earlier splits cannot exist past the fork point: a node
    // has one writer, and its forks are granted in order).
    let (kept, moved_decisions): (Vec<_>, Vec<_>) = tree.nodes[node]
        .decisions
        .drain(..)
        .partition(|d| d.at_token <= cut);
    tree.nodes[node].decisions = kept;
    tree.nodes[child].segments = moved;
    tree.nodes[child].decisions = moved_decisions
        .into_iter()
        .map(|mut d| {
            d.at_token -= cut;
            d
        })
        .collect();
    for leaf in tree.leaves.iter_mut().filter(|l| l.node == node) {
        leaf.node = child;
    }
    child
}

#[cfg(test)]
mod tests {
    use super::*;
    use arpo_core::{BranchDecision, FinishReason, Leaf, Origin, Segment};

    #[test]
    fn split_moves_the_tail_decisions_and_leaf() {
        let mut t = RolloutTree::new(
            "t",
            0,
            Segment::forced(Origin::Prompt, vec![1], String::new()),
        );
        let n = t.add_child(0);
        for toks in [vec![2, 3], vec![4], vec![5, 6, 7]] {
            t.nodes[n]
                .segments
                .push(Segment::forced(Origin::Tool, toks, String::new()));
        }
        let decision = |at| BranchDecision {
            tool_round: 0,
            at_token: at,
            initial_entropy: 0.0,
            step_entropy: 0.0,
            probability: 0.5,
            draw: 0.1,
            branched: false,
            copies: 0,
        };
        t.nodes[n].decisions = vec![decision(3), decision(5)];
        t.leaves.push(Leaf {
            node: n,
            finish: FinishReason::Stop,
            tool_calls: 0,
            reward: None,
        });
        let child = split_node(&mut t, n, 2);
        assert_eq!(t.nodes[n].num_tokens(), 3);
        assert_eq!(t.nodes[child].segments[0].tokens, vec![5, 6, 7]);
        assert_eq!(t.nodes[n].decisions.len(), 1);
        assert_eq!(t.nodes[child].decisions[0].at_token, 2);
        assert_eq!(t.leaves[0].node, child);
        assert_eq!(t.leaf_tokens(0), vec![1, 2, 3, 4, 5, 6, 7]);
        t.validate().unwrap();
    }
}
