//! The command line shared by the per-benchmark examples (`examples/gsm8k.rs`, ...): loads the
//! data, builds the tools and the agent (an in-process burn model, or a completions server),
//! runs the harness with progress lines, and writes the run folder.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arpo_core::{Tokenizer, Tool};
use arpo_eval::harness::{
    chatml, run_benchmark, write_report, CompletionsAgent, CompletionsConfig, EvalSpec, Progress,
    PromptRenderer, RunOptions, RunReport, ToolLimits,
};
use arpo_eval::judge::{JudgeClient, JudgeConfig};
use arpo_eval::Benchmark;
use arpo_model::tokenizer::load_tokenizer;
use arpo_tools::{
    Bm25Index, PythonConfig, PythonTool, ReplayCache, SearchBackend, SearchConfig, SearchTool,
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use super::PolicyAgent;
use crate::backend::{Inference, NAME};

/// Options of every per-benchmark example.
#[derive(Debug, Parser)]
#[command(about = "Evaluate a tool-using model on one benchmark with the paper's settings")]
pub struct BenchArgs {
    /// HF model folder or .gguf file run in-process; `tiny` for a tiny random model (no
    /// download: checks the pipeline, answers are noise).
    #[arg(long, conflicts_with = "server")]
    pub model: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible completions server (vLLM, SGLang) instead of --model;
    /// the key is read from OPENAI_API_KEY.
    #[arg(long)]
    pub server: Option<String>,
    /// Model name sent to the server.
    #[arg(long, default_value = "default")]
    pub server_model: String,
    /// Tokenizer (HF folder or .gguf) whose chat template renders prompts for --server;
    /// default: ChatML (Qwen2.5).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// The benchmark's JSON-lines file; default `$ARPO_BENCHMARKS/<name>/test.jsonl`, else
    /// `data/benchmarks/<name>/test.jsonl`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// First N questions only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Sampled responses per question (the paper averages 5).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// OpenAI-compatible chat endpoint of the LLM judge (GAIA, HLE, WebWalker, xbench; math with
    /// --judge-math).
    #[arg(long)]
    pub judge_url: Option<String>,
    /// Judge model name (the paper: Qwen2.5-72B-Instruct).
    #[arg(long, default_value = "Qwen2.5-72B-Instruct")]
    pub judge_model: String,
    /// Also ask the judge about math answers that fail the equivalence check.
    #[arg(long)]
    pub judge_math: bool,
    /// BM25 index folder for the search tool (`arpo-search build-index`).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Replay cache of search results (JSON object query → text), consulted before the index.
    #[arg(long)]
    pub search_cache: Option<PathBuf>,
    /// Tools offered, overriding the benchmark's default: `python`, `search`, both
    /// (`python,search`) or `none`.
    #[arg(long, value_delimiter = ',')]
    pub tools: Option<Vec<String>>,
    /// Python calls per trajectory (paper: 5).
    #[arg(long, default_value_t = 5)]
    pub python_calls: u32,
    /// Searches per trajectory (paper: 10).
    #[arg(long, default_value_t = 10)]
    pub search_calls: u32,
    /// Response budget in tokens (paper: 4096).
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Sampling temperature (paper: 0.6).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus mass (paper: 0.95).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Top-k (paper: 20; 0 = off).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Repetition penalty (paper: 1.1).
    #[arg(long)]
    pub repetition_penalty: Option<f64>,
    /// Questions decoded as one batch (in-process) or between progress lines.
    #[arg(long, default_value_t = 16)]
    pub chunk: usize,
    /// Trajectories in flight at once against --server.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Results folder; the run goes to `<out>/<benchmark>/<model>-seed<seed>`.
    #[arg(long, default_value = "reports/eval")]
    pub out: PathBuf,
    /// Leave the full responses out of the records.
    #[arg(long)]
    pub no_responses: bool,
    /// Go on with an interrupted run: questions already answered in the run folder's journal
    /// are kept, not asked again. Without it an old journal is discarded.
    #[arg(long)]
    pub resume: bool,
}

/// The entry point of a per-benchmark example: parses the process arguments and runs.
pub async fn main(benchmark: Benchmark) -> Result<()> {
    run_cli(benchmark, std::env::args_os()).await.map(|_| ())
}

/// Parses `args` (program name first) and runs the benchmark; returns the report, also written
/// to the run folder.
pub async fn run_cli<I, T>(benchmark: Benchmark, args: I) -> Result<RunReport>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = BenchArgs::try_parse_from(args)?;
    run(benchmark, &args).await
}

