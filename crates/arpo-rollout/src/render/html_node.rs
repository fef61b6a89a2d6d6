//! One node box of the HTML page: header line, segments (prompt, model text coloured by
//! entropy, tool calls), branch decisions at their fork points, and the leaves ending there.

use arpo_core::{BranchDecision, NodeId, Origin, RolloutTree, Segment, ToolCall};

use super::escape::{escape_html, push_escaped};
use super::html::{finish_name, reward_html, HtmlOptions};
use super::scale::ColourScale;
use super::summary::mean;
use super::tokens::{pieces, Piece};

/// What every node box needs besides the node.
pub(crate) struct NodeContext<'a> {
    pub options: &'a HtmlOptions<'a>,
    pub scale: ColourScale,
    /// Leaves below each node.
    pub leaves_below: Vec<usize>,
}

/// Appends the box of node `id` (a `<details>` open by default).
pub(crate) fn push_node_box(
    out: &mut String,
    tree: &RolloutTree,
    id: NodeId,
    ctx: &NodeContext<'_>,
) {
    let node = &tree.nodes[id];
    out.push_str("<details class=\"box\" open=\"open\"><summary class=\"nodehead\">");
    push_header(out, tree, id, ctx);
    out.push_str("</summary>");

    // Decisions go after the segment holding their fork point (`at_token` counts the node's
    // tokens before the fork), in token order.
    let mut decisions: Vec<(usize, &BranchDecision)> = node.decisions.iter().enumerate().collect();
    decisions.sort_by_key(|(_, d)| d.at_token);
    let mut next = 0;
    let mut offset = 0;
    for seg in &node.segments {
        while next < decisions.len() && decisions[next].1.at_token <= offset {
            push_decision(out, decisions[next].0, decisions[next].1);
            next += 1;
        }
        let inside: Vec<usize> = decisions[next..]
            .iter()
            .map(|(_, d)| d.at_token - offset)
            .take_while(|&p| p < seg.len())
            .collect();
        push_segment(out, seg, &inside, ctx);
        offset += seg.len();
    }
    for &(k, d) in &decisions[next..] {
        push_decision(out, k, d);
    }
    for (i, leaf) in tree.leaves.iter().enumerate().filter(|(_, l)| l.node == id) {
        out.push_str(&format!(
            "<div class=\"leaf\" id=\"leaf-{i}\" data-leaf=\"{i}\"><b>leaf {i}</b> · finish {} · \
             {} tool call(s) · reward {}</div>",
            finish_name(leaf.finish),
            leaf.tool_calls,
            reward_html(leaf.reward)
        ));
    }
    out.push_str("</details>");
}

fn push_header(out: &mut String, tree: &RolloutTree, id: NodeId, ctx: &NodeContext<'_>) {
    let node = &tree.nodes[id];
    out.push_str(&format!("<span class=\"nid\">n{id}</span>"));
    if let Some(p) = node.parent {
        out.push_str(&format!(" <span class=\"dim\">← n{p}</span>"));
    }
    out.push_str(&format!(" · {} tok", node.num_tokens()));
    let parts = super::summary::origin_breakdown(node);
    if !parts.is_empty() {
        out.push_str(&format!(" ({})", parts.join(", ")));
    }
    let model = node.segments.iter().filter(|s| s.origin == Origin::Model);
    let (sum, n) = model
        .flat_map(|s| &s.entropies)
        .fold((0.0, 0), |(s, n), &h| (s + f64::from(h), n + 1));
    if let Some(h) = mean(sum, n) {
        out.push_str(&format!(" · mean H {h:.3}"));
    }
    let calls = node
        .segments
        .iter()
        .filter(|s| s.tool_call.is_some())
        .count();
    if calls > 0 {
        out.push_str(&format!(" · {calls} tool call(s)"));
    }
    let below = ctx.leaves_below.get(id).copied().unwrap_or(0);
    out.push_str(&format!(
        " · {below} {} below",
        if below == 1 { "leaf" } else { "leaves" }
    ));
    for d in &node.decisions {
        out.push_str(&match (d.branched, d.copies) {
            (true, c) => format!(" <span class=\"badge br\">⑂ branched ×{c}</span>"),
            (false, _) => " <span class=\"badge nobr\">⑂ kept</span>".to_string(),
        });
    }
    for (i, leaf) in tree.leaves.iter().enumerate().filter(|(_, l)| l.node == id) {
        let r = leaf
            .reward
            .map_or("unscored".to_string(), |r| format!("R {r:.3}"));
        out.push_str(&format!(
            " <span class=\"badge leafb\">leaf {i} · {r}</span>"
        ));
    }
}

fn push_decision(out: &mut String, k: usize, d: &BranchDecision) {
    let outcome = match (d.branched, d.copies) {
        (false, _) => "not branched".to_string(),
        (true, 0) => "branch drawn, but the budget is spent: no copy".to_string(),
        (true, 1) => "<b>branched into 1 copy</b>".to_string(),
        (true, c) => format!("<b>branched into {c} copies</b>"),
    };
    let cmp = if d.draw < d.probability {
        "&lt;"
    } else {
        "≥"
    };
    out.push_str(&format!(
        "<div class=\"decision{}\" data-decision=\"{k}\" data-round=\"{}\" data-at=\"{}\" \
         data-probability=\"{}\" data-draw=\"{}\" data-branched=\"{}\" data-copies=\"{}\">\
         <span class=\"fork\">⑂</span> decision {k} after tool call {} on this path, at token {}: \
         initial H {:.3} · step H {:.3} · ΔH {:+.3} · P {:.3} · draw {:.3} {cmp} P → {outcome}</div>",
        if d.branched { " branched" } else { " kept" },
        d.tool_round,
        d.at_token,
        d.probability,
        d.draw,
        d.branched,
        d.copies,
        d.tool_round + 1,
        d.at_token,
        d.initial_entropy,
        d.step_entropy,
        d.step_entropy - d.initial_entropy,
        d.probability,
        d.draw,
    ));
}

