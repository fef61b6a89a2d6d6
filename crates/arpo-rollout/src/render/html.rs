//! The rollout tree as one self-contained HTML page (inline CSS, no script, no external
//! resource): summary, entropy legend, leaf table, and the tree of nodes with their segments,
//! tool calls, branch decisions and leaves.
//!
//! The page is polyglot: valid HTML5 and well-formed XML (every element closed, only void
//! elements self-closed, no `<` or `&` in the style sheet, numeric character references only),
//! so tests can check it with a strict XML parser. All content is escaped.

use arpo_core::{NodeId, Origin, RolloutTree};

use super::escape::{escape_html, push_escaped};
use super::html_node::{push_node_box, NodeContext};
use super::scale::{ColourScale, EntropyScale};
use super::summary::{leaves_below, safe_path, TreeSummary};
use super::tokens::TokenText;

/// What the HTML page shows and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlOptions<'a> {
    /// Per-token text for colouring model tokens one by one (default: whole segments).
    pub token_text: TokenText<'a>,
    /// Top of the entropy colour scale.
    pub entropy_scale: EntropyScale,
    /// Page title (default: "Rollout tree" and the task id).
    pub title: Option<&'a str>,
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}\
h1{font-size:1.3em;margin:0 0 .4em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
code,pre,.text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}\
pre,.text{white-space:pre-wrap;overflow-wrap:anywhere;max-height:28em;overflow:auto;margin:.25em 0;\
padding:.35em .5em;background:#fff;border:1px solid #e1e4e8;border-radius:4px}\
table{border-collapse:collapse}td,th{padding:.1em .7em;border-bottom:1px solid #e1e4e8;text-align:left}\
summary{cursor:pointer}.node{margin:.4em 0}\
.box{border:1px solid #c9ced6;border-radius:6px;background:#fff;padding:.2em .6em}\
.children{margin-left:1em;padding-left:.8em;border-left:2px solid #c9ced6}\
.nid{font-weight:600}.dim,.seghead{color:#586069}.seghead{font-size:.85em;margin-top:.3em}\
.badge{display:inline-block;padding:0 .4em;margin-left:.35em;border-radius:3px;font-size:.88em}\
.badge.leafb{background:#e0e7ff}.badge.br{background:#d1f0da}.badge.nobr{background:#fff3c4}\
.prompt .text{background:#f3f4f6}.tool{border-left:3px solid #6f42c1;padding-left:.5em;margin:.3em 0}\
.tool.failed{border-left-color:#d73a49}.status-ok{color:#1a7f37}.status-failed{color:#d73a49}\
.lbl{font-size:.85em;color:#586069}\
.decision{margin:.3em 0;padding:.2em .5em;border-radius:4px;background:#fff8e1;border:1px dashed #d4a000}\
.decision.branched{background:#e6f4ea;border:1px solid #2da44e}\
.leaf{margin:.3em 0;padding:.2em .5em;border-radius:4px;background:#eef2ff;border:1px solid #6366f1}\
.fork{color:#9a6700;font-weight:700}.t.nm{text-decoration:underline dotted #777}.empty{color:#999}\
.warn{background:#ffebe9;border:1px solid #d73a49;padding:.4em .6em;border-radius:4px}\
.legend .sw{display:inline-block;width:2em;height:1em;border:1px solid #ccc;vertical-align:middle}\
.pos{color:#1a7f37}.neg{color:#d73a49}";

/// Renders `tree` as a self-contained HTML page.
pub fn render_tree_html(tree: &RolloutTree, options: &HtmlOptions<'_>) -> String {
    let scale = ColourScale::new(options.entropy_scale, tree);
    let summary = TreeSummary::of(tree);
    let default_title = format!("Rollout tree · {}", tree.task_id);
    let title = options.title.unwrap_or(&default_title);

    let mut out = String::with_capacity(4096 + 200 * summary.unique_tokens.min(1 << 20));
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" />");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />");
    out.push_str(&format!(
        "<title>{}</title><style>{STYLE}{}</style></head>\n<body>",
        escape_html(title),
        scale.css()
    ));
    out.push_str(&format!("<h1>{}</h1>", escape_html(title)));
    if let Err(problem) = tree.validate() {
        out.push_str(
            "<div class=\"warn\">This tree is malformed; it is drawn as far as possible: ",
        );
        push_escaped(&mut out, &problem);
        out.push_str("</div>");
    }
    push_summary(&mut out, tree, &summary);
    out.push_str(&scale.legend_html());
    push_leaf_table(&mut out, tree);
    out.push_str("<h2>Tree</h2>\n<div class=\"tree\">");
    push_tree(
        &mut out,
        tree,
        &NodeContext {
            options,
            scale,
            leaves_below: leaves_below(tree),
        },
    );
    out.push_str("</div>\n</body></html>\n");
    out
}

fn push_summary(out: &mut String, tree: &RolloutTree, s: &TreeSummary) {
    let opt = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3}"));
    let rows = [
        ("task", escape_html(&tree.task_id)),
        ("seed", tree.seed.to_string()),
        ("leaves / nodes", format!("{} / {}", s.leaves, s.nodes)),
        (
            "branch decisions / branched",
            format!("{} / {}", s.decisions, s.branches),
        ),
        (
            "tokens unique / over trajectories",
            format!(
                "{} / {} (ratio {})",
                s.unique_tokens,
                s.trajectory_tokens,
                opt(s.sharing_ratio())
            ),
        ),
        (
            "model tokens · mean entropy (nats)",
            format!("{} · {}", s.model_tokens, opt(s.mean_model_entropy)),
        ),
        (
            "tool calls executed (failed) · summed over leaves",
            format!(
                "{} ({}) · {}",
                s.tool_calls, s.failed_tool_calls, s.trajectory_tool_calls
            ),
        ),
        (
            "mean reward (scored leaves)",
            format!(
                "{} ({} of {})",
                opt(s.mean_reward),
                s.scored_leaves,
                s.leaves
            ),
        ),
    ];
    out.push_str("<table class=\"summary\"><tbody>");
    for (name, value) in rows {
        out.push_str(&format!("<tr><th>{name}</th><td>{value}</td></tr>"));
    }
    out.push_str("</tbody></table>\n");
}

fn push_leaf_table(out: &mut String, tree: &RolloutTree) {
    out.push_str("<h2>Leaves</h2>\n<table class=\"leaves\"><thead><tr><th>leaf</th><th>node</th>");
    out.push_str("<th>finish</th><th>tool calls</th><th>response tokens</th><th>reward</th></tr></thead><tbody>");
    for (i, leaf) in tree.leaves.iter().enumerate() {
        let response: usize = safe_path(tree, leaf.node)
            .into_iter()
            .flat_map(|n| &tree.nodes[n].segments)
            .filter(|s| s.origin != Origin::Prompt)
            .map(|s| s.len())
            .sum();
        // A leaf of a malformed tree may point at a missing node: no box, so no link.
        let (leaf_cell, node_cell) = if leaf.node < tree.nodes.len() {
            (
                format!("<a href=\"#leaf-{i}\">leaf {i}</a>"),
                format!("<a href=\"#node-{n}\">n{n}</a>", n = leaf.node),
            )
        } else {
            (format!("leaf {i}"), format!("n{} (missing)", leaf.node))
        };
        out.push_str(&format!(
            "<tr><td>{leaf_cell}</td><td>{node_cell}</td><td>{}</td><td>{}</td><td>{response}</td><td>{}</td></tr>",
            finish_name(leaf.finish),
            leaf.tool_calls,
            reward_html(leaf.reward),
        ));
    }
    out.push_str("</tbody></table>\n");
}

/// Short name of a finish reason (as in the JSON form).
pub(crate) fn finish_name(finish: arpo_core::FinishReason) -> &'static str {
    match finish {
        arpo_core::FinishReason::Stop => "stop",
        arpo_core::FinishReason::Length => "length",
        arpo_core::FinishReason::ToolLimit => "tool_limit",
    }
}

/// A reward coloured by sign, or "unscored".
pub(crate) fn reward_html(reward: Option<f32>) -> String {
    match reward {
        None => "<span class=\"dim\">unscored</span>".into(),
        Some(r) => format!(
            "<span class=\"{}\">{r:.3}</span>",
            if r > 0.0 { "pos" } else { "neg" }
        ),
    }
}

/// Nested node boxes, depth first, without recursion (a malformed tree may be deep or cyclic):
/// each node is drawn once; nodes not reachable from the root are drawn after the tree.
fn push_tree(out: &mut String, tree: &RolloutTree, ctx: &NodeContext<'_>) {
    enum Step {
        Open(NodeId),
        Close,
    }
    let mut drawn = vec![false; tree.nodes.len()];
    let mut next_root = 0;
    while let Some(root) = (next_root..tree.nodes.len()).find(|&n| !drawn[n]) {
        let mut stack = vec![Step::Open(root)];
        if next_root > 0 {
            out.push_str("<div class=\"warn\">Not reachable from the root:</div>");
        }
        next_root = 1;
        while let Some(step) = stack.pop() {
            let id = match step {
                Step::Close => {
                    out.push_str("</div></div>\n");
                    continue;
                }
                Step::Open(id) if id < tree.nodes.len() && !drawn[id] => id,
                Step::Open(_) => continue,
            };
            drawn[id] = true;
            out.push_str(&format!(
                "<div class=\"node\" id=\"node-{id}\" data-node=\"{id}\">"
            ));
            push_node_box(out, tree, id, ctx);
            out.push_str("<div class=\"children\">");
            stack.push(Step::Close);
            stack.extend(tree.nodes[id].children.iter().rev().map(|&c| Step::Open(c)));
        }
    }
}
