//! The reward trait: scores a complete response against a task's gold answers.

use serde::{Deserialize, Serialize};

use crate::Task;

/// The score of one response with the facts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardOutcome {
    /// The scalar reward used for advantages.
    pub score: f32,
    /// Whether the extracted answer counts as correct (for accuracy metrics).
    pub correct: bool,
    /// Whether the response passed the format gate.
    pub format_ok: bool,
    /// The extracted final answer, if any.
    pub answer: Option<String>,
}

/// Scores a complete response (everything the model and tools wrote after the prompt).
pub trait Reward: Send + Sync {
    /// Scores `response` for `task`.
    fn score(&self, task: &Task, response: &str) -> RewardOutcome;
}
