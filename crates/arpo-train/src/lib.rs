//! arpo-train: the learning half of ARPO. Advantages and their attribution over rollout trees,
//! the clipped policy loss, tree-packed log-probs, AdamW with clipping and schedules,
//! checkpoints with exact resume and HF export, SFT cold start, and the run configuration.
//!
//! The maths are small pure functions with typed statistics; the RL loop that calls them lives
//! outside them.

pub mod advantage;
pub mod checkpoint;
pub mod config;
mod error;
pub mod export;
pub mod loss;
pub mod optim;
pub mod packed;
pub mod sft;
pub mod sft_loop;

pub use advantage::{
    attribute, group_advantages, leaf_advantages, Attribution, LossRow, RowSource, TokenRef,
};
pub use config::TrainConfig;
pub use error::{Error, Result};
pub use loss::{
    aggregate, policy_loss, EntropyAdvantage, KlEstimator, KlPenalty, LossAgg, LossStats,
    PolicyLossConfig, PolicyLossInput,
};
