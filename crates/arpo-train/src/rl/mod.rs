//! The RL step and loop (docs/arpo.md §3–§5): roll out tasks with the inference copy of the
//! policy, score every leaf with a [`Reward`], turn rewards into advantages and loss rows, then
//! run PPO epochs of packed mini-batch updates with AdamW. Each step yields one typed
//! [`StepMetrics`] record, written by [`run_rl`] as one JSON line beside its checkpoints.
//!
//! Files, in the order a step runs them: `sample` (rollout rounds, DAPO dynamic sampling and
//! refill, the task cursor), `old_logprobs` (the PPO ratio's old log-probs recomputed), `rows` (GRPO or REINFORCE++ advantages as loss rows), `update`
//! (mini-batches, gradient accumulation, optimiser steps), `step` (one step end to end),
//! `validate` (fixed-task validation between steps), `run` (the loop with checkpoints and exact
//! resume).

use std::sync::Arc;

use arpo_core::{ChatMessage, Reward, Task, TokenId, Tokenizer};
use arpo_rollout::{RolloutConfig, RolloutInput};
use arpo_tools::ToolRunner;
use serde::{Deserialize, Serialize};

use crate::advantage::Attribution;
use crate::config::{Estimator, TrainConfig};
use crate::{Error, Result};

mod old_logprobs;
mod rows;
mod run;
mod sample;
mod step;
mod update;
mod validate;

pub use old_logprobs::recompute_old_logprobs;
pub use rows::{reinforce_pp_rows, reinforce_pp_token_advantages, PpTrajectory};
pub use run::{run_rl, validation_path, RlEvent};
pub use sample::{TaskCursor, TaskPosition};
pub use step::rl_step;
pub use validate::{validate, ValidationConfig, ValidationMetrics};

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
    /// Loss, advantage, optimiser, PPO, validation and checkpoint settings.
    pub train: &'a TrainConfig,
    /// Fixed tasks [`run_rl`] validates on as `train.validation` says (empty: none).
    pub validation_tasks: &'a [Task],
}

/// What one RL step did (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Steps completed, this one included.
    pub step: u64,
    /// Mean reward over all leaves rolled out (refill rounds and dropped groups included;
    /// overlong penalty included).
    pub reward_mean: f64,
    /// Population std of the rewards over all leaves.
    pub reward_std: f64,
    /// Fraction of leaves the reward counts as correct.
    pub accuracy: f64,
    /// Leaves that failed the format gate.
    pub format_errors: usize,
    /// Leaves rolled out.
    pub leaves: usize,
    /// Prompts rolled out (more than `ppo.batch_prompts` when dynamic sampling refilled).
    pub prompts_sampled: usize,
    /// Groups kept by dynamic sampling (all, without it), at most `ppo.batch_prompts`.
    pub groups_kept: usize,
    /// Rollout rounds (1 + refill rounds).
    pub rollout_rounds: usize,
    /// Trees trained on: kept groups with at least one trained token.
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
    /// Mean policy loss over mini-batch updates (0 when no update ran).
    pub loss: f64,
    /// Mean gradient norm before clipping over mini-batch updates.
    pub grad_norm: f64,
    /// Learning rate of the last optimiser step.
    pub lr: f64,
    /// Optimiser steps taken.
    pub updates: usize,
    /// Backward passes (micro-batches) whose gradients fed those steps.
    pub micro_batches: usize,
    /// Tokens sampled during rollout.
    pub generated_tokens: usize,
    /// Tokens fed through the model during rollout.
    pub rollout_forwarded_tokens: usize,
    /// Tokens fed through the model by the training forwards (all epochs).
    pub train_forwarded_tokens: usize,
    /// Rollout wall time (all rounds).
    pub rollout_seconds: f64,
    /// Whole step wall time.
    pub seconds: f64,
}

impl StepMetrics {
    /// The step as one progress line (`step   3: reward +0.125 acc 0.156 …`).
    pub fn line(&self) -> String {
        format!(
            "step {:>3}: reward {:+.3} acc {:.3} format-err {:>2} tool calls {:>3} branches {:>3} \
             tokens {:>5} loss {:+.4} clip {:.3} kl {:.4} {:.1}s",
            self.step,
            self.reward_mean,
            self.accuracy,
            self.format_errors,
            self.tool_calls,
            self.branch_copies,
            self.generated_tokens,
            self.loss,
            self.clip_frac,
            self.approx_kl,
            self.seconds
        )
    }
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

/// One rollout input per task, in order: the task id and its [`prompt_tokens`].
pub fn rollout_inputs(tokenizer: &dyn Tokenizer, tasks: &[Task]) -> Result<Vec<RolloutInput>> {
    tasks
        .iter()
        .map(|t| {
            Ok(RolloutInput {
                task_id: t.id.clone(),
                prompt_tokens: prompt_tokens(tokenizer, t)?,
            })
        })
        .collect()
}

/// Settings that would make the update wrong, or fail only after the rollout: refused before
/// any work. `has_reference`: whether a frozen reference model was given.
fn check_settings(ctx: &RlContext, has_reference: bool) -> Result<()> {
    let (sampled, trained) = (ctx.rollout.sampling.temperature, ctx.train.ppo.temperature);
    // The ratio π/π_old compares the rollout's log-probs (taken at the sampling temperature)
    // with the trainer's (taken at ppo.temperature): different temperatures bias every ratio.
    if sampled != trained {
        return Err(Error::Usage(format!(
            "rollout.sampling.temperature = {sampled} differs from train.ppo.temperature = \
             {trained}: log-prob ratios would compare two temperatures; set them equal"
        )));
    }
    if let Estimator::ReinforcePp { kl_coef, .. } = ctx.train.advantage.estimator {
        if ctx.train.advantage.attribution != Attribution::Soft {
            return Err(Error::Usage(
                "advantage.attribution = hard does not apply to the REINFORCE++ estimator \
                 (a shared token has a different return in every leaf below it); use soft"
                    .into(),
            ));
        }
        // With kl_coef 0 the KL term vanishes and the sampling log-probs stand in.
        if kl_coef != 0.0 && !has_reference {
            return Err(Error::Usage(format!(
                "advantage.estimator reinforce_pp with kl_coef = {kl_coef} needs a reference \
                 model (pass `reference` to run_rl / rl_step, or set kl_coef = 0)"
            )));
        }
    }
    if ctx.train.loss.kl.is_some() && !has_reference {
        return Err(Error::Usage(
            "loss.kl is set but no reference model was given to run_rl / rl_step".into(),
        ));
    }
    let ppo = &ctx.train.ppo;
    for (name, v) in [
        ("ppo.batch_prompts", ppo.batch_prompts),
        ("ppo.mini_batch_prompts", ppo.mini_batch_prompts),
        ("ppo.grad_accum", ppo.grad_accum),
        ("validation.samples", ctx.train.validation.samples),
    ] {
        if v == 0 {
            return Err(Error::Usage(format!("{name} must be at least 1")));
        }
    }
    Ok(())
}
