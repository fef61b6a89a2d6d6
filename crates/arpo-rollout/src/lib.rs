//! arpo-rollout: the rollout engine. For a batch of prompts it produces one rollout tree per
//! prompt, either as M independent trajectories (the GRPO baseline) or as ARPO's
//! entropy-adaptive tree, decoding all live branches of all prompts in one batch, forking KV
//! caches at branch points and running tool calls concurrently with decoding.

pub mod branch;
pub mod config;
mod engine;
mod path;
pub mod render;
pub mod seeds;

pub use config::{AepoOptions, ArpoConfig, RolloutConfig, RolloutMode};
pub use engine::{rollout, RolloutInput, RolloutOutput, RolloutStats};
