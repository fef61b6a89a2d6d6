//! Configuration of a [`super::ToolRunner`]: per-tool specs with the reference defaults, and the
//! settings shared by all tools.

use std::sync::Arc;
use std::time::Duration;

use arpo_core::Tool;

/// The reference's answer to a repeated search query within one trajectory.
pub const REPEATED_QUERY_MESSAGE: &str =
    "You have searched this query. Please refer to previous results.";

/// How one tool is run.
#[derive(Clone)]
pub struct ToolSpec {
    /// The tool; its [`Tool::name`] is the tag it answers.
    pub tool: Arc<dyn Tool>,
    /// Calls allowed per trajectory (`None`: unlimited).
    pub max_calls: Option<u32>,
    /// Observation for a call over `max_calls` (the reference's wording by default).
    pub limit_message: String,
    /// Answer a repeated input within a trajectory with `repeat_message` instead of running it.
    pub dedup_inputs: bool,
    /// Observation for a repeated input.
    pub repeat_message: String,
    /// Time limit of one call.
    pub timeout: Duration,
    /// Keep successful results in the runner's cache, keyed by (tool, input).
    pub cache_results: bool,
    /// Concurrent calls of this tool (`None`: only the runner's global limit).
    pub max_concurrency: Option<usize>,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("tool", &self.tool.name())
            .field("max_calls", &self.max_calls)
            .field("dedup_inputs", &self.dedup_inputs)
            .field("timeout", &self.timeout)
            .field("cache_results", &self.cache_results)
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

impl ToolSpec {
    /// A spec with no call limit, no dedup, no cache and a 60 s timeout; the limit message
    /// follows the reference pattern for the tool's name.
    pub fn new(tool: Arc<dyn Tool>) -> Self {
        let name = tool.name().to_string();
        Self {
            tool,
            max_calls: None,
            limit_message: format!(
                "The maximum {name} call limit is exceeded. You are not allowed to use {name}."
            ),
            dedup_inputs: false,
            repeat_message: REPEATED_QUERY_MESSAGE.to_string(),
            timeout: Duration::from_secs(60),
            cache_results: false,
            max_concurrency: None,
        }
    }

    /// Reference settings for a Python tool: the reference limit message, no cache (code may be
    /// random or time-dependent), at most one call per CPU core at once (calls are CPU-bound and
    /// each may use its full memory limit). Evaluation uses 5 calls (arpo.md §6).
    pub fn python(tool: Arc<dyn Tool>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            max_concurrency: Some(cores),
            limit_message:
                "The maximum python call limit is exceeded. You are not allowed to use python."
                    .into(),
            timeout: Duration::from_secs(30),
            ..Self::new(tool)
        }
    }

    /// Reference settings for a search tool: the reference limit message, repeated queries
    /// answered with [`REPEATED_QUERY_MESSAGE`], results cached. Evaluation uses 10 calls.
    pub fn search(tool: Arc<dyn Tool>) -> Self {
        Self {
            limit_message: "The maximum search limit is exceeded. You are not allowed to search."
                .into(),
            dedup_inputs: true,
            cache_results: true,
            timeout: Duration::from_secs(30),
            ..Self::new(tool)
        }
    }

    /// Sets `max_calls`.
    pub fn max_calls(mut self, n: u32) -> Self {
        self.max_calls = Some(n);
        self
    }

    /// Sets `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets `max_concurrency`.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Sets `cache_results`.
    pub fn cache_results(mut self, on: bool) -> Self {
        self.cache_results = on;
        self
    }
}

/// What to do with a call whose opening tag is missing (`…code</python>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingOpenTag {
    /// Run the recovered content (see [`DetectedCall::open_tag_found`]). The default.
    #[default]
    Run,
    /// Do not run it; the observation tells the model the call was malformed.
    Reject,
}

/// Settings shared by all tools of a runner.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerConfig {
    /// Calls running at once, all tools together.
    pub max_concurrency: usize,
    /// Calls allowed per trajectory, all tools together (`None`: only per-tool limits). The
    /// paper's training setting: 3 for reasoning, 6 for deep search (arpo.md §1).
    pub max_total_calls: Option<u32>,
    /// Observation for a call over `max_total_calls`.
    pub total_limit_message: String,
    /// Result-cache capacity in entries (oldest evicted first); 0 disables the cache.
    pub cache_capacity: usize,
    /// Policy for calls without an opening tag.
    pub missing_open_tag: MissingOpenTag,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            max_concurrency: 8,
            max_total_calls: None,
            total_limit_message:
                "The maximum tool call limit is exceeded. You are not allowed to call tools.".into(),
            cache_capacity: 10_000,
            missing_open_tag: MissingOpenTag::Run,
        }
    }
}
