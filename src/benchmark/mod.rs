//! Benchmark evaluation from the command line: the in-process burn agent and the CLI that every
//! per-benchmark example (`cargo run --release --example gsm8k -- --model PATH`) wraps.
//! The harness itself (settings, scoring, judge, reports, the completions-server agent) is in
//! `arpo_eval::harness`.

mod agent;
mod cli;

pub use agent::PolicyAgent;
pub(crate) use cli::search_tool;
pub use cli::{main, run, run_cli, BenchArgs};
