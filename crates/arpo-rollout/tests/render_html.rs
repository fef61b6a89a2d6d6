//! The HTML page checked with an independent strict parser (roxmltree, XML 1.0): the page must
//! be well-formed, self-contained and script-free, show every leaf and branch decision of
//! hand-built trees with the exact values, show hostile text as text, and nest nodes as the
//! tree does.

mod render_support;

use arpo_core::{FinishReason, RolloutTree};
use arpo_rollout::render::{
    render_tree_html, EntropyScale, HtmlOptions, TokenText, TreeSummary, ENTROPY_BINS,
};
use render_support::{hostile_tree, sixteen_leaf_tree, SCRIPT};
use roxmltree::{Document, Node, ParsingOptions};

/// Elements HTML parses as void; only these may be written self-closed (`<x />`), or an HTML
/// parser would see an unclosed element where the XML parser sees an empty one.
const VOID: [&str; 4] = ["meta", "br", "hr", "wbr"];

fn parse(html: &str) -> Document<'_> {
    let opts = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(html, opts).unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

/// Checks that hold for every page: well-formed, HTML-compatible self-closing, no script or
/// external resource, no event handler, every internal link resolves, ids unique.
fn check_page(html: &str) -> Document<'_> {
    let doc = parse(html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(doc.root_element().tag_name().name(), "html");
    for (at, _) in html.match_indices("/>") {
        let open = html[..at].rfind('<').expect("a tag before />");
        let name: String = html[open + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            VOID.contains(&name.as_str()),
            "non-void element self-closed: <{name} .../>"
        );
    }
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "raw <script in page"
    );
    let mut ids = std::collections::HashSet::new();
    for node in doc.descendants().filter(Node::is_element) {
        let name = node.tag_name().name();
        assert!(
            !["script", "link", "iframe", "object", "embed", "img"].contains(&name),
            "<{name}> in page"
        );
        for attr in node.attributes() {
            assert!(
                !attr.name().starts_with("on"),
                "event handler {}",
                attr.name()
            );
            assert!(attr.name() != "src", "external resource");
        }
        if let Some(id) = node.attribute("id") {
            assert!(ids.insert(id.to_string()), "duplicate id {id}");
        }
    }
    for node in doc.descendants().filter(|n| n.has_tag_name("a")) {
        let href = node.attribute("href").expect("link without href");
        let target = href.strip_prefix('#').expect("link leaves the page");
        assert!(ids.contains(target), "link to missing #{target}");
    }
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("style"))
            .count(),
        1
    );
    doc
}

fn has_class(node: &Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|x| x == class))
}

fn all_text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

/// The id of the nearest enclosing node box.
fn owner_node(el: Node<'_, '_>) -> usize {
    let owner = el
        .ancestors()
        .skip(1)
        .find(|a| has_class(a, "node"))
        .expect("inside a node box");
    owner.attribute("data-node").unwrap().parse().unwrap()
}

/// Every leaf and every decision of `tree` is in the box of its node, with its exact values.
fn check_leaves_and_decisions(doc: &Document<'_>, tree: &RolloutTree) {
    let leaves: Vec<Node<'_, '_>> = doc.descendants().filter(|n| has_class(n, "leaf")).collect();
    assert_eq!(leaves.len(), tree.leaves.len());
    for (i, leaf) in tree.leaves.iter().enumerate() {
        let id = format!("leaf-{i}");
        let el = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id.as_str()))
            .unwrap();
        assert_eq!(owner_node(el), leaf.node, "leaf {i}");
        let text = all_text(el);
        // The names of the JSON form (serde `snake_case`).
        let finish = match leaf.finish {
            FinishReason::Stop => "finish stop",
            FinishReason::Length => "finish length",
            FinishReason::ToolLimit => "finish tool_limit",
        };
        assert!(text.contains(finish), "{text}");
        let reward = leaf
            .reward
            .map_or("unscored".to_string(), |r| format!("{r:.3}"));
        assert!(text.contains(&reward), "{text} lacks {reward}");
    }
    let decisions: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| has_class(n, "decision"))
        .collect();
    assert_eq!(
        decisions.len(),
        tree.nodes.iter().map(|n| n.decisions.len()).sum::<usize>()
    );
    for el in decisions {
        let node = owner_node(el);
        let k: usize = el.attribute("data-decision").unwrap().parse().unwrap();
        let d = &tree.nodes[node].decisions[k];
        let f = |name: &str| el.attribute(name).unwrap().parse::<f64>().unwrap();
        // Shortest round-trip formatting: the values read back bit-exactly.
        assert_eq!(f("data-draw"), d.draw);
        assert_eq!(f("data-probability"), d.probability);
        assert_eq!(
            el.attribute("data-branched"),
            Some(d.branched.to_string().as_str())
        );
        assert_eq!(
            el.attribute("data-copies"),
            Some(d.copies.to_string().as_str())
        );
        assert_eq!(has_class(&el, "branched"), d.branched);
        let text = all_text(el);
        for v in [d.initial_entropy, d.step_entropy, d.probability, d.draw] {
            assert!(text.contains(&format!("{v:.3}")), "{text} lacks {v:.3}");
        }
    }
}

