//! The text renderer and the summary on small hand-built trees: the expected output is derived
//! by hand from the tree definitions (token counts, means, sharing ratio worked out in the
//! comments), and the summary is compared with arpo-core's own tree accounting.

mod render_support;

use arpo_core::{FinishReason, RolloutTree};
use arpo_rollout::render::{render_tree_text, TreeSummary};
use render_support::{call, decision, hostile_tree, leaf, model, prompt, sixteen_leaf_tree, tool};

/// n0 prompt (3) → n1 model (4) + python result (2), branched once → n2 (2 tokens, leaf 0),
/// n3 (1 token, leaf 1, unscored).
fn small_tree() -> RolloutTree {
    let mut t = RolloutTree::new("snap", 42, prompt("Q?", 3));
    let n1 = t.add_child(0);
    t.nodes[n1].segments = vec![
        model("<python>1+1</python>", &[0.5, 0.5, 1.0, 1.0]),
        tool(call("python", "1+1", "2", true, 12.4), 2),
    ];
    t.nodes[n1]
        .decisions
        .push(decision(6, 0.2, 0.5, 0.8, 0.25, 1));
    let n2 = t.add_child(n1);
    t.nodes[n2].segments = vec![model("a", &[0.2, 0.4])];
    let n3 = t.add_child(n1);
    t.nodes[n3].segments = vec![model("b", &[0.0])];
    t.leaves = vec![
        leaf(n2, FinishReason::Stop, 1, Some(1.0)),
        leaf(n3, FinishReason::Length, 1, None),
    ];
    t
}

#[test]
fn text_rendering_of_a_small_tree() {
    // Unique tokens 3 + 6 + 2 + 1 = 12; over trajectories (3+6+2) + (3+6+1) = 21; 12/21 = 0.571.
    // Mean entropies: n1 (0.5+0.5+1+1)/4 = 0.75, n2 0.3, n3 0; ΔH = 0.5 − 0.2 = +0.3.
    let want = "\
tree snap seed 42: 2 leaves, 4 nodes, 1/1 decisions branched, 12 unique / 21 trajectory tokens (0.571), 1 tool calls (0 failed), mean reward 1.000 (1 scored)
n0 3 tok (prompt 3)
`-- n1 6 tok (model 4, tool 2) H=0.750 | python ok 12ms | fork@6 dH=+0.300 P=0.800 u=0.250 branched x1
    |-- n2 2 tok (model 2) H=0.300 => leaf 0: stop, 1 tools, R=1.000
    `-- n3 1 tok (model 1) H=0.000 => leaf 1: length, 1 tools, R=unscored
";
    assert_eq!(render_tree_text(&small_tree()), want);
}

#[test]
fn text_lines_follow_the_tree_and_stay_on_one_line() {
    let tree = hostile_tree();
    let text = render_tree_text(&tree);
    let lines: Vec<&str> = text.lines().collect();
    // A summary line, then one line per node.
    assert_eq!(lines.len(), 1 + tree.nodes.len());
    // No terminal control character gets through (the task id and a tool name are hostile).
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    assert!(
        lines[3].contains("FAILED") && lines[3].contains("kept") && lines[3].contains("R=1.100")
    );

    let sixteen = render_tree_text(&sixteen_leaf_tree());
    assert_eq!(sixteen.lines().count(), 1 + 32);
    assert_eq!(sixteen.matches("=> leaf ").count(), 16);
    assert_eq!(sixteen.matches("branched x1").count(), 15);
    // Leaves sit at depth 5: four ancestors' prefixes then the connector.
    assert!(sixteen
        .lines()
        .filter(|l| l.contains("=> leaf"))
        .all(|l| l.find('n') == Some(5 * 4)));
}

#[test]
fn summary_agrees_with_the_tree_accounting_of_arpo_core() {
    for tree in [small_tree(), hostile_tree(), sixteen_leaf_tree()] {
        let s = TreeSummary::of(&tree);
        assert_eq!(s.unique_tokens, tree.unique_tokens());
        assert_eq!(s.trajectory_tokens, tree.trajectory_tokens());
        assert_eq!(s.branches, tree.branch_count());
        assert_eq!((s.leaves, s.nodes), (tree.leaves.len(), tree.nodes.len()));
    }
    let s = TreeSummary::of(&hostile_tree());
    // Two calls executed (python ok, the hostile one failed); leaves count 2 + 1 + 1.
    assert_eq!(
        (s.tool_calls, s.failed_tool_calls, s.trajectory_tool_calls),
        (2, 1, 4)
    );
    // Rewards 1.1 and −1.0 scored, one unscored: mean 0.05.
    assert_eq!(s.scored_leaves, 2);
    assert!((s.mean_reward.unwrap() - 0.05).abs() < 1e-6);
    // Model tokens: n1 6 + 2, n2 3 + 4, n3 1, n4 0 = 16.
    assert_eq!(s.model_tokens, 16);
    let small = TreeSummary::of(&small_tree());
    assert!((small.sharing_ratio().unwrap() - 12.0 / 21.0).abs() < 1e-12);
    assert!((small.mean_model_entropy.unwrap() - (3.0 + 0.6) / 7.0).abs() < 1e-6);
}
