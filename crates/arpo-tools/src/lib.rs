//! The agent's hands: the tool-call tag protocol, a sandboxed Python interpreter, a search tool
//! (local BM25 index, offline replay cache, HTTP retriever), and the tool runner the rollout engine
//! calls. No tensors here: this crate knows nothing about models.
//!
//! Typical wiring for a rollout:
//!
//! ```no_run
//! # async fn demo() -> arpo_tools::Result<()> {
//! use std::sync::Arc;
//! use arpo_tools::{runner::*, python::*, search::*};
//! let python = PythonTool::new(PythonConfig::default())?; // probes bubblewrap
//! let index = Bm25Index::open("wiki-index".as_ref())?;
//! let search = SearchTool::new(SearchConfig::default(), None, SearchBackend::Bm25(index))?;
//! let runner = ToolRunner::new(
//!     RunnerConfig::default(),
//!     vec![ToolSpec::python(Arc::new(python)).max_calls(5), ToolSpec::search(Arc::new(search)).max_calls(10)],
//! )?;
//! let mut state = TrajectoryToolState::default(); // clone it when the trajectory branches
//! if let Some(request) = runner.detect("<think>…</think> <python>print(6*7)</python>") {
//!     let observation = runner.call(&mut state, request).await;
//!     let forced_text = observation.formatted(); // " <result>\n42\n</result>"
//! #   let _ = forced_text;
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
pub mod protocol;
pub mod python;
pub mod runner;
pub mod search;

pub use error::{Error, Result};
pub use protocol::{
    detect_call_at_end, detect_call_at_end_in, first_call, format_result, DetectedCall, TagSet,
};
pub use python::{HostUser, PythonConfig, PythonLimits, PythonTool, SandboxKind, SandboxPolicy};
pub use runner::{
    CallStatus, Observation, RunnerConfig, ToolRequest, ToolRunner, ToolSpec, TrajectoryToolState,
};
pub use search::{
    Bm25Index, HttpRetriever, HttpRetrieverConfig, PageFormat, ReplayCache, SearchBackend,
    SearchConfig, SearchTool,
};
