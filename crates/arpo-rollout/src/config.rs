//! Rollout settings: the decoding budget and the tree shape (trajectory-level or ARPO).

use serde::{Deserialize, Serialize};

use arpo_model::SamplingConfig;

/// How many trajectories a prompt gets and how they are shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RolloutMode {
    /// `samples` independent trajectories per prompt (the GRPO baseline: ARPO with N = M).
    Trajectory {
        /// Trajectories per prompt (M).
        samples: usize,
    },
    /// ARPO's entropy-adaptive tree.
    Arpo(ArpoConfig),
}

impl RolloutMode {
    /// Leaves per prompt (M).
    pub fn leaves(&self) -> usize {
        match self {
            Self::Trajectory { samples } => *samples,
            Self::Arpo(c) => c.total,
        }
    }
}

/// ARPO's parameters (arpo.md §2), with the reference's values as defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArpoConfig {
    /// Global budget M: leaves per prompt.
    pub total: usize,
    /// Initial global samples N (N = M never branches).
    pub initial: usize,
    /// Copies Z made at one branch point.
    pub copies_per_branch: usize,
    /// Threshold τ: a path branches when `α + β·ΔH > τ`, α drawn from U(0, 1); the branch
    /// probability is therefore `clip(1 − τ + β·ΔH, 0, 1)`.
    pub threshold: f64,
    /// Entropy weight β.
    pub entropy_weight: f64,
    /// Entropy window k: tokens averaged for the initial entropy and after each tool result.
    pub entropy_window: usize,
    /// Divide entropies by ln |V| (the reference does).
    pub normalize_entropy: bool,
    /// AEPO's optional fixes.
    pub aepo: AepoOptions,
}

impl Default for ArpoConfig {
    fn default() -> Self {
        Self {
            total: 16,
            initial: 8,
            copies_per_branch: 1,
            threshold: 0.5,
            entropy_weight: 0.2,
            entropy_window: 20,
            normalize_entropy: true,
            aepo: AepoOptions::default(),
        }
    }
}

/// AEPO's fixes for rollout collapse, off by default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AepoOptions {
    /// Consecutive-branch penalty: the branch score is multiplied by `1 − penalty·l`, l the number
    /// of consecutive branching decisions on the path (AEPO: 0.05). 0 turns it off.
    pub consecutive_penalty: f64,
    /// Entropy pre-check: one probe trajectory per prompt runs first; after its first tool step
    /// the number of global samples becomes `round(M · σ(gain · (H_root − H_tool)))` clamped to
    /// [1, M] (AEPO: gain 0.5). `None` turns it off.
    pub precheck_gain: Option<f64>,
}

/// Everything a rollout needs besides the policy, tokenizer and tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutConfig {
    /// Tree shape.
    pub mode: RolloutMode,
    /// Token selection.
    pub sampling: SamplingConfig,
    /// Response budget: model plus tool tokens after the prompt (paper: 4096).
    pub max_response_tokens: usize,
    /// Longest tool result, in tokens (longer results are cut).
    pub max_tool_result_tokens: usize,
    /// End a trajectory when it calls a tool over the limit (training, as the reference);
    /// otherwise the limit message is shown as the result (evaluation).
    pub end_on_tool_limit: bool,
    /// Tokens that end a trajectory (EOS, end of turn).
    pub stop_tokens: Vec<u32>,
    /// Most paths fed through the model in one forward; `None`: every ready path of every prompt
    /// at once. `Some(1)` decodes one sequence at a time — the baseline that batching is measured
    /// against. The trees are the same either way (up to float rounding in the logits): every
    /// path samples from its own seeded stream, whatever it was batched with.
    #[serde(default)]
    pub max_batch_rows: Option<usize>,
}

impl RolloutConfig {
    /// A configuration with the given mode and sampling, 4096 response tokens, results cut at
    /// 1024 tokens, trajectories ended on tool-limit violations.
    pub fn new(mode: RolloutMode, sampling: SamplingConfig, stop_tokens: Vec<u32>) -> Self {
        Self {
            mode,
            sampling,
            max_response_tokens: 4096,
            max_tool_result_tokens: 1024,
            end_on_tool_limit: true,
            stop_tokens,
            max_batch_rows: None,
        }
    }
}
