//! A task: one question with its gold answers, as loaded from a benchmark or RL data set.

use serde::{Deserialize, Serialize};

use crate::ChatMessage;

/// The family a task belongs to; it selects the default tools, prompt and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Mathematical reasoning (AIME, MATH500, GSM8K, ...): answers compared by math equivalence.
    Math,
    /// Multi-hop knowledge QA (HotpotQA, 2Wiki, MuSiQue, Bamboogle): token F1 / exact match.
    Knowledge,
    /// Deep search (GAIA, HLE, WebWalkerQA, xbench): usually judged by an LLM.
    DeepSearch,
}

/// One question with its gold answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Stable id within its benchmark (the data's own id when it has one, else the line index).
    pub id: String,
    /// Benchmark or data-source name, e.g. `gsm8k`.
    pub benchmark: String,
    /// Task family.
    pub domain: Domain,
    /// The question text as the user asks it.
    pub question: String,
    /// Accepted gold answers (aliases); never empty for scored tasks.
    pub answers: Vec<String>,
    /// A chat prompt supplied by the data (RL parquet files carry `[system, user]`); when `None`
    /// the prompt is built from `question` by the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Vec<ChatMessage>>,
}

impl Task {
    /// A task with no data-supplied prompt.
    pub fn new(
        id: impl Into<String>,
        benchmark: impl Into<String>,
        domain: Domain,
        question: impl Into<String>,
        answers: Vec<String>,
    ) -> Self {
        Self {
            id: id.into(),
            benchmark: benchmark.into(),
            domain,
            question: question.into(),
            answers,
            prompt: None,
        }
    }
}
