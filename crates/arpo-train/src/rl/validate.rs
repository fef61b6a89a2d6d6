//! Validation during RL (verl's `test_freq` and `val_before_train`): the policy answers a fixed
//! task list before training and every `validation.every` steps, one JSON line each.
//!
//! A step's training reward follows the prompts that step drew (a step of hard prompts scores
//! low whatever the policy learned), so a rising policy is hard to see in it. Validation holds
//! the prompts and the sampling streams fixed: every validation rolls out the same tasks with
//! the same seed, so two points differ by the policy alone (common random numbers).

use arpo_core::Task;
use arpo_model::{CausalLm, SamplingConfig};
use arpo_rollout::{rollout, RolloutConfig, RolloutMode};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use super::{rollout_inputs, RlContext};
use crate::{Error, Result};

/// When and how the policy is validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Validate after every this many RL steps and after the last; 0: never.
    pub every: u64,
    /// Also validate the starting policy (recorded as step 0) when a run starts fresh.
    pub before_train: bool,
    /// Responses sampled per validation task.
    pub samples: usize,
    /// Decoding of validation rollouts (the paper's evaluation setting by default).
    pub sampling: SamplingConfig,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            every: 0,
            before_train: true,
            samples: 1,
            sampling: SamplingConfig::paper_eval(),
        }
    }
}

/// One validation (one line of `validation.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationMetrics {
    /// RL steps the validated policy had taken (0: the starting policy).
    pub step: u64,
    /// Responses scored (tasks × samples).
    pub responses: usize,
    /// Mean reward (no overlong penalty: the score alone).
    pub reward_mean: f64,
    /// Fraction of responses the reward counts as correct.
    pub accuracy: f64,
    /// Responses that failed the format gate.
    pub format_errors: usize,
    /// Tool calls per response.
    pub tool_calls_per_response: f64,
    /// Sampled tokens per response (tool results excluded).
    pub generated_tokens_per_response: f64,
    /// Wall time of the validation rollout.
    pub seconds: f64,
}

impl ValidationMetrics {
    /// The validation as one progress line (`validation after   9 steps: accuracy 0.244 …`).
    pub fn line(&self) -> String {
        format!(
            "validation after {:>3} steps: accuracy {:.3} reward {:+.3} format-err {:>2} tool \
             calls/response {:.2} ({} responses, {:.1}s)",
            self.step,
            self.accuracy,
            self.reward_mean,
            self.format_errors,
            self.tool_calls_per_response,
            self.responses,
            self.seconds
        )
    }
}

// Validation's sampling streams: fixed for the run, apart from every training step's streams
// (which derive from `train.seed + step`).
const VALIDATION_STREAM: u64 = 0x7661_6c69_6461_7465;

/// Rolls out every task of `tasks` `validation.samples` times with `policy` (independent
/// trajectories, evaluation decoding, the limit message shown on a tool call over its limit)
/// and scores the responses with the run's reward. `step` labels the record.
pub async fn validate<B: Backend>(
    policy: &CausalLm<B>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    step: u64,
) -> Result<ValidationMetrics> {
    let validation = &ctx.train.validation;
    if validation.samples == 0 {
        return Err(Error::Usage("validation.samples must be at least 1".into()));
    }
    let inputs = rollout_inputs(ctx.tokenizer, tasks)?;
    let config = RolloutConfig {
        mode: RolloutMode::Trajectory {
            samples: validation.samples,
        },
        sampling: validation.sampling.clone(),
        end_on_tool_limit: false,
        ..ctx.rollout.clone()
    };
    let seed = arpo_rollout::seeds::mix(ctx.train.seed ^ VALIDATION_STREAM);
    let out = rollout::<B, _>(
        policy,
        ctx.tokenizer,
        ctx.runner.clone(),
        &inputs,
        &config,
        seed,
    )
    .await?;
    let (mut responses, mut reward_sum, mut correct, mut format_errors) = (0, 0.0, 0, 0);
    for (tree, task) in out.trees.iter().zip(tasks) {
        for leaf in 0..tree.leaves.len() {
            let outcome = ctx.reward.score(task, &tree.response_text(leaf));
            responses += 1;
            reward_sum += f64::from(outcome.score);
            correct += usize::from(outcome.correct);
            format_errors += usize::from(!outcome.format_ok);
        }
    }
    let n = responses.max(1) as f64;
    Ok(ValidationMetrics {
        step,
        responses,
        reward_mean: reward_sum / n,
        accuracy: correct as f64 / n,
        format_errors,
        tool_calls_per_response: out.stats.tool_calls as f64 / n,
        generated_tokens_per_response: out.stats.generated_tokens as f64 / n,
        seconds: out.stats.wall_secs,
    })
}
