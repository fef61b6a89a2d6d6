//! REINFORCE++ in the RL loop. The advantages of a hand-made batch of two branched trees (with
//! tool segments) are compared with an independent computation written out in this file:
//! walk each leaf's path by parent links, keep loss-masked tokens, k1 KL against made-up
//! reference log-probs, outcome on the last trained token, returns by explicit powers of γ,
//! whitening in f64 over every trained token of both trees. The reference log-probs that feed
//! the KL are checked against the rollout's own: scored by the sampling model itself, they
//! must equal the log-probs recorded at sampling (so k1 is 0 up to float error). Then one ARPO
//! tree step with the estimator and a frozen reference runs and gives finite metrics, and the
//! settings it cannot honour are refused.

mod common;

use std::sync::Arc;

use arpo_core::{RolloutTree, Tool, ToolError};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_rollout::{rollout, ArpoConfig, RolloutInput, RolloutMode};
use arpo_tools::{RunnerConfig, ToolRunner, ToolSpec};
use arpo_train::config::Estimator;
use arpo_train::rl::{reinforce_pp_rows, TaskPosition};
use arpo_train::tree_loss::{row_logprobs, Forward, TreeRows};
use arpo_train::{
    attribute, prompt_tokens, rl_step, Attribution, Optim, RlContext, TaskCursor, TrainConfig,
};
use burn::backend::Flex;
use burn::module::AutodiffModule;
use common::rl::{model, no_tools, rollout_config, runtime, tasks, EvenTasksUniform, B};

/// (old log-prob, made-up reference log-prob) of every trained token on leaf `leaf`'s path,
/// in sequence order, found by walking parent links up from the leaf.
fn leaf_tokens(tree: &RolloutTree, leaf: usize, salt: f32) -> Vec<(f64, f64)> {
    let mut path = vec![tree.leaves[leaf].node];
    while let Some(p) = tree.nodes[*path.last().unwrap()].parent {
        path.push(p);
    }
    path.reverse();
    let mut out = Vec::new();
    for node in path {
        for seg in &tree.nodes[node].segments {
            for (i, &m) in seg.loss_mask.iter().enumerate() {
                if m {
                    let old = seg.logprobs[i];
                    let reference = old + 0.3 * ((out.len() as f32 + salt).sin());
                    out.push((f64::from(old), f64::from(reference)));
                }
            }
        }
    }
    out
}

#[test]
fn advantages_equal_an_independent_computation_over_the_whole_batch() {
    let _graphs = arpo_train::autodiff_section();
    let (gamma, kl_coef) = (0.9f64, 0.05f64);
    let trees = [common::branched_tree(97), common::branched_tree(53)];
    let salts = [0.0f32, 7.0];

    // Independent: per leaf rewards r_t = −c·(old − ref), + R on the last token; returns
    // G_t = Σ_{k ≥ t} γ^(k−t) r_k; whitening over all tokens of both trees.
    let mut returns: Vec<Vec<f64>> = Vec::new();
    let mut refs: Vec<Vec<Vec<f32>>> = Vec::new();
    for (tree, salt) in trees.iter().zip(salts) {
        let mut tree_refs = Vec::new();
        for leaf in 0..tree.leaves.len() {
            let toks = leaf_tokens(tree, leaf, salt);
            tree_refs.push(toks.iter().map(|t| t.1 as f32).collect());
            let mut r: Vec<f64> = toks.iter().map(|(o, rf)| -kl_coef * (o - rf)).collect();
            *r.last_mut().unwrap() += f64::from(tree.leaves[leaf].reward.unwrap());
            let g = (0..r.len())
                .map(|t| {
                    (t..r.len())
                        .map(|k| gamma.powi((k - t) as i32) * r[k])
                        .sum()
                })
                .collect();
            returns.push(g);
        }
        refs.push(tree_refs);
    }
    let all: Vec<f64> = returns.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (all.len() - 1) as f64;
    let expect: Vec<Vec<f64>> = returns
        .iter()
        .map(|g| g.iter().map(|x| (x - mean) / (var + 1e-8).sqrt()).collect())
        .collect();

    let tree_refs: Vec<&RolloutTree> = trees.iter().collect();
    let rows = reinforce_pp_rows(&tree_refs, &refs, gamma as f32, kl_coef as f32).unwrap();
    let got: Vec<&Vec<f32>> = rows
        .iter()
        .flatten()
        .map(|r| r.token_advantages.as_ref().unwrap())
        .collect();
    assert_eq!(got.len(), 12, "one row per leaf of both trees");
    let mut worst = 0.0f64;
    for (g, e) in got.iter().zip(&expect) {
        assert_eq!(g.len(), e.len());
        for (&a, &b) in g.iter().zip(e) {
            worst = worst.max((f64::from(a) - b).abs());
        }
    }
    eprintln!("{} tokens; largest difference {worst:.2e}", all.len());
    assert!(worst <= 1e-6, "largest difference {worst}");
}

