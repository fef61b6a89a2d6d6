//! One nested, serde-serialisable configuration for a training run, loadable from TOML, with
//! presets for the algorithms the paper compares (ARPO, GRPO, DAPO, REINFORCE++).
//!
//! Rollout settings belong to arpo-rollout; they are kept here as data (`rollout`) and read
//! into its `RolloutConfig` by [`TrainConfig::rollout_config`].

use std::path::{Path, PathBuf};

use arpo_rollout::RolloutConfig;
use serde::{Deserialize, Serialize};

use crate::advantage::{Attribution, OverlongPenalty, GROUP_EPS};
use crate::loss::{KlEstimator, KlPenalty, LossAgg, PolicyLossConfig};
use crate::optim::{LrSchedule, OptimizerConfig};
use crate::rl::ValidationConfig;
use crate::sft_loop::SftConfig;
use crate::tree_loss::Forward;
use crate::{Error, Result};

/// How rewards become advantages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Estimator {
    /// Group normalisation per prompt (GRPO, ARPO).
    Grpo {
        /// Added to the group std.
        eps: f64,
    },
    /// REINFORCE++: KL in the per-token reward, discounted returns, batch whitening.
    ReinforcePp {
        /// Discount.
        gamma: f32,
        /// Weight of the per-token KL (to the reference) subtracted from the reward.
        kl_coef: f32,
    },
}

/// Advantage options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdvantageConfig {
    /// The estimator.
    pub estimator: Estimator,
    /// How tree leaves' advantages reach shared tokens.
    pub attribution: Attribution,
    /// DAPO dynamic sampling: drop groups whose rewards are all equal and refill the batch.
    pub dynamic_sampling: bool,
    /// With dynamic sampling: at most this many extra rollout rounds per step to refill the
    /// batch up to `ppo.batch_prompts` kept groups (0: drop without refilling).
    pub max_refill_rounds: usize,
    /// DAPO overlong punishment; `None`: off.
    pub overlong: Option<OverlongPenalty>,
}

impl Default for AdvantageConfig {
    fn default() -> Self {
        Self {
            estimator: Estimator::Grpo { eps: GROUP_EPS },
            attribution: Attribution::Soft,
            dynamic_sampling: false,
            max_refill_rounds: 3,
            overlong: None,
        }
    }
}

/// How log-probs are computed for the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardMode {
    /// Each tree packed into one sequence (shared prefixes once).
    #[default]
    Packed,
    /// Each trajectory on its own.
    PerLeaf,
}

impl From<ForwardMode> for Forward {
    fn from(m: ForwardMode) -> Self {
        match m {
            ForwardMode::Packed => Forward::Packed,
            ForwardMode::PerLeaf => Forward::PerLeaf,
        }
    }
}

/// The PPO update over one rollout batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    /// Prompts per rollout batch.
    pub batch_prompts: usize,
    /// Prompts per mini-batch (one optimiser step each).
    pub mini_batch_prompts: usize,
    /// Micro-batches per mini-batch: their gradients are summed, weighted by their share of
    /// the mini-batch, before the one optimiser step (memory, not maths: see `rl::update`).
    pub grad_accum: usize,
    /// Passes over the rollout batch.
    pub epochs: usize,
    /// Sampling temperature (log-probs are computed at it).
    pub temperature: f64,
    /// Packed or per-leaf forwards.
    pub forward: ForwardMode,
    /// RL steps (rollout batches) in the run.
    pub steps: u64,
    /// Recompute the old log-probs of the PPO ratio (and the sampling entropies) with the
    /// trainer before the first update (as verl does) instead of using the rollout's. The
    /// rollout's depend in their last bits on which paths were batched together, and so on tool
    /// timing and machine load; recomputed ones depend on the sampled tokens alone (one extra
    /// no-grad forward per tree and step).
    pub recompute_old_logprobs: bool,
}

impl Default for PpoConfig {
    /// docs/arpo.md §4: 128 prompts, mini-batches of 16, one epoch.
    fn default() -> Self {
        Self {
            batch_prompts: 128,
            mini_batch_prompts: 16,
            grad_accum: 1,
            epochs: 1,
            temperature: 1.0,
            forward: ForwardMode::Packed,
            steps: 100,
            recompute_old_logprobs: true,
        }
    }
}

