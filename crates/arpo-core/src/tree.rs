//! The rollout tree: what one prompt's rollout produced, with every token, draw and decision.
//!
//! Node 0 is the root and holds the prompt. A node is a run of segments between two branch
//! points; its children continue it. Every leaf is one complete trajectory (root → leaf path).
//! The tree is plain data: the rollout engine builds it, training reads it, the HTML renderer
//! draws it, and it round-trips through JSON.

use serde::{Deserialize, Serialize};

use crate::TokenId;

/// Index of a node in [`RolloutTree::nodes`].
pub type NodeId = usize;

/// Who produced a segment's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The prompt (chat-templated question). Never trained on.
    Prompt,
    /// Sampled from the policy. Trained on (loss mask 1) unless masked explicitly.
    Model,
    /// Forced tool-result tokens. Never trained on (loss mask 0).
    Tool,
}

/// A tool call and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Tool name (the tag).
    pub tool: String,
    /// The extracted call content (code, query).
    pub input: String,
    /// The observation shown to the model (output or error message).
    pub output: String,
    /// Whether the tool answered regularly (false for timeouts, limits, failures, refusals).
    pub ok: bool,
    /// Wall time of the call in milliseconds.
    pub latency_ms: f64,
}

/// A contiguous run of tokens from one origin, with per-token training data.
///
/// `logprobs`, `entropies` and `loss_mask` have one entry per token. For forced tokens (prompt,
/// tool results) log-prob and entropy are 0 and the loss mask is false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Producer of the tokens.
    pub origin: Origin,
    /// The token ids.
    pub tokens: Vec<TokenId>,
    /// Log-probability of each token under the sampling distribution.
    pub logprobs: Vec<f32>,
    /// Full-vocabulary entropy (nats) of the distribution each token was sampled from.
    pub entropies: Vec<f32>,
    /// Whether each token takes part in the policy loss.
    pub loss_mask: Vec<bool>,
    /// Decoded text of the tokens (for display and reward).
    pub text: String,
    /// For a tool segment: the call whose result these tokens are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ToolCall>,
}

impl Segment {
    /// A segment of forced tokens (prompt or tool result): zero log-prob/entropy, loss mask off.
    pub fn forced(origin: Origin, tokens: Vec<TokenId>, text: String) -> Self {
        let n = tokens.len();
        Self {
            origin,
            tokens,
            logprobs: vec![0.0; n],
            entropies: vec![0.0; n],
            loss_mask: vec![false; n],
            text,
            tool_call: None,
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the segment holds no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn check(&self) -> Result<(), String> {
        let n = self.tokens.len();
        if self.logprobs.len() != n || self.entropies.len() != n || self.loss_mask.len() != n {
            return Err(format!(
                "segment of {n} tokens has {} log-probs, {} entropies, {} mask entries",
                self.logprobs.len(),
                self.entropies.len(),
                self.loss_mask.len()
            ));
        }
        if self.origin != Origin::Model && self.loss_mask.iter().any(|&m| m) {
            return Err(format!(
                "{:?} segment has loss-mask entries set",
                self.origin
            ));
        }
        Ok(())
    }
}

/// One branch decision, made after a tool result and the `k` tokens that follow it, with the
/// random draw behind it so that a tree can be audited and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchDecision {
    /// Index (0-based) of the tool call on this path after which the decision was made.
    pub tool_round: usize,
    /// Position in the node's own tokens where the decision was taken (the fork point).
    pub at_token: usize,
    /// Normalised mean entropy of the first `k` tokens of this trajectory.
    pub initial_entropy: f64,
    /// Normalised mean entropy of the `k` tokens after the tool result.
    pub step_entropy: f64,
    /// Branch probability from the formula, clipped to [0, 1].
    pub probability: f64,
    /// The uniform draw in [0, 1) compared with `probability`.
    pub draw: f64,
    /// Whether the path branched.
    pub branched: bool,
    /// Number of copies made (0 when not branched, or when the budget was spent).
    pub copies: usize,
}

/// Why a trajectory ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model emitted a stop token.
    Stop,
    /// The response budget (model + tool tokens) ran out.
    Length,
    /// The model called a tool past the per-trajectory limit.
    ToolLimit,
}

