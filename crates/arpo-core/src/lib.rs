//! Shared vocabulary of arpo-rs: token ids, chat messages, tasks, the rollout tree, and the small
//! traits (`Policy`, `Tool`, `Reward`, `Tokenizer`) that the other crates implement or consume.
//!
//! This crate holds no algorithm. It depends on burn only for the tensor types named in
//! [`Policy`], so that every other crate can agree on them without depending on each other.
#![deny(missing_docs)]

mod chat;
mod error;
mod policy;
mod reward;
mod task;
mod tokenizer;
mod tool;
pub mod tree;

pub use chat::{render_chatml, ChatMessage, Role};
pub use error::{Error, Result};
pub use policy::Policy;
pub use reward::{Reward, RewardOutcome};
pub use task::{Domain, Task};
pub use tokenizer::Tokenizer;
pub use tool::{Tool, ToolError};
pub use tree::{
    BranchDecision, FinishReason, Leaf, NodeId, Origin, RolloutTree, Segment, ToolCall, TreeNode,
};

/// A token id in a model's vocabulary.
pub type TokenId = u32;
