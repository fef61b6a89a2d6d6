//! Shared test helpers: a small branched rollout tree with tool segments and rewards, SFT
//! conversations, and (in `rl`) the pieces of a tiny RL run.

#![allow(dead_code)]

pub mod rl;

use arpo_core::{FinishReason, Leaf, Origin, RolloutTree, Segment, TokenId};

/// A model segment with made-up sampling data derived from the tokens.
pub fn model_seg(tokens: &[TokenId]) -> Segment {
    let n = tokens.len();
    Segment {
        origin: Origin::Model,
        tokens: tokens.to_vec(),
        logprobs: tokens
            .iter()
            .map(|&t| -0.5 - (t % 7) as f32 * 0.3)
            .collect(),
        entropies: tokens.iter().map(|&t| 0.2 + (t % 5) as f32 * 0.4).collect(),
        loss_mask: vec![true; n],
        text: String::new(),
        tool_call: None,
    }
}

/// Forced tool-result tokens (never trained).
pub fn tool_seg(tokens: &[TokenId]) -> Segment {
    Segment::forced(Origin::Tool, tokens.to_vec(), String::new())
}

/// Root (prompt, 6 tokens) → shared node (model 5, tool 3, model 2) → branches:
/// A (model 4) → leaves A1 (model 3, tool 2, model 3), A2 (model 5); B (model 6, leaf);
/// C (model 2, tool 2) → leaves C1 (model 4), C2 (model 1), C3 (model 3).
/// Six leaves with distinct rewards.
pub fn branched_tree(vocab: u32) -> RolloutTree {
    let mut next = 1u32;
    let mut take = |n: usize| -> Vec<TokenId> {
        (0..n)
            .map(|_| {
                next = (next * 37 + 11) % vocab;
                next
            })
            .collect()
    };
    let mut t = RolloutTree::new(
        "tree-test",
        9,
        Segment::forced(Origin::Prompt, take(6), String::new()),
    );
    let shared = t.add_child(0);
    t.nodes[shared].segments = vec![model_seg(&take(5)), tool_seg(&take(3)), model_seg(&take(2))];
    let a = t.add_child(shared);
    t.nodes[a].segments = vec![model_seg(&take(4))];
    let a1 = t.add_child(a);
    t.nodes[a1].segments = vec![model_seg(&take(3)), tool_seg(&take(2)), model_seg(&take(3))];
    let a2 = t.add_child(a);
    t.nodes[a2].segments = vec![model_seg(&take(5))];
    let b = t.add_child(shared);
    t.nodes[b].segments = vec![model_seg(&take(6))];
    let c = t.add_child(shared);
    t.nodes[c].segments = vec![model_seg(&take(2)), tool_seg(&take(2))];
    let mut leaves = vec![a1, a2, b];
    for n in [4usize, 1, 3] {
        let id = t.add_child(c);
        t.nodes[id].segments = vec![model_seg(&take(n))];
        leaves.push(id);
    }
    for (i, node) in leaves.into_iter().enumerate() {
        let reward = [1.0, 0.2, -1.0, 0.6, 0.0, 0.9][i];
        t.leaves.push(Leaf {
            node,
            finish: FinishReason::Stop,
            tool_calls: 1,
            reward: Some(reward),
        });
    }
    t
}

/// Sixteen small arithmetic conversations for SFT tests (byte tokenizer).
pub fn sft_conversations() -> Vec<Vec<arpo_core::ChatMessage>> {
    use arpo_core::ChatMessage;
    (0..16)
        .map(|i| {
            let (a, b) = (i % 5 + 1, i / 5 + 2);
            let mut conv = vec![
                ChatMessage::user(format!("{a}+{b}?")),
                ChatMessage::assistant(format!("{}", a + b)),
            ];
            if i % 3 == 0 {
                conv.insert(0, ChatMessage::system("add"));
            }
            conv
        })
        .collect()
}
