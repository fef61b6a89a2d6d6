//! arpo-eval: benchmark data, answer scoring, the ARPO rewards, pass@k, run summaries, SVG
//! charts and the LLM judge.
//!
//! Scoring lives here once: the training crate takes its rewards from [`reward`], and the
//! benchmark [`harness`] scores with the same [`scoring`] functions. This crate holds no tensor
//! code: the harness drives any [`harness::Agent`] (the in-process burn policy lives in the `arpo`
//! crate; [`harness::CompletionsAgent`] talks to an OpenAI-compatible server).
#![deny(missing_docs)]

mod api;
pub mod data;
mod error;
pub mod harness;
pub mod judge;
pub mod paired;
pub mod passk;
pub mod plot;
pub mod reward;
pub mod scoring;
pub mod summary;
pub mod synthetic;

pub use api::EndpointConfig;
pub use data::{load_by_name, load_verl_parquet, Benchmark, BenchmarkInfo, Metric, RlData};
pub use error::{Error, Result};
pub use harness::{
    run_benchmark, Agent, Decoding, EvalSpec, RunOptions, RunReport, ToolLimits, Trajectory,
};
pub use judge::{JudgeClient, JudgeConfig, Verdict};
pub use paired::{paired_comparison, sign_test, PairedComparison};
pub use passk::{mean_pass_at_k, pass_at_k};
pub use reward::{AnswerMetric, ArpoReward, RewardDetail};
pub use scoring::{extract_answer, math_equal, normalize_answer, token_f1, AnswerScore};
pub use summary::{markdown_table, QuestionRecord, Summary};
