//! The benchmark harness: runs an [`Agent`] (the in-process burn policy, or a model behind an
//! OpenAI-compatible completions server) on a benchmark with the paper's per-benchmark settings,
//! scores every response with the same functions as the RL rewards, optionally asks an LLM judge,
//! and writes one JSON line per (question, sample) plus a summary (JSON and a markdown table).
//!
//! The harness knows nothing about tensors: an agent turns chat prompts into tool-using
//! trajectories however it likes, and the harness only sees their text and statistics.

mod openai;
mod run;
mod score;
mod spec;

use std::collections::BTreeMap;
use std::sync::Arc;

use arpo_core::tree::{Origin, RolloutTree};
use arpo_core::ChatMessage;
use arpo_tools::ToolRunner;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

pub use openai::{chatml, CompletionsAgent, CompletionsConfig, PromptRenderer};
pub use run::{run_benchmark, write_report, Progress, RunOptions, RunReport};
pub use score::{score_response, Scored};
pub use spec::{system_prompt, Decoding, EvalSpec, ToolLimits};

/// One finished trajectory: the assistant's whole turn (tool results included) and its costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The response text after the prompt, tool results included.
    pub response: String,
    /// Tool calls by tool name (calls refused over the limit included).
    pub tool_calls: BTreeMap<String, usize>,
    /// Tokens the model generated (tool-result tokens excluded).
    pub generated_tokens: usize,
    /// Wall seconds spent on this trajectory; agents that decode many trajectories in one batch
    /// report the batch time divided by its trajectories.
    pub seconds: f64,
}

impl Trajectory {
    /// The trajectory of one leaf of a rollout tree: its response text, tool calls by tool and
    /// model-generated tokens; `seconds` is the leaf's share of the rollout time.
    pub fn from_leaf(tree: &RolloutTree, leaf: usize, seconds: f64) -> Self {
        let segments = tree.leaf_segments(leaf);
        let mut tool_calls = BTreeMap::new();
        for call in segments.iter().filter_map(|s| s.tool_call.as_ref()) {
            *tool_calls.entry(call.tool.clone()).or_insert(0) += 1;
        }
        Self {
            response: tree.response_text(leaf),
            tool_calls,
            generated_tokens: segments
                .iter()
                .filter(|s| s.origin == Origin::Model)
                .map(|s| s.tokens.len())
                .sum(),
            seconds,
        }
    }
}

/// Something that answers chat prompts with tool-using trajectories.
///
/// Not `Send`: the in-process policy holds backend tensors that some backends keep on one thread.
#[async_trait(?Send)]
pub trait Agent {
    /// What answers (model file, or server and model name), for reports.
    fn describe(&self) -> String;

    /// Answers every prompt `samples` times with the tools of `runner`. Returns
    /// `trajectories[prompt][sample]`. `seed` makes sampling reproducible where the agent can.
    async fn answer(
        &self,
        prompts: &[Vec<ChatMessage>],
        samples: usize,
        decoding: &Decoding,
        runner: &Arc<ToolRunner>,
        seed: u64,
    ) -> Result<Vec<Vec<Trajectory>>>;
}
