//! The RL step end to end on a tiny from-scratch model: rollout → reward → advantages → PPO
//! updates.
//!
//! Compared with an independent control: the same run (same seeds, same rollouts at step 0) with
//! learning rate 0 must not improve, while the trained run must raise the mean reward of a
//! trivially learnable reward (the fraction of lowercase ASCII letters in the response) well
//! above both its own start and the control. The ARPO test checks that a tree rollout with a
//! (mock) tool runner goes through the whole step and yields finite metrics.

mod common;

use std::sync::Arc;

use common::rl::tasks;

use arpo_core::{Reward, RewardOutcome, Task, Tokenizer, Tool, ToolError};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{CausalLm, SamplingConfig};
use arpo_rollout::{ArpoConfig, RolloutConfig, RolloutMode};
use arpo_tools::{RunnerConfig, ToolRunner, ToolSpec};
use arpo_train::rl::TaskPosition;
use arpo_train::{rl_step, run_rl, Optim, RlContext, StepMetrics, TaskCursor, TrainConfig};
use burn::backend::{Autodiff, Flex};

type B = Autodiff<Flex>;

/// Pays the fraction of the response's characters that are lowercase ASCII letters.
struct LowercaseReward;

impl Reward for LowercaseReward {
    fn score(&self, _task: &Task, response: &str) -> RewardOutcome {
        let chars: Vec<char> = response.chars().collect();
        let good = chars.iter().filter(|c| c.is_ascii_lowercase()).count();
        let score = if chars.is_empty() {
            0.0
        } else {
            good as f32 / chars.len() as f32
        };
        RewardOutcome {
            score,
            correct: score > 0.5,
            format_ok: true,
            answer: None,
        }
    }
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

/// The shared tiny model, always from seed 11 here.
fn model(tok: &ByteTokenizer) -> CausalLm<B> {
    common::rl::model(tok, 11)
}

fn train_config(lr: f64, steps: u64) -> TrainConfig {
    let mut c = TrainConfig::grpo();
    c.seed = 3;
    c.optimizer.lr = lr;
    c.optimizer.weight_decay = 0.0;
    c.ppo.batch_prompts = 4;
    c.ppo.mini_batch_prompts = 2;
    c.ppo.epochs = 1;
    c.ppo.steps = steps;
    c
}

fn rollout_config(tok: &ByteTokenizer, mode: RolloutMode) -> RolloutConfig {
    let mut r = RolloutConfig::new(mode, SamplingConfig::default(), tok.stop_token_ids());
    r.max_response_tokens = 12;
    r
}

fn run(lr: f64, steps: u64) -> Vec<StepMetrics> {
    let tok = ByteTokenizer::with_tool_tags();
    let dir = tempfile::tempdir().unwrap();
    let mut train = train_config(lr, steps);
    train.checkpoint.dir = dir.path().join("checkpoints");
    let rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 8 });
    let ctx = RlContext {
        tokenizer: &tok,
        runner: Arc::new(ToolRunner::new(RunnerConfig::default(), vec![]).unwrap()),
        reward: &LowercaseReward,
        rollout: &rollout,
        train: &train,
        validation_tasks: &[],
    };
    let path = dir.path().join("metrics.jsonl");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_rl(model(&tok), None, &tasks(4), &ctx, &path, |_| {}))
        .unwrap();
    // The metrics file is the record: one parseable JSON line per step.
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn rl_steps_raise_a_learnable_reward_and_a_zero_lr_control_does_not() {
    let _graphs = arpo_train::autodiff_section();
    const STEPS: u64 = 8;
    let trained = run(1e-2, STEPS);
    let control = run(0.0, STEPS);
    assert_eq!(trained.len(), STEPS as usize);
    let curve: Vec<f64> = trained.iter().map(|m| m.reward_mean).collect();
    let flat: Vec<f64> = control.iter().map(|m| m.reward_mean).collect();
    eprintln!("trained reward curve: {curve:.3?}");
    eprintln!("lr=0 control curve:   {flat:.3?}");
    // Same seeds and same initial weights: the first rollouts are identical.
    assert_eq!(curve[0], flat[0]);
    for m in &trained {
        assert_eq!(m.leaves, 32);
        assert_eq!(m.updates, 2);
        assert!(m.approx_kl.is_finite() && m.clip_frac.is_finite() && m.loss.is_finite());
    }
    let (start, end) = (mean(&curve[..2]), mean(&curve[curve.len() - 2..]));
    let control_end = mean(&flat[flat.len() - 2..]);
    assert!(
        end > start + 0.1 && end > control_end + 0.1,
        "no learning: start {start:.3}, end {end:.3}, control end {control_end:.3}"
    );
}

#[test]
fn one_arpo_step_with_a_tool_runner_gives_finite_metrics() {
    let _graphs = arpo_train::autodiff_section();
    let tok = ByteTokenizer::with_tool_tags();
    let mut train = train_config(1e-3, 1);
    train.ppo.batch_prompts = 2;
    train.advantage.attribution = arpo_train::Attribution::Hard;
    let arpo = ArpoConfig {
        total: 4,
        initial: 2,
        entropy_window: 4,
        ..ArpoConfig::default()
    };
    let rollout = rollout_config(&tok, RolloutMode::Arpo(arpo));
    let runner = ToolRunner::new(
        RunnerConfig::default(),
        vec![ToolSpec::new(Arc::new(MockSearch))],
    )
    .unwrap();
    let ctx = RlContext {
        tokenizer: &tok,
        runner: Arc::new(runner),
        reward: &LowercaseReward,
        rollout: &rollout,
        train: &train,
        validation_tasks: &[],
    };
    let mut optim = Optim::<B, CausalLm<B>>::new(train.optimizer.clone(), train.schedule);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks = tasks(2);
    let mut cursor = TaskCursor::new(&tasks, TaskPosition::default()).unwrap();
    let (_, m) = rt
        .block_on(rl_step(
            model(&tok),
            &mut optim,
            None,
            &mut cursor,
            &ctx,
            0,
            5,
        ))
        .unwrap();
    eprintln!("{}", serde_json::to_string(&m).unwrap());
    assert_eq!(m.leaves, 8, "ARPO gives exactly M leaves per prompt");
    assert_eq!(m.updates, 1);
    for (name, v) in [
        ("reward_mean", m.reward_mean),
        ("reward_std", m.reward_std),
        ("entropy_mean", m.entropy_mean),
        ("clip_frac", m.clip_frac),
        ("approx_kl", m.approx_kl),
        ("loss", m.loss),
        ("grad_norm", m.grad_norm),
    ] {
        assert!(v.is_finite(), "{name} = {v}");
    }
    assert!(m.entropy_mean > 0.0 && m.generated_tokens > 0 && m.train_forwarded_tokens > 0);
}
