//! `ToolRunner`: what the rollout engine calls when generation stops on a closing tool tag.
//!
//! It routes a call to its tool, applies the per-trajectory limits (reference messages), answers a
//! repeated search with "You have searched this query", bounds each call in time and all calls in
//! concurrency, caches results, and keeps per-tool counters. Whatever the tool does (fails, hangs,
//! panics), [`ToolRunner::call`] returns an [`Observation`] for the model; it has no error path.
//!
//! Per-trajectory state lives outside the runner in [`TrajectoryToolState`], a small value that
//! the engine clones when a trajectory branches (two short vectors, no heap sharing).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arpo_core::{Tool, ToolError};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::protocol::{
    detect_call_at_end, detect_call_at_end_in, format_result, DetectedCall, TagSet,
};

mod stats;
pub use stats::ToolStats;

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

/// A call to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRequest {
    /// Tool (tag) name.
    pub tool: String,
    /// Code or query.
    pub input: String,
    /// False when the call had no opening tag (see [`MissingOpenTag`]).
    pub open_tag_found: bool,
}

impl ToolRequest {
    /// A well-formed request.
    pub fn new(tool: impl Into<String>, input: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            input: input.into(),
            open_tag_found: true,
        }
    }
}

impl From<DetectedCall> for ToolRequest {
    fn from(call: DetectedCall) -> Self {
        Self {
            tool: call.tool,
            input: call.content,
            open_tag_found: call.open_tag_found,
        }
    }
}

/// How a call was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum CallStatus {
    /// The tool answered (for Python this includes a traceback: the code ran and raised).
    Ok,
    /// Answered from the runner's result cache.
    Cached,
    /// The tool reported a failure, limit or refusal.
    Failed(ToolError),
    /// The runner's per-call timeout fired (the call was cancelled).
    TimedOut(Duration),
    /// The tool panicked.
    Panicked,
    /// Over the per-tool or total call limit; not run. The reference ends a *training*
    /// trajectory here (then the format check fails); evaluation shows the message.
    OverLimit,
    /// A repeated input of a dedup tool; not run.
    Repeated,
    /// No opening tag and [`MissingOpenTag::Reject`]; not run.
    Malformed,
    /// No tool has this name; not run.
    UnknownTool,
}

/// What the model sees after a call, and how the call went.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Text to place inside `<result>` (see [`Observation::formatted`]).
    pub text: String,
    /// How the call was answered.
    pub status: CallStatus,
    /// Wall time from the request to the answer (including waiting for a concurrency slot).
    pub latency: Duration,
}

impl Observation {
    /// Whether the tool answered regularly ([`CallStatus::Ok`] or [`CallStatus::Cached`]).
    pub fn ok(&self) -> bool {
        matches!(self.status, CallStatus::Ok | CallStatus::Cached)
    }

    /// Whether the call was refused by a call limit.
    pub fn over_limit(&self) -> bool {
        self.status == CallStatus::OverLimit
    }

    /// The forced text to append: ` <result>\n{text}\n</result>`.
    pub fn formatted(&self) -> String {
        format_result(&self.text)
    }

    /// The record stored in the rollout tree.
    pub fn to_tool_call(&self, request: &ToolRequest) -> arpo_core::ToolCall {
        arpo_core::ToolCall {
            tool: request.tool.clone(),
            input: request.input.clone(),
            output: self.text.clone(),
            ok: self.ok(),
            latency_ms: self.latency.as_secs_f64() * 1e3,
        }
    }
}

/// Per-trajectory tool bookkeeping: calls made per tool and fingerprints of inputs already
/// seen by dedup tools. Clone it when a trajectory branches; both branches then continue with
/// the same history. Only meaningful with the runner that created it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrajectoryToolState {
    calls: Vec<u32>,
    total: u32,
    seen: Vec<u64>,
}

impl TrajectoryToolState {
    /// Calls made so far, all tools together (calls refused by a limit or dedup excluded).
    pub fn total_calls(&self) -> u32 {
        self.total
    }

    fn calls_of(&self, slot: usize) -> u32 {
        self.calls.get(slot).copied().unwrap_or(0)
    }
}

struct Slot {
    spec: ToolSpec,
    semaphore: Option<Arc<Semaphore>>,
}

/// Routes tool calls; share it (`Arc<ToolRunner>`) across all trajectories of a rollout.
pub struct ToolRunner {
    config: RunnerConfig,
    slots: Vec<Slot>,
    by_name: HashMap<String, usize>,
    tags: TagSet,
    global: Arc<Semaphore>,
    cache: Mutex<ResultCache>,
    stats: Mutex<Vec<ToolStats>>,
}