#[test]
fn hostile_text_is_shown_not_run() {
    let tree = hostile_tree();
    tree.validate().unwrap();
    let html = render_tree_html(&tree, &HtmlOptions::default());
    let doc = check_page(&html);
    let text = all_text(doc.root());
    // The payload appears decoded as text (prompt, tool input, output, model answer, task id).
    assert!(
        text.matches(SCRIPT).count() >= 5,
        "payload shown {} times",
        text.matches(SCRIPT).count()
    );
    assert!(text.contains("日本語 🦀 مرحبا"));
    // Terminal escapes and NUL in tool output are replaced by visible control pictures.
    assert!(text.contains("\u{241b}[31mred\u{2400}") && !text.contains('\u{1b}'));
    check_leaves_and_decisions(&doc, &tree);
}

#[test]
fn tool_calls_prompt_and_legend_are_readable() {
    let tree = hostile_tree();
    let html = render_tree_html(&tree, &HtmlOptions::default());
    let doc = check_page(&html);
    let tools: Vec<Node<'_, '_>> = doc.descendants().filter(|n| has_class(n, "tool")).collect();
    assert_eq!(tools.len(), 2);
    for (el, seg) in tools
        .iter()
        .zip([&tree.nodes[1].segments[1], &tree.nodes[2].segments[1]])
    {
        let call = seg.tool_call.as_ref().unwrap();
        let name = el.descendants().find(|n| has_class(n, "toolname")).unwrap();
        assert_eq!(all_text(name), call.tool);
        let code = el.descendants().find(|n| n.has_tag_name("code")).unwrap();
        assert_eq!(all_text(code), call.input);
        let status = if call.ok { "ok" } else { "failed" };
        assert!(has_class(el, status));
        assert!(all_text(*el).contains(&format!("{:.1} ms", call.latency_ms)));
    }
    // The prompt is folded: a <details> without `open`, holding the prompt text.
    let prompt = doc.descendants().find(|n| has_class(n, "prompt")).unwrap();
    assert!(prompt.has_tag_name("details") && prompt.attribute("open").is_none());
    assert!(all_text(prompt).contains(&tree.nodes[0].segments[0].text));
    // Legend: one swatch per bin, each bin class defined in the style sheet.
    let legend = doc.descendants().find(|n| has_class(n, "legend")).unwrap();
    let style = all_text(doc.descendants().find(|n| n.has_tag_name("style")).unwrap());
    for bin in 0..ENTROPY_BINS {
        let class = format!("e{bin}");
        assert!(legend
            .descendants()
            .any(|n| has_class(&n, "sw") && has_class(&n, &class)));
        assert!(style.contains(&format!(".{class}{{background:#")));
    }
}

