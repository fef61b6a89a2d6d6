//! The rollout tree as compact ASCII for terminals and logs: a summary line, then one line per
//! node (token counts, mean model entropy, tool calls, branch decisions, leaves with reward).
//!
//! Tool names and the task id are untrusted: they are cut to one short line with control
//! characters (terminal escape sequences) replaced by visible stand-ins.

use arpo_core::{BranchDecision, NodeId, Origin, RolloutTree, ToolCall};

use super::escape::terminal_line;
use super::html::finish_name;
use super::summary::{mean, TreeSummary};

/// Renders `tree` as text, one line per node, ending with a newline.
pub fn render_tree_text(tree: &RolloutTree) -> String {
    let mut out = summary_line(tree, &TreeSummary::of(tree));
    let mut drawn = vec![false; tree.nodes.len()];
    // (node, prefix of its line, prefix of its children's lines); iterative so that a deep or
    // malformed tree cannot overflow the stack.
    let mut stack: Vec<(NodeId, String, String)> = Vec::new();
    for root in 0..tree.nodes.len() {
        if drawn[root] {
            continue;
        }
        if root > 0 {
            out.push_str("(not reachable from the root)\n");
        }
        stack.push((root, String::new(), String::new()));
        while let Some((id, lead, child_lead)) = stack.pop() {
            if id >= tree.nodes.len() || drawn[id] {
                continue;
            }
            drawn[id] = true;
            out.push_str(&lead);
            out.push_str(&node_line(tree, id));
            out.push('\n');
            let children = &tree.nodes[id].children;
            for (k, &c) in children.iter().enumerate().rev() {
                let last = k + 1 == children.len();
                let (branch, rest) = if last {
                    ("`-- ", "    ")
                } else {
                    ("|-- ", "|   ")
                };
                stack.push((
                    c,
                    format!("{child_lead}{branch}"),
                    format!("{child_lead}{rest}"),
                ));
            }
        }
    }
    out
}

fn summary_line(tree: &RolloutTree, s: &TreeSummary) -> String {
    let ratio = s.sharing_ratio().map_or("-".into(), |r| format!("{r:.3}"));
    let reward = s.mean_reward.map_or("-".into(), |r| format!("{r:.3}"));
    format!(
        "tree {} seed {}: {} leaves, {} nodes, {}/{} decisions branched, {} unique / {} trajectory \
         tokens ({ratio}), {} tool calls ({} failed), mean reward {reward} ({} scored)\n",
        terminal_line(&tree.task_id, 60),
        tree.seed,
        s.leaves,
        s.nodes,
        s.branches,
        s.decisions,
        s.unique_tokens,
        s.trajectory_tokens,
        s.tool_calls,
        s.failed_tool_calls,
        s.scored_leaves,
    )
}

fn node_line(tree: &RolloutTree, id: NodeId) -> String {
    let node = &tree.nodes[id];
    let parts = super::summary::origin_breakdown(node);
    let mut line = format!("n{id} {} tok", node.num_tokens());
    if !parts.is_empty() {
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    let model = node.segments.iter().filter(|s| s.origin == Origin::Model);
    let (sum, n) = model
        .flat_map(|s| &s.entropies)
        .fold((0.0, 0), |(s, n), &h| (s + f64::from(h), n + 1));
    if let Some(h) = mean(sum, n) {
        line.push_str(&format!(" H={h:.3}"));
    }
    for call in node.segments.iter().filter_map(|s| s.tool_call.as_ref()) {
        line.push_str(&format!(" | {}", call_text(call)));
    }
    for d in &node.decisions {
        line.push_str(&format!(" | {}", decision_text(d)));
    }
    for (i, leaf) in tree.leaves.iter().enumerate().filter(|(_, l)| l.node == id) {
        let reward = leaf.reward.map_or("unscored".into(), |r| format!("{r:.3}"));
        line.push_str(&format!(
            " => leaf {i}: {}, {} tools, R={reward}",
            finish_name(leaf.finish),
            leaf.tool_calls
        ));
    }
    line
}

fn call_text(call: &ToolCall) -> String {
    let status = if call.ok { "ok" } else { "FAILED" };
    format!(
        "{} {status} {:.0}ms",
        terminal_line(&call.tool, 24),
        call.latency_ms
    )
}

fn decision_text(d: &BranchDecision) -> String {
    let outcome = if d.branched {
        format!("branched x{}", d.copies)
    } else {
        "kept".into()
    };
    format!(
        "fork@{} dH={:+.3} P={:.3} u={:.3} {outcome}",
        d.at_token,
        d.step_entropy - d.initial_entropy,
        d.probability,
        d.draw
    )
}