impl std::fmt::Debug for ToolRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRunner")
            .field("config", &self.config)
            .field("tags", &self.tags)
            .finish()
    }
}

impl ToolRunner {
    /// Builds a runner. Errors on zero concurrency or two tools with the same name, or a name
    /// that cannot be a tag.
    pub fn new(config: RunnerConfig, specs: Vec<ToolSpec>) -> Result<Self> {
        if config.max_concurrency == 0 {
            return Err(Error::Config("runner: max_concurrency must be > 0".into()));
        }
        let mut by_name = HashMap::new();
        let mut slots = Vec::with_capacity(specs.len());
        for spec in specs {
            let name = spec.tool.name().to_string();
            if !TagSet::new([name.as_str()]).contains(&name) {
                return Err(Error::Config(format!(
                    "runner: tool name {name:?} cannot be a tag"
                )));
            }
            if by_name.insert(name.clone(), slots.len()).is_some() {
                return Err(Error::Config(format!("runner: two tools named {name:?}")));
            }
            if spec.max_concurrency == Some(0) {
                return Err(Error::Config(format!(
                    "runner: tool {name:?} has max_concurrency 0"
                )));
            }
            let semaphore = spec.max_concurrency.map(|n| Arc::new(Semaphore::new(n)));
            slots.push(Slot { spec, semaphore });
        }
        let tags = TagSet::new(slots.iter().map(|s| s.spec.tool.name().to_string()));
        let stats = slots
            .iter()
            .map(|s| ToolStats::new(s.spec.tool.name()))
            .collect();
        Ok(Self {
            global: Arc::new(Semaphore::new(config.max_concurrency)),
            cache: Mutex::new(ResultCache::new(config.cache_capacity)),
            stats: Mutex::new(stats),
            config,
            slots,
            by_name,
            tags,
        })
    }

    /// The tags of the registered tools.
    pub fn tags(&self) -> &TagSet {
        &self.tags
    }

    /// Closing tags to stop generation at.
    pub fn stop_sequences(&self) -> Vec<String> {
        self.tags.stop_sequences()
    }

    /// The call that ends `generated` (text of the current turn only), if any.
    pub fn detect(&self, generated: &str) -> Option<ToolRequest> {
        detect_call_at_end(generated, &self.tags).map(ToolRequest::from)
    }

    /// Like [`ToolRunner::detect`] on `full_text[generation_start..]`, for a caller that keeps
    /// prompt and generation in one string: nothing before `generation_start` is looked at.
    pub fn detect_in(&self, full_text: &str, generation_start: usize) -> Option<ToolRequest> {
        detect_call_at_end_in(full_text, generation_start, &self.tags).map(ToolRequest::from)
    }

    /// Calls made by `state`'s trajectory to `tool` so far.
    pub fn calls_made(&self, state: &TrajectoryToolState, tool: &str) -> u32 {
        self.by_name
            .get(tool)
            .map_or(0, |&slot| state.calls_of(slot))
    }

