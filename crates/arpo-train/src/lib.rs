//! arpo-train: the learning half of ARPO (docs/arpo.md §3–§4). Advantages and their
//! attribution over rollout trees, the clipped policy loss, tree-packed log-probs, AdamW with
//! global grad-norm clipping and schedules, checkpoints with exact resume and HF export, SFT
//! cold start, and the run configuration.
//!
//! The maths are small pure functions with typed statistics; orchestration (the RL loop) stays
//! outside them except in `rl` (rollout → reward → recomputed old log-probs → advantages → PPO
//! updates, validation, checkpoints).
//! Library code is generic over the burn backend; tests run on `Autodiff<Flex>`.
//!
//! Where this departs from the reference (verl): a group of one gets advantage 0; global (not
//! per-tensor) grad-norm clipping as PyTorch does it; `seq-mean-token-mean` counts an empty row
//! as 0 instead of NaN.

pub mod advantage;
mod autodiff_lock;
pub mod checkpoint;
pub mod config;
mod error;
pub mod export;
pub mod loss;
pub mod optim;
pub mod packed;
pub mod rl;
pub mod sft;
pub mod sft_loop;
pub mod tree_loss;

pub use advantage::{
    attribute, group_advantages, leaf_advantages, Attribution, LossRow, RowSource, TokenRef,
};
pub use autodiff_lock::{autodiff_section, AutodiffSection};
pub use config::TrainConfig;
pub use error::{Error, Result};
pub use loss::{
    aggregate, policy_loss, EntropyAdvantage, KlEstimator, KlPenalty, LossAgg, LossStats,
    PolicyLossConfig, PolicyLossInput,
};
pub use optim::{LrSchedule, Optim, OptimizerConfig};
pub use rl::{
    prompt_tokens, rl_step, run_rl, RlContext, RlEvent, StepMetrics, TaskCursor, ValidationConfig,
    ValidationMetrics,
};
pub use tree_loss::{tree_policy_loss, Forward, TreeRows};
