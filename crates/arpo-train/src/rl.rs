//! The RL step and loop (docs/arpo.md §3–§4): roll out a batch of tasks with the inference copy
//! of the policy, score every leaf with a [`Reward`], turn rewards into group advantages and loss
//! rows, then run PPO epochs of packed mini-batch updates with AdamW. Each step yields one typed
//! [`StepMetrics`] record, written by [`run_rl`] as one JSON line.
//!
//! Only the GRPO estimator is wired here; REINFORCE++ (per-token KL rewards) is refused with an
//! error rather than silently trained as GRPO.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arpo_core::{ChatMessage, Reward, RolloutTree, Task, TokenId, Tokenizer};
use arpo_model::CausalLm;
use arpo_rollout::{rollout, RolloutConfig, RolloutInput};
use arpo_tools::ToolRunner;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::advantage::{attribute, keeps_group, leaf_advantages};
use crate::config::{Estimator, TrainConfig};
use crate::loss::host;
use crate::optim::Optim;
use crate::tree_loss::{tree_policy_loss, TreeRows};
use crate::{Error, Result};

/// Everything an RL step needs besides the model and optimiser.
pub struct RlContext<'a> {
    /// Encodes prompts and decodes responses.
    pub tokenizer: &'a dyn Tokenizer,
    /// Runs tool calls during rollout.
    pub runner: Arc<ToolRunner>,
    /// Scores each leaf's response text.
    pub reward: &'a dyn Reward,
    /// Rollout settings (tree shape, sampling, budgets).
    pub rollout: &'a RolloutConfig,
    /// Loss, advantage, optimiser and PPO settings.
    pub train: &'a TrainConfig,
}

/// What one RL step did (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Steps completed, this one included.
    pub step: u64,
    /// Mean reward over all leaves (overlong penalty included).
    pub reward_mean: f64,
    /// Population std of the rewards over all leaves.
    pub reward_std: f64,
    /// Fraction of leaves the reward counts as correct.
    pub accuracy: f64,
    /// Leaves that failed the format gate.
    pub format_errors: usize,
    /// Leaves in the batch.
    pub leaves: usize,
    /// Trees kept for the update (all, unless dynamic sampling dropped some).
    pub trees_trained: usize,
    /// Tool calls made during rollout.
    pub tool_calls: usize,
    /// Branch copies created during rollout.
    pub branch_copies: usize,
    /// Mean sampling entropy of the trained tokens (over mini-batch updates).
    pub entropy_mean: f64,
    /// Mean clip fraction over mini-batch updates.
    pub clip_frac: f64,
    /// Mean approximate KL (old vs current) over mini-batch updates.
    pub approx_kl: f64,
    /// Mean policy loss over mini-batch updates.
    pub loss: f64,
    /// Mean gradient norm before clipping over mini-batch updates.
    pub grad_norm: f64,
    /// Learning rate of the last optimiser step.
    pub lr: f64,
    /// Optimiser steps taken.
    pub updates: usize,
    /// Tokens sampled during rollout.
    pub generated_tokens: usize,
    /// Tokens fed through the model during rollout.
    pub rollout_forwarded_tokens: usize,
    /// Tokens fed through the model by the training forwards (all epochs).
    pub train_forwarded_tokens: usize,
    /// Rollout wall time.
    pub rollout_seconds: f64,
    /// Whole step wall time.
    pub seconds: f64,
}

/// Prompt tokens of a task: its data-supplied chat prompt, else its question as one user turn,
/// rendered with the chat template up to the assistant's answer.
pub fn prompt_tokens(tokenizer: &dyn Tokenizer, task: &Task) -> Result<Vec<TokenId>> {
    let owned;
    let messages = match &task.prompt {
        Some(m) => m.as_slice(),
        None => {
            owned = [ChatMessage::user(task.question.clone())];
            &owned[..]
        }
    };
    let text = tokenizer.apply_chat_template(messages, true)?;
    Ok(tokenizer.encode(&text)?)
}