/// One node: a run of segments between branch points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The parent node (`None` for the root).
    pub parent: Option<NodeId>,
    /// Nodes continuing this one.
    pub children: Vec<NodeId>,
    /// The node's tokens, in order.
    pub segments: Vec<Segment>,
    /// Branch decisions taken inside or at the end of this node.
    pub decisions: Vec<BranchDecision>,
}

impl TreeNode {
    /// A node with no segment yet.
    pub fn new(parent: Option<NodeId>) -> Self {
        Self {
            parent,
            children: Vec::new(),
            segments: Vec::new(),
            decisions: Vec::new(),
        }
    }

    /// Number of tokens in the node.
    pub fn num_tokens(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }
}

/// A complete trajectory: the path from the root to `node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// The last node of the path.
    pub node: NodeId,
    /// Why it ended.
    pub finish: FinishReason,
    /// Tool calls made on the path.
    pub tool_calls: usize,
    /// Reward, once scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<f32>,
}

/// All trajectories of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutTree {
    /// Id of the task the prompt came from.
    pub task_id: String,
    /// The seed from which every draw of this tree derives.
    pub seed: u64,
    /// Nodes; `nodes[0]` is the root holding the prompt.
    pub nodes: Vec<TreeNode>,
    /// Complete trajectories.
    pub leaves: Vec<Leaf>,
}

impl RolloutTree {
    /// A tree whose root holds the prompt.
    pub fn new(task_id: impl Into<String>, seed: u64, prompt: Segment) -> Self {
        let mut root = TreeNode::new(None);
        root.segments.push(prompt);
        Self {
            task_id: task_id.into(),
            seed,
            nodes: vec![root],
            leaves: Vec::new(),
        }
    }

