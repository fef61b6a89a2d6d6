//! Per-tool counters of a [`super::ToolRunner`].

use std::time::Duration;

use arpo_core::ToolError;

use super::CallStatus;

/// Counters of one tool since the runner was built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolStats {
    /// Tool name.
    pub tool: String,
    /// Requests routed to the tool (all outcomes).
    pub requests: u64,
    /// Calls the tool actually ran.
    pub executed: u64,
    /// Executed calls that answered regularly.
    pub ok: u64,
    /// Executed calls that failed (tool error other than a timeout, or a panic).
    pub failures: u64,
    /// Executed calls that timed out (runner timeout or the tool's own).
    pub timeouts: u64,
    /// Executed calls stopped by a resource limit (memory, CPU, output, processes).
    pub limits: u64,
    /// Requests refused by a call limit.
    pub over_limit: u64,
    /// Requests answered with the repeated-input message.
    pub repeated: u64,
    /// Requests answered from the result cache.
    pub cache_hits: u64,
    /// Requests rejected for a missing opening tag.
    pub malformed: u64,
    /// Summed latency of executed calls.
    pub total_latency: Duration,
}

impl ToolStats {
    pub(crate) fn new(tool: &str) -> Self {
        Self {
            tool: tool.to_string(),
            ..Self::default()
        }
    }

    /// Mean latency of executed calls (`None` before the first).
    pub fn mean_latency(&self) -> Option<Duration> {
        u32::try_from(self.executed)
            .ok()
            .filter(|&n| n > 0)
            .map(|n| self.total_latency / n)
    }

    pub(crate) fn record(&mut self, status: &CallStatus, latency: Duration) {
        self.executed += 1;
        self.total_latency += latency;
        match status {
            CallStatus::Ok | CallStatus::Cached => self.ok += 1,
            CallStatus::TimedOut(_) | CallStatus::Failed(ToolError::Timeout(_)) => {
                self.timeouts += 1
            }
            CallStatus::Failed(ToolError::Limit(_)) => self.limits += 1,
            _ => self.failures += 1,
        }
    }
}
