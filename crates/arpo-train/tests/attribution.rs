//! Advantage estimators and attribution over a rollout tree, checked against properties that
//! must hold and against hand-computed values.

mod common;

use arpo_train::advantage::{
    discounted_returns, outcome_token_rewards, reinforce_pp_advantages, token_weights,
    trained_offsets, GROUP_EPS,
};
use arpo_train::{attribute, group_advantages, leaf_advantages, Attribution, RowSource};

#[test]
fn group_normalisation_uses_unbiased_std_and_degenerate_groups_give_zero() {
    // mean 2, unbiased std 1: (R − 2) / (1 + 1e-6).
    let (adv, stats) = group_advantages(&[1.0, 2.0, 3.0], GROUP_EPS);
    assert_eq!((stats.mean, stats.std), (2.0, 1.0));
    let expect = [-1.0 / (1.0 + 1e-6), 0.0, 1.0 / (1.0 + 1e-6)];
    for (a, e) in adv.iter().zip(expect) {
        assert!((f64::from(*a) - e).abs() < 1e-7);
    }
    assert_eq!(group_advantages(&[0.7], GROUP_EPS).0, vec![0.0]);
    // 0.1 three times: the float mean is not exactly 0.1, the advantages must still be 0.
    assert_eq!(
        group_advantages(&[0.1, 0.1, 0.1], GROUP_EPS).0,
        vec![0.0; 3]
    );
    assert!(group_advantages(&[], GROUP_EPS).0.is_empty());
}

#[test]
fn reinforce_pp_whitens_over_all_tokens_of_the_batch() {
    let returns = vec![
        discounted_returns(&outcome_token_rewards(1.0, &[0.0, 0.0], 0.1), 1.0),
        vec![0.0, 0.0, 0.0],
    ];
    assert_eq!(returns[0], vec![1.0, 1.0]);
    let adv = reinforce_pp_advantages(&returns);
    let all: Vec<f64> = adv.iter().flatten().map(|&x| f64::from(x)).collect();
    let mean = all.iter().sum::<f64>() / 5.0;
    let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
    assert!(
        mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-6,
        "mean {mean} var {var}"
    );
    // KL in the reward: −coef·kl on every token, the outcome on the last; γ discounts.
    assert_eq!(
        outcome_token_rewards(2.0, &[1.0, 0.5], 0.1),
        vec![-0.1, 2.0 - 0.05]
    );
    assert_eq!(
        discounted_returns(&[1.0, 0.0, 2.0], 0.5),
        vec![1.5, 1.0, 2.0]
    );
}

#[test]
fn soft_weights_summed_over_leaves_equal_hard_weight_times_descendants() {
    let tree = common::branched_tree(97);
    let adv = leaf_advantages(&tree, GROUP_EPS).unwrap();
    let soft = attribute(&tree, &adv, Attribution::Soft).unwrap();
    let hard = attribute(&tree, &adv, Attribution::Hard).unwrap();
    assert_eq!(soft.len(), tree.leaves.len());
    assert!(soft.iter().all(|r| matches!(r.source, RowSource::Leaf(_))));
    let ws = token_weights(&tree, &soft);
    let wh = token_weights(&tree, &hard);
    let desc = tree.descendant_leaves();
    let mut checked = 0;
    for node in 0..tree.nodes.len() {
        for off in 0..tree.nodes[node].num_tokens() {
            let want = wh[node][off] * desc[node] as f64;
            assert!(
                (ws[node][off] - want).abs() < 1e-6,
                "node {node} token {off}: soft {} vs hard×{} {want}",
                ws[node][off],
                desc[node]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, tree.unique_tokens());
    // Hard trains each trained token once; soft once per leaf below it.
    let trained: usize = (0..tree.nodes.len())
        .map(|n| trained_offsets(&tree, n).len())
        .sum();
    assert_eq!(hard.iter().map(|r| r.tokens.len()).sum::<usize>(), trained);
    let soft_tokens: usize = soft.iter().map(|r| r.tokens.len()).sum();
    let expect: usize = (0..tree.nodes.len())
        .map(|n| trained_offsets(&tree, n).len() * desc[n])
        .sum();
    assert_eq!(soft_tokens, expect);
    assert!(soft_tokens > trained);
    // The shared node's hard advantage is the mean over all leaves, which is 0 after
    // normalisation; the A node's is the mean of its two leaves.
    let shared = hard
        .iter()
        .find(|r| r.source == RowSource::Node(1))
        .unwrap();
    assert!(shared.advantage.abs() < 1e-6);
    let a = hard
        .iter()
        .find(|r| r.source == RowSource::Node(2))
        .unwrap();
    assert!((a.advantage - (adv[0] + adv[1]) / 2.0).abs() < 1e-6);
    // Tool tokens are never in a row.
    assert!(soft
        .iter()
        .flat_map(|r| &r.tokens)
        .all(|t| trained_offsets(&tree, t.node).contains(&t.offset)));
}

#[test]
fn attribution_rejects_missing_rewards_and_wrong_lengths() {
    let mut tree = common::branched_tree(97);
    assert!(attribute(&tree, &[0.0; 3], Attribution::Soft).is_err());
    tree.leaves[2].reward = None;
    let err = leaf_advantages(&tree, GROUP_EPS).unwrap_err().to_string();
    assert!(err.contains("leaf 2"), "{err}");
}