    /// Snapshot of the per-tool counters.
    pub fn stats(&self) -> Vec<ToolStats> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs one call for the trajectory whose bookkeeping is `state`, and updates `state`.
    /// Never fails: every outcome is an [`Observation`].
    pub async fn call(&self, state: &mut TrajectoryToolState, request: ToolRequest) -> Observation {
        let start = Instant::now();
        let answer = |text: String, status: CallStatus| Observation {
            text,
            status,
            latency: start.elapsed(),
        };
        let Some(&slot) = self.by_name.get(&request.tool) else {
            return answer(
                format!("Unknown tool `{}`.", request.tool),
                CallStatus::UnknownTool,
            );
        };
        let spec = &self.slots[slot].spec;
        self.count(slot, |s| s.requests += 1);
        if !request.open_tag_found && self.config.missing_open_tag == MissingOpenTag::Reject {
            self.count(slot, |s| s.malformed += 1);
            let text = format!(
                "Malformed call: the <{0}> opening tag is missing before </{0}>.",
                request.tool
            );
            return answer(text, CallStatus::Malformed);
        }
        // Limits first, then repeats, as the reference does.
        if self
            .config
            .max_total_calls
            .is_some_and(|max| state.total >= max)
        {
            self.count(slot, |s| s.over_limit += 1);
            return answer(
                self.config.total_limit_message.clone(),
                CallStatus::OverLimit,
            );
        }
        if spec
            .max_calls
            .is_some_and(|max| state.calls_of(slot) >= max)
        {
            self.count(slot, |s| s.over_limit += 1);
            return answer(spec.limit_message.clone(), CallStatus::OverLimit);
        }
        if spec.dedup_inputs {
            let fingerprint = fingerprint(slot, &request.input);
            if state.seen.contains(&fingerprint) {
                self.count(slot, |s| s.repeated += 1);
                return answer(spec.repeat_message.clone(), CallStatus::Repeated);
            }
            state.seen.push(fingerprint);
        }
        if state.calls.len() <= slot {
            state.calls.resize(slot + 1, 0);
        }
        state.calls[slot] += 1;
        state.total += 1;

        if spec.cache_results {
            let hit = self
                .cache
                .lock()
                .ok()
                .and_then(|c| c.get(slot, &request.input));
            if let Some(text) = hit {
                self.count(slot, |s| s.cache_hits += 1);
                return answer(text, CallStatus::Cached);
            }
        }
        let (text, status) = self.execute(slot, &request.input).await;
        let latency = start.elapsed();
        self.count(slot, |s| s.record(&status, latency));
        if spec.cache_results && status == CallStatus::Ok {
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(slot, request.input.clone(), text.clone());
            }
        }
        Observation {
            text,
            status,
            latency,
        }
    }

    /// Runs the tool in its own task (so a panic is contained) under the concurrency limits and
    /// the per-call timeout; on timeout the task is aborted, which drops the tool's future (the
    /// Python sandbox is killed on drop).
    async fn execute(&self, slot: usize, input: &str) -> (String, CallStatus) {
        let Slot { spec, semaphore } = &self.slots[slot];
        // The semaphores are never closed, so acquiring cannot fail; treat it as a failure anyway.
        let Ok(_global) = self.global.acquire().await else {
            return (
                "Error: the tool runner is shut down.".into(),
                CallStatus::Failed(ToolError::Refused("shut down".into())),
            );
        };
        let _own = match semaphore {
            Some(s) => match s.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return (
                        "Error: the tool is shut down.".into(),
                        CallStatus::Failed(ToolError::Refused("shut down".into())),
                    )
                }
            },
            None => None,
        };
        let tool = Arc::clone(&spec.tool);
        let owned_input = input.to_string();
        let handle = tokio::spawn(async move { tool.call(&owned_input).await });
        let abort = handle.abort_handle();
        let name = spec.tool.name();
        match tokio::time::timeout(spec.timeout, handle).await {
            Ok(Ok(Ok(text))) => (text, CallStatus::Ok),
            Ok(Ok(Err(err))) => (error_text(name, &err), CallStatus::Failed(err)),
            Ok(Err(join)) => {
                tracing::error!(tool = name, error = %join, "tool task panicked");
                (
                    format!("Error: the {name} tool crashed."),
                    CallStatus::Panicked,
                )
            }
            Err(_) => {
                abort.abort();
                let secs = spec.timeout.as_secs_f64();
                (
                    format!("Error: the {name} call timed out after {secs:.1} s."),
                    CallStatus::TimedOut(spec.timeout),
                )
            }
        }
    }

    fn count(&self, slot: usize, update: impl FnOnce(&mut ToolStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            if let Some(s) = stats.get_mut(slot) {
                update(s);
            }
        }
    }
}

/// The model-facing text of a tool error.
fn error_text(tool: &str, err: &ToolError) -> String {
    match err {
        // Limit messages carry the partial output and the limit, already worded for the model.
        ToolError::Limit(message) => message.clone(),
        ToolError::Timeout(d) => format!(
            "Error: the {tool} call timed out after {:.1} s.",
            d.as_secs_f64()
        ),
        ToolError::Refused(message) => format!("Error: the {tool} call was refused: {message}"),
        ToolError::Failed(message) => format!("Error: {message}"),
    }
}

/// Fingerprint of an input for repeat detection: tool slot + input with whitespace collapsed.
/// SipHash with fixed keys (`DefaultHasher::new`) is deterministic across runs.
fn fingerprint(slot: usize, input: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    slot.hash(&mut hasher);
    for word in input.split_whitespace() {
        word.hash(&mut hasher);
    }
    hasher.finish()
}

/// Bounded (tool, input) → text map; the oldest entry is evicted first.
struct ResultCache {
    capacity: usize,
    map: HashMap<(usize, String), String>,
    order: VecDeque<(usize, String)>,
}

impl ResultCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, slot: usize, input: &str) -> Option<String> {
        self.map.get(&(slot, input.to_string())).cloned()
    }

    fn insert(&mut self, slot: usize, input: String, text: String) {
        if self.capacity == 0 {
            return;
        }
        let key = (slot, input);
        if self.map.insert(key.clone(), text).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
