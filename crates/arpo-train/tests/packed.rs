//! Tree-packed training against the per-leaf computation on the same tree: the packed loss and
//! the gradients of several parameters equal those of forwarding every trajectory on its own
//! (soft attribution), while fewer tokens are forwarded.

mod common;

use arpo_model::{from_scratch, CausalLm, ModelConfig};
use arpo_train::advantage::GROUP_EPS;
use arpo_train::packed::PackedTree;
use arpo_train::tree_loss::{tree_policy_loss, Forward, TreeRows};
use arpo_train::{
    attribute, leaf_advantages, Attribution, KlEstimator, KlPenalty, LossAgg, PolicyLossConfig,
};
use burn::backend::{Autodiff, Flex};
use burn::module::Param;
use burn::tensor::{backend::AutodiffBackend, Tensor};

type B = Autodiff<Flex>;

fn grad_of<const D: usize>(
    p: &Param<Tensor<B, D>>,
    grads: &<B as AutodiffBackend>::Gradients,
) -> Vec<f32> {
    p.val()
        .grad(grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap()
}

/// Loss value and the gradients of a few parameters spread over the network.
fn loss_and_grads(
    model: &CausalLm<B>,
    reference: &CausalLm<B>,
    batch: &[TreeRows],
    forward: Forward,
    config: &PolicyLossConfig,
) -> (f32, Vec<Vec<f32>>, usize) {
    let (loss, stats, fwd) =
        tree_policy_loss(model, Some(reference), batch, forward, config, 1.0).unwrap();
    assert!(stats.tokens > 0);
    let value = loss.clone().into_data().to_vec::<f32>().unwrap()[0];
    let grads = loss.backward();
    let l0 = &model.model.layers[0];
    let l1 = &model.model.layers[1];
    let g = vec![
        grad_of(&model.model.embed_tokens.weight, &grads),
        grad_of(&l0.self_attn.q_proj.weight, &grads),
        grad_of(&l0.self_attn.v_proj.weight, &grads),
        grad_of(&l1.mlp.down_proj.weight, &grads),
        grad_of(&l1.input_layernorm.weight, &grads),
        grad_of(&model.model.norm.weight, &grads),
    ];
    (value, g, fwd.tokens)
}

fn perturbed_old(tree: &mut arpo_core::RolloutTree) {
    // Old log-probs away from the current ones so that ratios vary and some clip.
    for node in &mut tree.nodes {
        for seg in &mut node.segments {
            for (i, lp) in seg.logprobs.iter_mut().enumerate() {
                if seg.loss_mask[i] {
                    *lp = -5.0 + (i as f32 * 0.37).sin();
                }
            }
        }
    }
}

#[test]
fn packed_loss_and_gradients_equal_per_leaf() {
    let _graphs = arpo_train::autodiff_section();
    let device = Default::default();
    let config = ModelConfig::small(97, 32, 2);
    let model: CausalLm<B> = from_scratch(&config, 3, &device).unwrap();
    let reference: CausalLm<B> = from_scratch(&config, 4, &device).unwrap();
    let mut tree = common::branched_tree(97);
    perturbed_old(&mut tree);
    let adv = leaf_advantages(&tree, GROUP_EPS).unwrap();
    let rows = attribute(&tree, &adv, Attribution::Soft).unwrap();
    let batch = [TreeRows { tree: &tree, rows }];
    for agg in [
        LossAgg::TokenMean,
        LossAgg::SeqMeanTokenMean,
        LossAgg::SeqMeanTokenSum,
    ] {
        let loss_config = PolicyLossConfig {
            agg,
            kl: Some(KlPenalty {
                coef: 0.1,
                estimator: KlEstimator::K3,
            }),
            ..Default::default()
        };
        let (lp, gp, tok_p) =
            loss_and_grads(&model, &reference, &batch, Forward::Packed, &loss_config);
        let (ll, gl, tok_l) =
            loss_and_grads(&model, &reference, &batch, Forward::PerLeaf, &loss_config);
        assert!(
            (lp - ll).abs() <= 1e-5,
            "{agg:?}: packed loss {lp} vs per-leaf {ll}"
        );
        let mut worst = 0.0f32;
        for (a, b) in gp.iter().zip(&gl) {
            assert!(
                a.iter().any(|&x| x != 0.0),
                "a compared gradient is all zero"
            );
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs());
            }
        }
        assert!(worst <= 1e-5, "{agg:?}: gradients differ by {worst}");
        assert_eq!(tok_p, tree.unique_tokens());
        assert_eq!(tok_l, tree.trajectory_tokens() - tree.leaves.len());
        assert!(tok_p < tok_l);
        eprintln!(
            "{agg:?}: loss packed {lp:.7} per-leaf {ll:.7}, max |Δgrad| {worst:.2e}; tokens forwarded packed {tok_p} / per-leaf {tok_l} = {:.3}",
            tok_p as f64 / tok_l as f64
        );
    }
}

#[test]
fn hard_attribution_packed_equals_per_leaf() {
    let _graphs = arpo_train::autodiff_section();
    let device = Default::default();
    let config = ModelConfig::small(97, 32, 2);
    let model: CausalLm<B> = from_scratch(&config, 5, &device).unwrap();
    let mut tree = common::branched_tree(97);
    perturbed_old(&mut tree);
    let adv = leaf_advantages(&tree, GROUP_EPS).unwrap();
    let rows = attribute(&tree, &adv, Attribution::Hard).unwrap();
    let batch = [TreeRows { tree: &tree, rows }];
    let loss_config = PolicyLossConfig::default();
    let (lp, gp, _) = loss_and_grads(&model, &model, &batch, Forward::Packed, &loss_config);
    let (ll, gl, _) = loss_and_grads(&model, &model, &batch, Forward::PerLeaf, &loss_config);
    assert!((lp - ll).abs() <= 1e-5);
    for (a, b) in gp.iter().zip(&gl) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5);
        }
    }
}

#[test]
fn packing_layout_follows_the_tree() {
    let _graphs = arpo_train::autodiff_section();
    let tree = common::branched_tree(97);
    let p = PackedTree::new(&tree).unwrap();
    assert_eq!(p.len(), tree.unique_tokens());
    // Every leaf's path, read from the packed layout, is its token sequence with positions 0..n.
    for leaf in 0..tree.leaves.len() {
        let mut idx: Vec<usize> = (0..p.len())
            .filter(|&i| tree.path(tree.leaves[leaf].node).contains(&p.node_of[i]))
            .collect();
        idx.sort_by_key(|&i| p.positions[i]);
        let toks: Vec<u32> = idx.iter().map(|&i| p.tokens[i]).collect();
        assert_eq!(toks, tree.leaf_tokens(leaf));
        assert_eq!(
            idx.iter().map(|&i| p.positions[i]).collect::<Vec<_>>(),
            (0..toks.len()).collect::<Vec<_>>()
        );
        // Each token's predecessor is the previous token on the path.
        for w in idx.windows(2) {
            assert_eq!(p.predecessor[w[1]], Some(w[0]));
        }
        let allowed = p.allowed();
        let last = *idx.last().unwrap();
        let visible: Vec<usize> = (0..p.len()).filter(|&j| allowed[last][j]).collect();
        let mut on_path = idx.clone();
        on_path.sort_unstable();
        assert_eq!(visible, on_path);
    }
    assert_eq!(p.predecessor[0], None);
}