/// Runs `benchmark` with parsed options.
pub async fn run(benchmark: Benchmark, args: &BenchArgs) -> Result<RunReport> {
    let data = data_path(benchmark, args.data.as_deref())?;
    let mut tasks = benchmark
        .load(&data)
        .with_context(|| format!("loading {benchmark}"))?;
    if let Some(n) = args.limit {
        tasks.truncate(n);
    }
    let spec = spec(benchmark, args)?;
    let python: Option<Arc<dyn Tool>> = match spec.tools.python {
        Some(_) => Some(Arc::new(PythonTool::new(PythonConfig::default())?)),
        None => None,
    };
    let search = match spec.tools.search {
        Some(_) => search_tool(args.index.as_deref(), args.search_cache.as_deref())?,
        None => None,
    };
    let runner = Arc::new(spec.tool_runner(python, search)?);
    let judge = match &args.judge_url {
        Some(url) => Some(JudgeClient::new(JudgeConfig::new(url, &args.judge_model))?),
        None => None,
    };
    let dir = run_dir(&args.out, benchmark, args);
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let journal = dir.join("journal.jsonl");
    if !args.resume && journal.exists() {
        std::fs::remove_file(&journal).with_context(|| journal.display().to_string())?;
    }
    let options = RunOptions {
        spec: &spec,
        judge: judge.as_ref(),
        judge_math: args.judge_math,
        chunk: args.chunk,
        seed: args.seed,
        keep_responses: !args.no_responses,
        journal: Some(&journal),
    };
    eprintln!(
        "{benchmark}: {} questions × {} samples from {}",
        tasks.len(),
        spec.samples,
        data.display()
    );
    let bar = ProgressBar::new(tasks.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(benchmark.to_string());
    let mut on_progress = |p: &Progress| {
        let line = format!(
            "correct {}/{} · {:.2} tool calls/response · {:.0} tokens/s",
            p.correct,
            p.responses,
            p.tool_calls as f64 / p.responses.max(1) as f64,
            p.tokens as f64 / p.elapsed.max(1e-9)
        );
        bar.set_position(p.done as u64);
        bar.set_message(line.clone());
        if bar.is_hidden() {
            eprintln!("{benchmark} {}/{} {line}", p.done, p.total);
        }
    };
    let report = match &args.server {
        Some(url) => {
            let render = match &args.tokenizer {
                Some(path) => template_of(load_tokenizer(path)?),
                None => chatml(),
            };
            let mut config = CompletionsConfig::new(url, &args.server_model);
            config.concurrency = args.concurrency;
            let agent = CompletionsAgent::new(config, render)?;
            run_benchmark(&agent, &tasks, &runner, &options, &mut on_progress).await?
        }
        None => {
            let model_arg = args.model.as_deref().context(
                "give --model PATH (HF folder or .gguf; `tiny` for a random test model) or \
                 --server URL",
            )?;
            let context = spec.decoding.max_new_tokens + 2048;
            let (model, tokenizer) = crate::load::load_policy::<Inference>(
                crate::load::model_path(model_arg),
                args.seed,
                context,
            )?;
            let agent = PolicyAgent {
                policy: &model,
                tokenizer: tokenizer.as_ref(),
                label: format!("{} ({NAME})", model_arg.display()),
                max_batch_rows: None,
                backend: std::marker::PhantomData,
            };
            run_benchmark(&agent, &tasks, &runner, &options, &mut on_progress).await?
        }
    };
    bar.finish_and_clear();
    write_report(&dir, &report)?;
    // The records file now holds everything (judge verdicts included): the journal is spent.
    if journal.exists() {
        std::fs::remove_file(&journal).with_context(|| journal.display().to_string())?;
    }
    println!(
        "{}\nrecords and summary in {}",
        arpo_eval::summary::markdown_table(std::slice::from_ref(&report.summary)),
        dir.display()
    );
    if report.unjudged > 0 {
        eprintln!(
            "note: {} response(s) needed the LLM judge and none was given (--judge-url); \
             they count by string match only",
            report.unjudged
        );
    }
    Ok(report)
}

/// The data file: `--data`, else the default layout below `$ARPO_BENCHMARKS` or
/// `data/benchmarks`; a missing file is an error that says where it was looked for.
fn data_path(benchmark: Benchmark, given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let root = std::env::var_os("ARPO_BENCHMARKS")
                .map_or_else(|| PathBuf::from("data/benchmarks"), PathBuf::from);
            benchmark.default_path(&root)
        }
    };
    if !path.is_file() {
        bail!(
            "{benchmark}: no data file at {} — pass --data FILE, or set ARPO_BENCHMARKS to a \
             folder laid out as <benchmark>/test.jsonl (the layout of the ARPO reference's \
             evaluation data)",
            path.display()
        );
    }
    Ok(path)
}

