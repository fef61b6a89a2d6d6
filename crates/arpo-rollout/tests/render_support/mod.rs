//! Hand-built rollout trees for the renderer tests: a small hostile tree with tool calls and
//! decisions, and a 16-leaf binary tree.
#![allow(dead_code)] // each test file uses a subset

use std::f64::consts::{FRAC_1_PI, FRAC_1_SQRT_2};

use arpo_core::{BranchDecision, FinishReason, Leaf, Origin, RolloutTree, Segment, ToolCall};

/// The payload every test expects to see shown as text and never run.
pub const SCRIPT: &str = "</div><script>alert(1)</script>";

/// A model segment: token ids from 1000, log-prob −entropy/2, loss mask on.
pub fn model(text: &str, entropies: &[f32]) -> Segment {
    let n = entropies.len();
    Segment {
        origin: Origin::Model,
        tokens: (0..n as u32).map(|i| 1000 + i).collect(),
        logprobs: entropies.iter().map(|h| -h / 2.0).collect(),
        entropies: entropies.to_vec(),
        loss_mask: vec![true; n],
        text: text.into(),
        tool_call: None,
    }
}

pub fn prompt(text: &str, tokens: usize) -> Segment {
    Segment::forced(Origin::Prompt, (1..=tokens as u32).collect(), text.into())
}

/// A tool-result segment of `tokens` forced tokens for `call`.
pub fn tool(call: ToolCall, tokens: usize) -> Segment {
    let text = format!("<result>{}</result>", call.output);
    let mut seg = Segment::forced(Origin::Tool, (2000..2000 + tokens as u32).collect(), text);
    seg.tool_call = Some(call);
    seg
}

pub fn call(tool: &str, input: &str, output: &str, ok: bool, latency_ms: f64) -> ToolCall {
    ToolCall {
        tool: tool.into(),
        input: input.into(),
        output: output.into(),
        ok,
        latency_ms,
    }
}

pub fn decision(
    at_token: usize,
    initial: f64,
    step: f64,
    p: f64,
    draw: f64,
    copies: usize,
) -> BranchDecision {
    BranchDecision {
        tool_round: 0,
        at_token,
        initial_entropy: initial,
        step_entropy: step,
        probability: p,
        draw,
        branched: draw < p,
        copies,
    }
}

pub fn leaf(node: usize, finish: FinishReason, tool_calls: usize, reward: Option<f32>) -> Leaf {
    Leaf {
        node,
        finish,
        tool_calls,
        reward,
    }
}

/// Root → n1 (model, python call, model; branched into 2 copies) → n2, n3, n4.
/// n2 holds a failed call with a hostile tool name and a kept decision in mid-segment.
/// Every text field carries markup, controls or non-Latin script.
pub fn hostile_tree() -> RolloutTree {
    let mut t = RolloutTree::new(
        format!("task{SCRIPT}\"'&"),
        7,
        prompt(
            &format!("<|im_start|>user\nWhat is 2+2? {SCRIPT}<|im_end|>\n"),
            12,
        ),
    );
    let n1 = t.add_child(0);
    let code = format!("print('{SCRIPT}')");
    t.nodes[n1].segments = vec![
        model(
            &format!("<think>日本語 🦀 مرحبا</think><python>{code}</python>"),
            &[0.1, 0.5, 2.0, 1.5, 0.0, 0.3],
        ),
        tool(
            call(
                "python",
                &code,
                &format!("{SCRIPT}\n日本語 🦀 \u{1b}[31mred\u{0}"),
                true,
                12.5,
            ),
            5,
        ),
        model("ok", &[1.2, 0.9]),
    ];
    // Values with many digits, so that a rounded copy in the page would not read back equal.
    let branched = decision(13, 0.25, 0.75, FRAC_1_SQRT_2, FRAC_1_PI, 2);
    t.nodes[n1].decisions.push(branched);
    let n2 = t.add_child(n1);
    t.nodes[n2].segments = vec![
        model("<search>q</search>", &[0.4, 0.6, 0.2]),
        tool(
            call(
                "<img src=x onerror=alert(1)>",
                "q\"'",
                "timeout & <b>no</b>",
                false,
                3000.0,
            ),
            2,
        ),
        model(
            &format!("<answer>\\boxed{{4}}</answer>{SCRIPT}"),
            &[0.05, 0.05, 0.1, 0.0],
        ),
    ];
    // Kept: draw above P; the fork point lies inside the last model segment (5 + 2 = 7 < 9).
    t.nodes[n2].decisions.push(BranchDecision {
        tool_round: 1,
        ..decision(7, 0.25, 0.1, 0.2718281828459045, 0.9876543210123, 0)
    });
    let n3 = t.add_child(n1);
    t.nodes[n3].segments = vec![model("four", &[0.7])];
    let n4 = t.add_child(n1);
    t.nodes[n4].segments = vec![model("", &[])];
    t.leaves = vec![
        leaf(n2, FinishReason::Stop, 2, Some(1.1)),
        leaf(n3, FinishReason::Length, 1, Some(-1.0)),
        leaf(n4, FinishReason::ToolLimit, 1, None),
    ];
    t
}

/// A full binary tree of depth 4 below one shared node: 31 nodes besides the root, 16 leaves,
/// 15 branched decisions; token counts and entropies from a fixed LCG.
pub fn sixteen_leaf_tree() -> RolloutTree {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut t = RolloutTree::new("sixteen", 3, prompt("question", 20));
    let mut frontier = vec![t.add_child(0)];
    for depth in 0..=4 {
        let mut next_frontier = Vec::new();
        for &id in &frontier {
            let n = 3 + (next() % 12) as usize;
            let h: Vec<f32> = (0..n).map(|_| (next() % 1000) as f32 / 400.0).collect();
            let text: String = (0..n).map(|i| format!("w{id}.{i} ")).collect();
            t.nodes[id].segments.push(model(&text, &h));
            if depth < 4 {
                let draw = f64::from(next()) / f64::from(1u32 << 31) * 0.5;
                t.nodes[id]
                    .decisions
                    .push(decision(n, 0.3, 0.6, 0.8, draw, 1));
                next_frontier.push(t.add_child(id));
                next_frontier.push(t.add_child(id));
            } else {
                let reward = (next() % 3) as f32 / 2.0;
                t.leaves.push(leaf(id, FinishReason::Stop, 0, Some(reward)));
            }
        }
        frontier = next_frontier;
    }
    t
}