#[test]
fn reference_logprobs_of_the_sampling_model_equal_the_rollouts() {
    let _graphs = arpo_train::autodiff_section();
    let tok = ByteTokenizer::with_tool_tags();
    let policy = model(&tok, 5).valid();
    let config = rollout_config(&tok, RolloutMode::Trajectory { samples: 3 }, 12);
    let inputs: Vec<RolloutInput> = tasks(2)
        .iter()
        .map(|t| RolloutInput {
            task_id: t.id.clone(),
            prompt_tokens: prompt_tokens(&tok, t).unwrap(),
        })
        .collect();
    let out = runtime()
        .block_on(rollout::<Flex, _>(
            &policy,
            &tok,
            no_tools(),
            &inputs,
            &config,
            3,
        ))
        .unwrap();
    let mut worst = 0.0f64;
    let mut tokens = 0;
    for (i, tree) in out.trees.iter().enumerate() {
        let rows = attribute(tree, &vec![0.0; tree.leaves.len()], Attribution::Soft).unwrap();
        for forward in [Forward::Packed, Forward::PerLeaf] {
            let batch = [TreeRows {
                tree,
                rows: rows.clone(),
            }];
            let scored = row_logprobs(&policy, &batch, forward, 1.0).unwrap();
            for (leaf, lp) in scored.iter().enumerate() {
                let sampled = leaf_tokens(tree, leaf, i as f32);
                assert_eq!(lp.len(), sampled.len(), "leaf {leaf}: token count");
                for (&a, &(old, _)) in lp.iter().zip(&sampled) {
                    worst = worst.max((f64::from(a) - old).abs());
                    tokens += 1;
                }
            }
        }
    }
    eprintln!("{tokens} token log-probs; largest difference {worst:.2e}");
    assert!(tokens > 0 && worst <= 1e-4, "largest difference {worst}");
}

/// Answers every call with a fixed page.
struct MockSearch;

#[async_trait::async_trait]
impl Tool for MockSearch {
    fn name(&self) -> &str {
        "search"
    }
    async fn call(&self, input: &str) -> Result<String, ToolError> {
        Ok(format!("Page 1: facts about {input}"))
    }
}

#[test]
fn an_arpo_tree_step_with_reinforce_pp_gives_finite_metrics() {
    let _graphs = arpo_train::autodiff_section();
    let tok = ByteTokenizer::with_tool_tags();
    let mut train = TrainConfig::reinforce_pp();
    train.advantage.estimator = Estimator::ReinforcePp {
        gamma: 0.99,
        kl_coef: 0.1,
    };
    train.optimizer.lr = 1e-3;
    train.ppo.batch_prompts = 2;
    train.ppo.mini_batch_prompts = 1;
    let arpo = ArpoConfig {
        total: 4,
        initial: 2,
        entropy_window: 4,
        ..ArpoConfig::default()
    };
    let rollout = rollout_config(&tok, RolloutMode::Arpo(arpo), 12);
    let reference = model(&tok, 99);
    let step = |train: &TrainConfig, reference: Option<&_>| {
        let ctx = RlContext {
            tokenizer: &tok,
            runner: Arc::new(
                ToolRunner::new(
                    RunnerConfig::default(),
                    vec![ToolSpec::new(Arc::new(MockSearch))],
                )
                .unwrap(),
            ),
            reward: &EvenTasksUniform,
            rollout: &rollout,
            train,
            validation_tasks: &[],
        };
        let tasks = tasks(2);
        let mut cursor = TaskCursor::new(&tasks, TaskPosition::default()).unwrap();
        let mut optim = Optim::<B, _>::new(train.optimizer.clone(), train.schedule);
        runtime().block_on(rl_step(
            model(&tok, 5),
            &mut optim,
            reference,
            &mut cursor,
            &ctx,
            0,
            8,
        ))
    };
    let (_, m) = step(&train, Some(&reference)).unwrap();
    eprintln!("{}", serde_json::to_string(&m).unwrap());
    assert_eq!(m.leaves, 8, "ARPO gives exactly M leaves per prompt");
    assert_eq!(m.updates, 2);
    for (name, v) in [
        ("reward_mean", m.reward_mean),
        ("entropy_mean", m.entropy_mean),
        ("clip_frac", m.clip_frac),
        ("approx_kl", m.approx_kl),
        ("loss", m.loss),
        ("grad_norm", m.grad_norm),
    ] {
        assert!(v.is_finite(), "{name} = {v}");
    }
    // Whitened advantages are not all zero, so the policy gradient is not either.
    assert!(m.grad_norm > 0.0);

    let err = step(&train, None).unwrap_err().to_string();
    assert!(
        err.contains("reference") && err.contains("kl_coef = 0.1"),
        "{err}"
    );
    train.advantage.attribution = Attribution::Hard;
    let err = step(&train, Some(&reference)).unwrap_err().to_string();
    assert!(err.contains("advantage.attribution = hard"), "{err}");
}