/// Appends one segment; `forks` are fork positions strictly inside it (segment positions),
/// marked inline when the text is shown per token.
fn push_segment(out: &mut String, seg: &Segment, forks: &[usize], ctx: &NodeContext<'_>) {
    match (seg.origin, &seg.tool_call) {
        (Origin::Prompt, _) => {
            out.push_str(&format!(
                "<details class=\"seg prompt\" data-origin=\"prompt\"><summary class=\"seghead\">prompt · \
                 {} tok</summary><div class=\"text\">{}</div></details>",
                seg.len(),
                escape_html(&seg.text)
            ));
        }
        (Origin::Tool, Some(call)) => push_tool_call(out, seg, call),
        (Origin::Tool, None) => out.push_str(&format!(
            "<div class=\"seg tool\" data-origin=\"tool\"><div class=\"seghead\">tool result · {} tok</div>\
             <div class=\"text\">{}</div></div>",
            seg.len(),
            escape_html(&seg.text)
        )),
        (Origin::Model, _) => push_model(out, seg, forks, ctx),
    }
}

fn push_tool_call(out: &mut String, seg: &Segment, call: &ToolCall) {
    let status = if call.ok { "ok" } else { "failed" };
    out.push_str(&format!(
        "<div class=\"seg tool {status}\" data-origin=\"tool\"><div class=\"seghead\">tool call \
         <b class=\"toolname\">{}</b> · <span class=\"status-{status}\">{status}</span> · {:.1} ms · \
         {} result tok</div><div class=\"lbl\">input</div><pre class=\"input\"><code>{}</code></pre>\
         <div class=\"lbl\">output</div><div class=\"text output\">{}</div>\
         <details><summary class=\"lbl\">result tokens as the model saw them</summary>\
         <div class=\"text\">{}</div></details></div>",
        escape_html(&call.tool),
        call.latency_ms,
        seg.len(),
        escape_html(&call.input),
        escape_html(&call.output),
        escape_html(&seg.text),
    ));
}

/// Mean of `values` (0 for none; NaN propagates, so the piece shows as not finite).
fn mean_f32(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    // `+ 0.0` turns −0 (the mean of zero log-probs) into 0 for display.
    values.iter().sum::<f32>() / values.len() as f32 + 0.0
}

fn push_model(out: &mut String, seg: &Segment, forks: &[usize], ctx: &NodeContext<'_>) {
    let h = mean_f32(&seg.entropies);
    let unmasked = seg.loss_mask.iter().filter(|&&m| !m).count();
    out.push_str(&format!(
        "<div class=\"seg model\" data-origin=\"model\"><div class=\"seghead\">model · {} tok · mean H {h:.3} · \
         mean log-p {:.3}",
        seg.len(),
        mean_f32(&seg.logprobs)
    ));
    if unmasked > 0 {
        out.push_str(&format!(" · {unmasked} tok without loss"));
    }
    out.push_str("</div>");
    match pieces(seg, &ctx.options.token_text) {
        None => out.push_str(&format!(
            "<div class=\"text {}\" title=\"mean entropy {h:.3} nats\">{}</div>",
            ctx.scale.class(h),
            escape_html(&seg.text)
        )),
        Some(pieces) => {
            out.push_str("<div class=\"text\">");
            let mut forks = forks.iter().peekable();
            for piece in &pieces {
                while let Some(&p) = forks.next_if(|&&p| p <= piece.start) {
                    push_fork_mark(out, p);
                }
                push_piece(out, seg, piece, &ctx.scale);
            }
            forks.for_each(|&p| push_fork_mark(out, p));
            out.push_str("</div>");
        }
    }
    out.push_str("</div>");
}

fn push_fork_mark(out: &mut String, at: usize) {
    out.push_str(&format!(
        "<span class=\"fork\" title=\"branch decision after {at} tokens of this segment\">⑂</span>"
    ));
}

fn push_piece(out: &mut String, seg: &Segment, piece: &Piece, scale: &ColourScale) {
    // `get`: a malformed tree may have per-token arrays shorter than its tokens.
    let range = piece.start..piece.end;
    let h = mean_f32(seg.entropies.get(range.clone()).unwrap_or_default());
    let lp = mean_f32(seg.logprobs.get(range.clone()).unwrap_or_default());
    let masked_off = seg
        .loss_mask
        .get(range.clone())
        .unwrap_or_default()
        .iter()
        .any(|&m| !m);
    let ids: Vec<String> = seg.tokens[range.clone()]
        .iter()
        .map(u32::to_string)
        .collect();
    out.push_str(&format!(
        "<span class=\"t {}{}\" title=\"tok {} · id {} · H {h:.3} · log-p {lp:.3}\">",
        scale.class(h),
        if masked_off { " nm" } else { "" },
        range.start,
        ids.join(" "),
    ));
    if piece.text.is_empty() {
        out.push_str("<span class=\"empty\">∅</span>");
    } else {
        push_escaped(out, &piece.text);
    }
    out.push_str("</span>");
}
