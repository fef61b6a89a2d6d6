//! One RL step end to end: rollout rounds (with DAPO refill), advantages as loss rows, PPO
//! updates, and the step's [`StepMetrics`].

use std::time::Instant;

use arpo_model::CausalLm;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::old_logprobs::recompute_old_logprobs;
use super::rows::loss_rows;
use super::sample::{sample_groups, TaskCursor};
use super::update::ppo_updates;
use super::{check_settings, RlContext, StepMetrics};
use crate::optim::Optim;
use crate::Result;

/// One RL step: rolls out `ppo.batch_prompts` tasks from `tasks` (more when dynamic sampling
/// refills; the cursor advances past every task rolled out), scores them, turns rewards into
/// loss rows, then runs `ppo.epochs` passes of mini-batch updates. `seed` drives the rollout and
/// the mini-batch order. `reference` is the frozen model for a KL penalty in the loss (required
/// when `loss.kl` is set) and for REINFORCE++'s KL in the reward.
pub async fn rl_step<B: AutodiffBackend>(
    model: CausalLm<B>,
    optim: &mut Optim<B, CausalLm<B>>,
    reference: Option<&CausalLm<B>>,
    tasks: &mut TaskCursor<'_>,
    ctx: &RlContext<'_>,
    step: u64,
    seed: u64,
) -> Result<(CausalLm<B>, StepMetrics)> {
    let start = Instant::now();
    check_settings(ctx, reference.is_some())?;
    let policy = model.valid();
    let mut sampled = sample_groups(&policy, tasks, ctx, seed).await?;
    if ctx.train.ppo.recompute_old_logprobs {
        recompute_old_logprobs(&policy, &mut sampled.trees, ctx.train)?;
    }
    drop(policy);

    let scores = &sampled.scores;
    let n = scores.len().max(1) as f64;
    let reward_mean = scores.iter().map(|s| f64::from(s.0)).sum::<f64>() / n;
    let reward_std = (scores
        .iter()
        .map(|s| (f64::from(s.0) - reward_mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();

    let rows = loss_rows(&sampled.trees, reference, ctx.train)?;
    let (model, sums) = ppo_updates(model, optim, reference, &rows, ctx.train, step, seed)?;
    let updates = sums.n.max(1) as f64;
    let stats = &sampled.stats;
    let metrics = StepMetrics {
        step: step + 1,
        reward_mean,
        reward_std,
        accuracy: scores.iter().filter(|s| s.1).count() as f64 / n,
        format_errors: scores.iter().filter(|s| !s.2).count(),
        leaves: scores.len(),
        prompts_sampled: sampled.prompts,
        groups_kept: sampled.trees.len(),
        rollout_rounds: sampled.rounds,
        trees_trained: rows.len(),
        tool_calls: stats.tool_calls,
        branch_copies: stats.branch_copies,
        entropy_mean: sums.entropy / updates,
        clip_frac: sums.clip / updates,
        approx_kl: sums.kl / updates,
        loss: sums.loss / updates,
        grad_norm: sums.grad_norm / updates,
        lr: sums.lr,
        updates: sums.n,
        micro_batches: sums.micro_batches,
        generated_tokens: stats.generated_tokens,
        rollout_forwarded_tokens: stats.forwarded_tokens,
        train_forwarded_tokens: sums.tokens,
        rollout_seconds: stats.wall_secs,
        seconds: start.elapsed().as_secs_f64(),
    };
    tracing::info!(
        step = metrics.step,
        reward = metrics.reward_mean,
        accuracy = metrics.accuracy,
        groups_kept = metrics.groups_kept,
        prompts = metrics.prompts_sampled,
        "rl step"
    );
    Ok((model, metrics))
}
