//! `ToolRunner`: what the rollout engine calls when generation stops on a closing tool tag.
//!
//! It routes a call to its tool, applies the per-trajectory limits (reference messages), answers a
//! repeated search with "You have searched this query", bounds each call in time and all calls in
//! concurrency, caches results, and keeps per-tool counters. Whatever the tool does (fails, hangs,
//! panics), [`ToolRunner::call`] returns an [`Observation`] for the model; it has no error path.
//!
//! Per-trajectory state lives outside the runner in [`TrajectoryToolState`], a small value that
//! the engine clones when a trajectory branches (two short vectors, no heap sharing).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arpo_core::ToolError;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::protocol::{
    detect_call_at_end, detect_call_at_end_in, format_result, DetectedCall, TagSet,
};

mod cache;
mod config;
mod stats;

use cache::ResultCache;
pub use config::{MissingOpenTag, RunnerConfig, ToolSpec, REPEATED_QUERY_MESSAGE};
pub use stats::ToolStats;

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

#[cfg(test)]
mod tests;