/// Scores every leaf of `tree` (writing `leaf.reward`); returns (score, correct, format_ok) per
/// leaf.
fn score_tree(tree: &mut RolloutTree, task: &Task, ctx: &RlContext) -> Vec<(f32, bool, bool)> {
    let prompt_len = tree.prompt_len();
    let overlong = ctx.train.advantage.overlong;
    (0..tree.leaves.len())
        .map(|l| {
            let outcome = ctx.reward.score(task, &tree.response_text(l));
            let len = tree.leaf_tokens(l).len().saturating_sub(prompt_len);
            let score = outcome.score + overlong.map_or(0.0, |o| o.penalty(len));
            tree.leaves[l].reward = Some(score);
            (score, outcome.correct, outcome.format_ok)
        })
        .collect()
}

/// Running means of the per-update loss statistics.
#[derive(Default)]
struct UpdateSums {
    n: usize,
    loss: f64,
    clip: f64,
    kl: f64,
    entropy: f64,
    grad_norm: f64,
    lr: f64,
    tokens: usize,
}

/// One RL step on `tasks`: rollout, rewards, advantages, `ppo.epochs` passes of mini-batches of
/// `ppo.mini_batch_prompts` trees (shuffled per epoch with `seed`), one optimiser step each.
/// `reference` is the frozen model for a KL penalty (required when `loss.kl` is set).
pub async fn rl_step<B: AutodiffBackend>(
    mut model: CausalLm<B>,
    optim: &mut Optim<B, CausalLm<B>>,
    reference: Option<&CausalLm<B>>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    step: u64,
    seed: u64,
) -> Result<(CausalLm<B>, StepMetrics)> {
    let start = Instant::now();
    let train = ctx.train;
    let eps = match train.advantage.estimator {
        Estimator::Grpo { eps } => eps,
        Estimator::ReinforcePp { .. } => {
            return Err(Error::Usage(
                "rl_step: the REINFORCE++ estimator is not implemented in the RL loop".into(),
            ))
        }
    };
    if tasks.is_empty() || train.ppo.mini_batch_prompts == 0 {
        return Err(Error::Usage(
            "rl_step needs tasks and ppo.mini_batch_prompts >= 1".into(),
        ));
    }
    let inputs = tasks
        .iter()
        .map(|t| {
            Ok(RolloutInput {
                task_id: t.id.clone(),
                prompt_tokens: prompt_tokens(ctx.tokenizer, t)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let policy = model.valid();
    let out = rollout::<B::InnerBackend, _>(
        &policy,
        ctx.tokenizer,
        ctx.runner.clone(),
        &inputs,
        ctx.rollout,
        seed,
    )
    .await?;
    drop(policy);
    let mut trees = out.trees;

    let mut scores = Vec::new();
    for (tree, task) in trees.iter_mut().zip(tasks) {
        scores.extend(score_tree(tree, task, ctx));
    }
    let n = scores.len().max(1) as f64;
    let reward_mean = scores.iter().map(|s| f64::from(s.0)).sum::<f64>() / n;
    let reward_std = (scores
        .iter()
        .map(|s| (f64::from(s.0) - reward_mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();

    // Loss rows per tree; dynamic sampling drops trees whose leaves all scored the same.
    let mut rows = Vec::new();
    for tree in &trees {
        let rewards: Vec<f32> = tree.leaves.iter().filter_map(|l| l.reward).collect();
        if train.advantage.dynamic_sampling && !keeps_group(&rewards) {
            continue;
        }
        let adv = leaf_advantages(tree, eps)?;
        let r = attribute(tree, &adv, train.advantage.attribution)?;
        if r.iter().any(|row| !row.tokens.is_empty()) {
            rows.push(TreeRows { tree, rows: r });
        }
    }

    let mut sums = UpdateSums::default();
    // A stream apart from the rollout's (which derives from `seed` itself).
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_eed0_f990_u64);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for _ in 0..train.ppo.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(train.ppo.mini_batch_prompts) {
            let batch: Vec<TreeRows> = chunk.iter().map(|&i| rows[i].clone()).collect();
            let (loss, st, fw) = tree_policy_loss(
                &model,
                reference,
                &batch,
                train.ppo.forward.into(),
                &train.loss,
                train.ppo.temperature,
            )?;
            let value = f64::from(host(loss.clone())?[0]);
            if !value.is_finite() {
                return Err(Error::Usage(format!(
                    "rl_step {step}: non-finite policy loss {value}"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let (next, os) = optim.step(model, grads);
            model = next;
            sums.n += 1;
            sums.loss += value;
            sums.clip += st.clip_frac;
            sums.kl += st.approx_kl;
            sums.entropy += st.entropy_mean.unwrap_or(0.0);
            sums.grad_norm += os.grad_norm;
            sums.lr = os.lr;
            sums.tokens += fw.tokens;
        }
    }
    let updates = sums.n.max(1) as f64;
    let metrics = StepMetrics {
        step: step + 1,
        reward_mean,
        reward_std,
        accuracy: scores.iter().filter(|s| s.1).count() as f64 / n,
        format_errors: scores.iter().filter(|s| !s.2).count(),
        leaves: scores.len(),
        trees_trained: rows.len(),
        tool_calls: out.stats.tool_calls,
        branch_copies: out.stats.branch_copies,
        entropy_mean: sums.entropy / updates,
        clip_frac: sums.clip / updates,
        approx_kl: sums.kl / updates,
        loss: sums.loss / updates,
        grad_norm: sums.grad_norm / updates,
        lr: sums.lr,
        updates: sums.n,
        generated_tokens: out.stats.generated_tokens,
        rollout_forwarded_tokens: out.stats.forwarded_tokens,
        train_forwarded_tokens: sums.tokens,
        rollout_seconds: out.stats.wall_secs,
        seconds: start.elapsed().as_secs_f64(),
    };
    tracing::info!(
        step = metrics.step,
        reward = metrics.reward_mean,
        accuracy = metrics.accuracy,
        "rl step"
    );
    Ok((model, metrics))
}

/// Runs `train.ppo.steps` RL steps over `tasks`, taking `ppo.batch_prompts` tasks per step in
/// order (wrapping around), appending each step's metrics as one JSON line to `metrics_path`.
/// The step seed is `train.seed + step`. Calls `on_step` after every step. No checkpoints yet.
pub async fn run_rl<B: AutodiffBackend>(
    mut model: CausalLm<B>,
    reference: Option<&CausalLm<B>>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    metrics_path: &Path,
    mut on_step: impl FnMut(&StepMetrics),
) -> Result<CausalLm<B>> {
    let train = ctx.train;
    if tasks.is_empty() || train.ppo.batch_prompts == 0 {
        return Err(Error::Usage(
            "run_rl needs tasks and ppo.batch_prompts >= 1".into(),
        ));
    }
    let mut optim = Optim::<B, CausalLm<B>>::new(train.optimizer.clone(), train.schedule);
    let mut position = 0usize;
    for step in 0..train.ppo.steps {
        let batch: Vec<Task> = (0..train.ppo.batch_prompts)
            .map(|i| tasks[(position + i) % tasks.len()].clone())
            .collect();
        position = (position + train.ppo.batch_prompts) % tasks.len();
        let (next, metrics) = rl_step(
            model,
            &mut optim,
            reference,
            &batch,
            ctx,
            step,
            train.seed.wrapping_add(step),
        )
        .await?;
        model = next;
        let line =
            serde_json::to_string(&metrics).map_err(|e| Error::Usage(format!("metrics: {e}")))?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(metrics_path)
            .map_err(|e| Error::io(metrics_path, e))?;
        writeln!(f, "{line}").map_err(|e| Error::io(metrics_path, e))?;
        on_step(&metrics);
    }
    Ok(model)
}