    /// Adds a child of `parent` and returns its id.
    pub fn add_child(&mut self, parent: NodeId) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(TreeNode::new(Some(parent)));
        self.nodes[parent].children.push(id);
        id
    }

    /// Node ids from the root to `node`, root first.
    pub fn path(&self, node: NodeId) -> Vec<NodeId> {
        let mut path = vec![node];
        let mut cur = node;
        while let Some(p) = self.nodes[cur].parent {
            path.push(p);
            cur = p;
        }
        path.reverse();
        path
    }

    /// Segments of a trajectory, root first (the prompt segment included).
    pub fn leaf_segments(&self, leaf: usize) -> Vec<&Segment> {
        self.path(self.leaves[leaf].node)
            .into_iter()
            .flat_map(|n| self.nodes[n].segments.iter())
            .collect()
    }

    /// Token ids of a trajectory, prompt included.
    pub fn leaf_tokens(&self, leaf: usize) -> Vec<TokenId> {
        self.leaf_segments(leaf)
            .into_iter()
            .flat_map(|s| s.tokens.iter().copied())
            .collect()
    }

    /// Text written after the prompt on a trajectory (model and tool segments).
    pub fn response_text(&self, leaf: usize) -> String {
        self.leaf_segments(leaf)
            .into_iter()
            .filter(|s| s.origin != Origin::Prompt)
            .map(|s| s.text.as_str())
            .collect()
    }

    /// Number of tokens in the prompt (the root's prompt segments).
    pub fn prompt_len(&self) -> usize {
        self.nodes[0]
            .segments
            .iter()
            .filter(|s| s.origin == Origin::Prompt)
            .map(Segment::len)
            .sum()
    }

    /// For every node, how many leaves lie below it (a leaf node counts itself once per leaf
    /// that ends there).
    pub fn descendant_leaves(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.nodes.len()];
        for leaf in &self.leaves {
            for n in self.path(leaf.node) {
                counts[n] += 1;
            }
        }
        counts
    }

    /// Tokens stored in the tree: each shared prefix counted once (what a tree rollout forwards).
    pub fn unique_tokens(&self) -> usize {
        self.nodes.iter().map(TreeNode::num_tokens).sum()
    }

    /// Tokens over all trajectories: shared prefixes counted once per leaf (what independent
    /// sampling of the same trajectories would forward).
    pub fn trajectory_tokens(&self) -> usize {
        (0..self.leaves.len())
            .map(|l| self.leaf_tokens(l).len())
            .sum()
    }

    /// Number of branch decisions that branched.
    pub fn branch_count(&self) -> usize {
        self.nodes
            .iter()
            .flat_map(|n| &n.decisions)
            .filter(|d| d.branched)
            .count()
    }

    /// Checks the structural invariants: parent/child links agree, the root holds the prompt,
    /// per-token arrays align, leaves point at existing nodes and every childless node is a leaf.
    pub fn validate(&self) -> Result<(), String> {
        let root = self.nodes.first().ok_or("tree has no root")?;
        if root.parent.is_some() {
            return Err("root has a parent".into());
        }
        for (id, node) in self.nodes.iter().enumerate() {
            for seg in &node.segments {
                seg.check().map_err(|e| format!("node {id}: {e}"))?;
            }
            for &c in &node.children {
                if self.nodes.get(c).and_then(|n| n.parent) != Some(id) {
                    return Err(format!("node {id} lists child {c} whose parent differs"));
                }
            }
            if id > 0 {
                let p = node.parent.ok_or(format!("node {id} has no parent"))?;
                if p >= id {
                    return Err(format!("node {id} has parent {p} created after it"));
                }
            }
        }
        for (i, leaf) in self.leaves.iter().enumerate() {
            if leaf.node >= self.nodes.len() {
                return Err(format!("leaf {i} points at missing node {}", leaf.node));
            }
        }
        for (id, node) in self.nodes.iter().enumerate() {
            if node.children.is_empty() && !self.leaves.iter().any(|l| l.node == id) {
                return Err(format!("node {id} has no child and no leaf ends there"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_seg(tokens: &[TokenId]) -> Segment {
        let n = tokens.len();
        Segment {
            origin: Origin::Model,
            tokens: tokens.to_vec(),
            logprobs: vec![-0.5; n],
            entropies: vec![1.0; n],
            loss_mask: vec![true; n],
            text: String::new(),
            tool_call: None,
        }
    }

    /// A root with one shared node that forks into two leaves.
    fn forked_tree() -> RolloutTree {
        let mut t = RolloutTree::new(
            "t",
            7,
            Segment::forced(Origin::Prompt, vec![1, 2, 3], "p".into()),
        );
        let shared = t.add_child(0);
        t.nodes[shared].segments.push(model_seg(&[4, 5]));
        let a = t.add_child(shared);
        t.nodes[a].segments.push(model_seg(&[6]));
        let b = t.add_child(shared);
        t.nodes[b].segments.push(model_seg(&[7, 8]));
        for node in [a, b] {
            t.leaves.push(Leaf {
                node,
                finish: FinishReason::Stop,
                tool_calls: 0,
                reward: None,
            });
        }
        t
    }

    #[test]
    fn paths_and_counts_follow_the_structure() {
        let t = forked_tree();
        t.validate().unwrap();
        assert_eq!(t.leaf_tokens(0), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(t.leaf_tokens(1), vec![1, 2, 3, 4, 5, 7, 8]);
        assert_eq!(t.descendant_leaves(), vec![2, 2, 1, 1]);
        // Shared prefix (5 tokens) is stored once: 3 + 2 + 1 + 2.
        assert_eq!(t.unique_tokens(), 8);
        assert_eq!(t.trajectory_tokens(), 13);
        assert_eq!(t.prompt_len(), 3);
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let t = forked_tree();
        let json = serde_json::to_string(&t).unwrap();
        let back: RolloutTree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn validate_rejects_misaligned_and_dangling_data() {
        let mut t = forked_tree();
        t.nodes[1].segments[0].logprobs.pop();
        assert!(t.validate().unwrap_err().contains("log-probs"));

        let mut t = forked_tree();
        t.leaves.pop();
        assert!(t.validate().unwrap_err().contains("no leaf"));

        let mut t = forked_tree();
        t.nodes[0].segments[0].loss_mask[0] = true;
        assert!(t.validate().unwrap_err().contains("loss-mask"));
    }
}