#[test]
fn per_token_colours_follow_entropy_order() {
    let tree = hostile_tree();
    let decode = |id: u32| format!("<{id}>");
    let options = HtmlOptions {
        token_text: TokenText::Decode(&decode),
        entropy_scale: EntropyScale::Fixed { max_nats: 2.0 },
        ..HtmlOptions::default()
    };
    let html = render_tree_html(&tree, &options);
    let doc = check_page(&html);
    let models: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| has_class(n, "model"))
        .collect();
    let segs: Vec<_> = tree
        .nodes
        .iter()
        .flat_map(|n| &n.segments)
        .filter(|s| s.origin == arpo_core::Origin::Model)
        .collect();
    assert_eq!(models.len(), segs.len());
    for (el, seg) in models.iter().zip(&segs) {
        let spans: Vec<Node<'_, '_>> = el.descendants().filter(|n| has_class(n, "t")).collect();
        assert_eq!(spans.len(), seg.len());
        let bins: Vec<usize> = spans
            .iter()
            .map(|s| {
                s.attribute("class")
                    .unwrap()
                    .split(' ')
                    .find_map(|c| c.strip_prefix('e')?.parse().ok())
                    .unwrap()
            })
            .collect();
        for (i, span) in spans.iter().enumerate() {
            assert_eq!(all_text(*span), decode(seg.tokens[i]));
            let h = seg.entropies[i];
            // Property of a monotone scale with top 2 nats: 0 → lowest bin, ≥ 2 → top bin,
            // higher entropy never gets a lower bin.
            if h == 0.0 {
                assert_eq!(bins[i], 0);
            }
            if h >= 2.0 {
                assert_eq!(bins[i], ENTROPY_BINS - 1);
            }
            for j in 0..spans.len() {
                if seg.entropies[j] > h {
                    assert!(bins[j] >= bins[i]);
                }
            }
        }
    }
    // The kept decision of n2 forks inside its last model segment: marked inline there.
    let last = models
        .iter()
        .find(|m| all_text(**m).contains("<1003>") && owner_node(**m) == 2)
        .unwrap();
    assert_eq!(
        last.descendants().filter(|n| has_class(n, "fork")).count(),
        1
    );
}

#[test]
fn sixteen_leaves_nest_like_the_tree() {
    let tree = sixteen_leaf_tree();
    tree.validate().unwrap();
    assert_eq!((tree.leaves.len(), tree.nodes.len()), (16, 32));
    let html = render_tree_html(&tree, &HtmlOptions::default());
    let doc = check_page(&html);
    check_leaves_and_decisions(&doc, &tree);
    let boxes: Vec<Node<'_, '_>> = doc.descendants().filter(|n| has_class(n, "node")).collect();
    assert_eq!(boxes.len(), tree.nodes.len());
    for el in boxes {
        let id: usize = el.attribute("data-node").unwrap().parse().unwrap();
        let parent = el.ancestors().skip(1).find(|a| has_class(a, "node"));
        let parent_id = parent.map(|p| p.attribute("data-node").unwrap().parse::<usize>().unwrap());
        assert_eq!(parent_id, tree.nodes[id].parent, "node {id}");
    }
    // The summary table shows the token sharing computed by arpo-core.
    let s = TreeSummary::of(&tree);
    let summary = all_text(doc.descendants().find(|n| has_class(n, "summary")).unwrap());
    assert!(summary.contains(&format!(
        "{} / {}",
        tree.unique_tokens(),
        tree.trajectory_tokens()
    )));
    assert!(summary.contains(&format!("{:.3}", s.sharing_ratio().unwrap())));
}

#[test]
fn malformed_trees_render_with_a_warning() {
    let mut tree = hostile_tree();
    tree.leaves[0].node = 99; // dangling leaf
    tree.nodes[3].children.push(1); // cycle back to n1 (its parent is still 0)
    tree.nodes[2].segments[0].entropies.pop(); // misaligned per-token data
    let decode = |id: u32| id.to_string();
    let options = HtmlOptions {
        token_text: TokenText::Decode(&decode),
        ..HtmlOptions::default()
    };
    let html = render_tree_html(&tree, &options);
    let doc = check_page(&html);
    assert!(doc.descendants().any(|n| has_class(&n, "warn")));
    let empty = RolloutTree {
        task_id: "empty".into(),
        seed: 0,
        nodes: Vec::new(),
        leaves: Vec::new(),
    };
    check_page(&render_tree_html(&empty, &HtmlOptions::default()));
}
