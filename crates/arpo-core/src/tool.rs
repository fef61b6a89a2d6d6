//! The tool trait: something the model calls with a text input and that answers with text.

use std::time::Duration;

use async_trait::async_trait;

/// Why a tool call produced no regular output. The tool runner turns every variant into an
/// observation for the model: a failing tool never stops a run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The call ran past its time limit.
    #[error("timed out after {:.1}s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The call hit a resource limit (memory, processes, output size).
    #[error("resource limit exceeded: {0}")]
    Limit(String),
    /// The tool refused to run the input (e.g. no sandbox available).
    #[error("refused: {0}")]
    Refused(String),
    /// The tool itself failed (backend unreachable, I/O error, ...).
    #[error("tool failure: {0}")]
    Failed(String),
}

/// A tool the policy can call, e.g. `python` or `search`.
///
/// `name` is the tag the model writes (`<python>...</python>` calls the tool named `python`).
#[async_trait]
pub trait Tool: Send + Sync {
    /// The tag name of the tool.
    fn name(&self) -> &str;

    /// Runs one call. The output is shown to the model verbatim (inside `<result>`).
    async fn call(&self, input: &str) -> Result<String, ToolError>;
}