/// Where and how often checkpoints are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Folder of checkpoints and metrics.
    pub dir: PathBuf,
    /// Every this many steps (and after the last).
    pub every: u64,
    /// How many to keep.
    pub keep: usize,
    /// Continue from the latest checkpoint in `dir`.
    pub resume: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("runs/arpo"),
            every: 10,
            keep: 2,
            resume: false,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of every random choice of the trainer.
    pub seed: u64,
    /// Policy loss.
    pub loss: PolicyLossConfig,
    /// Advantages.
    pub advantage: AdvantageConfig,
    /// AdamW.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// PPO update.
    pub ppo: PpoConfig,
    /// Checkpoints.
    pub checkpoint: CheckpointConfig,
    /// Validation on fixed tasks during RL (off unless `validation.every` > 0).
    pub validation: ValidationConfig,
    /// SFT cold start.
    pub sft: SftConfig,
    /// Rollout settings: arpo-rollout's `RolloutConfig`, kept as data here and read by
    /// [`TrainConfig::rollout_config`].
    pub rollout: serde_json::Value,
}

impl Default for TrainConfig {
    /// ARPO with the reference values of docs/arpo.md §4.
    fn default() -> Self {
        Self {
            seed: 0,
            loss: PolicyLossConfig::default(),
            advantage: AdvantageConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::Constant,
            ppo: PpoConfig::default(),
            checkpoint: CheckpointConfig::default(),
            validation: ValidationConfig::default(),
            sft: SftConfig::default(),
            rollout: serde_json::Value::Object(Default::default()),
        }
    }
}

impl TrainConfig {
    /// ARPO (the paper's defaults; tree rollout is configured in `rollout`).
    pub fn arpo() -> Self {
        Self::default()
    }

    /// GRPO: the same loss, trajectory rollout (set in `rollout`), sequence-mean aggregation.
    pub fn grpo() -> Self {
        let mut c = Self::default();
        c.loss.agg = LossAgg::SeqMeanTokenMean;
        c
    }

    /// DAPO: clip-higher (0.28), dynamic sampling, token-level loss, overlong punishment.
    pub fn dapo(max_response_len: usize) -> Self {
        let mut c = Self::default();
        c.loss.clip_high = 0.28;
        c.loss.agg = LossAgg::TokenMean;
        c.advantage.dynamic_sampling = true;
        c.advantage.overlong = Some(OverlongPenalty {
            max_len: max_response_len,
            buffer: max_response_len / 4,
            factor: 1.0,
        });
        c
    }

    /// REINFORCE++: batch whitening, KL (k1) in the reward instead of the loss.
    pub fn reinforce_pp() -> Self {
        let mut c = Self::default();
        c.advantage.estimator = Estimator::ReinforcePp {
            gamma: 1.0,
            kl_coef: 0.001,
        };
        c.loss.kl = None;
        c
    }

    /// A config with KL to a frozen reference in the loss (k3, as peers default to).
    pub fn with_kl_loss(mut self, coef: f64) -> Self {
        self.loss.kl = Some(KlPenalty {
            coef,
            estimator: KlEstimator::K3,
        });
        self
    }

    /// The `rollout` table as arpo-rollout's [`RolloutConfig`]. A missing or empty
    /// `stop_tokens` means the tokenizer's, passed as `stop_tokens`. Errors name the field.
    pub fn rollout_config(&self, stop_tokens: Vec<u32>) -> Result<RolloutConfig> {
        let mut value = self.rollout.clone();
        if let Some(table) = value.as_object_mut() {
            table
                .entry("stop_tokens")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        }
        let mut config: RolloutConfig =
            serde_json::from_value(value).map_err(|e| Error::parse("rollout", e.to_string()))?;
        if config.stop_tokens.is_empty() {
            config.stop_tokens = stop_tokens;
        }
        Ok(config)
    }

    /// Parses TOML; `origin` names the source in errors (the message carries line and column).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::parse(origin, e.to_string()))
    }

    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Renders as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Usage(format!("config to TOML: {e}")))
    }
}
