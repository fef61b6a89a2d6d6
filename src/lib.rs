//! arpo: Agentic Reinforced Policy Optimization for tool-using LLMs, on burn.
//!
//! This umbrella crate re-exports the workspace crates and owns the examples. Depend on the
//! single crates (`arpo-model`, `arpo-tools`, ...) when only a part is needed.

pub use arpo_core as core;
pub use arpo_eval as eval;
pub use arpo_model as model;
pub use arpo_rollout as rollout;
pub use arpo_tools as tools;
pub use arpo_train as train;

pub mod allocator;
pub mod backend;
pub mod benchmark;
pub mod chat;
pub mod load;
pub mod progress;
pub mod quickstart;
pub mod rl_cli;
pub mod sft_cli;