/// The benchmark's paper settings with the command line's overrides.
fn spec(benchmark: Benchmark, args: &BenchArgs) -> Result<EvalSpec> {
    let mut spec = EvalSpec::paper(benchmark);
    let mut tools = spec.tools;
    if let Some(names) = &args.tools {
        tools = ToolLimits::NONE;
        for name in names {
            match name.trim() {
                "python" => tools.python = Some(0),
                "search" => tools.search = Some(0),
                "none" | "" => {}
                other => bail!("--tools: unknown tool {other:?} (python, search or none)"),
            }
        }
    }
    tools.python = tools.python.map(|_| args.python_calls);
    tools.search = tools.search.map(|_| args.search_calls);
    spec = spec.with_tools(tools);
    spec.samples = args.samples;
    let d = &mut spec.decoding;
    d.max_new_tokens = args.max_new_tokens.unwrap_or(d.max_new_tokens);
    d.temperature = args.temperature.unwrap_or(d.temperature);
    d.top_p = args.top_p.unwrap_or(d.top_p);
    d.top_k = args.top_k.unwrap_or(d.top_k);
    d.repetition_penalty = args.repetition_penalty.unwrap_or(d.repetition_penalty);
    Ok(spec)
}

/// The search tool from `--index` and/or `--search-cache`.
/// The search tool over a BM25 index and/or a replay cache; `None` when neither is given.
pub(crate) fn search_tool(
    index: Option<&Path>,
    cache: Option<&Path>,
) -> Result<Option<Arc<dyn Tool>>> {
    let cache = match cache {
        Some(p) => Some(ReplayCache::load(p)?),
        None => None,
    };
    let backend = match index {
        Some(dir) => SearchBackend::Bm25(
            Bm25Index::open(dir).with_context(|| format!("search index {}", dir.display()))?,
        ),
        None if cache.is_some() => SearchBackend::CacheOnly,
        None => return Ok(None),
    };
    Ok(Some(Arc::new(SearchTool::new(
        SearchConfig::default(),
        cache,
        backend,
    )?)))
}

/// A prompt renderer from a tokenizer's chat template.
fn template_of(tokenizer: Box<dyn Tokenizer>) -> PromptRenderer {
    let tokenizer: Arc<dyn Tokenizer> = Arc::from(tokenizer);
    Arc::new(move |messages| Ok(tokenizer.apply_chat_template(messages, true)?))
}

/// `<out>/<benchmark>/<model>-seed<seed>`, the model part reduced to file-name characters.
fn run_dir(out: &Path, benchmark: Benchmark, args: &BenchArgs) -> PathBuf {
    let model = match (&args.model, &args.server) {
        (Some(p), _) => p
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
        (None, _) => args.server_model.clone(),
    };
    let model: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.join(benchmark.name())
        .join(format!("{model}-seed{}", args.seed))
}
