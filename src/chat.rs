//! The `chat` example: ask one question; the model answers with real tool calls (sandboxed Python, BM25 search), and
//! the rollout tree is printed and written as a self-contained HTML page.
//!
//! ```text
//! cargo run --release -p arpo-tools --bin arpo-search -- build-index --corpus wiki.jsonl --index .cache/wiki-index
//! cargo run --release --example chat -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --question "What is 2**20?" --index .cache/wiki-index --mode arpo --samples 4 --initial 2
//! ```
//!
//! The quickstart's trained policy (exported as an HF folder) over its generated corpus, with the
//! search settings it was trained with (`report.md` of the run prints this line for its own
//! held-out question):
//!
//! ```text
//! cargo run --release --example chat -- --model reports/quickstart/arpo/model \
//!     --corpus reports/quickstart/corpus.jsonl --top-k 1 --page-format snippet \
//!     --no-system-prompt --mode arpo --samples 8 --initial 4 --question "..."
//! ```

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use arpo_core::ChatMessage;
use arpo_model::SamplingConfig;
use arpo_rollout::render::html::{render_tree_html, HtmlOptions};
use arpo_rollout::render::text::render_tree_text;
use arpo_rollout::render::TokenText;
use arpo_rollout::{rollout, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode, RolloutOutput};
use arpo_tools::{
    search::corpus::read_jsonl, Bm25Index, PageFormat, PythonConfig, PythonTool, RunnerConfig,
    SearchBackend, SearchConfig, SearchTool, ToolRunner, ToolSpec,
};
use clap::{Parser, ValueEnum};

use crate::backend::{Inference, NAME};

/// The tool instructions given to the model (after the reference ARPO system prompt, shortened).
const SYSTEM_PROMPT: &str = "You are a helpful assistant that can solve the given question step by step with the \
help of tools. Think inside <think> </think>. To search, write <search> query </search>; to run Python, write \
<python> code </python>. Results come back inside <result> </result>. Give the final answer inside \
<answer> </answer> as \\boxed{...}.";

/// Result line format of the search tool.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// `Page i: <title>: <snippet>`.
    Title,
    /// `Page i: <snippet>` (the reference web-search format).
    Snippet,
}

/// Rollout mode.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Independent samples (`--samples` of them).
    Trajectory,
    /// ARPO's entropy-branching tree (`--samples` leaves from `--initial` samples).
    Arpo,
}

/// Options of `examples/chat`.
#[derive(Debug, Parser)]
#[command(about = "One question, one tool-using rollout, its tree rendered")]
pub struct ChatArgs {
    /// HF folder or .gguf file; omit for a tiny random model (noise, but the full path runs).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The question.
    #[arg(long, default_value = "What is 123 * 456? Use Python.")]
    pub question: String,
    /// A BM25 index built by `arpo-search build-index`; without it (or `--corpus`) only Python
    /// is offered.
    #[arg(long, conflicts_with = "corpus")]
    pub index: Option<PathBuf>,
    /// A JSON-lines corpus (`{"id","title","text"}` per line) indexed in memory for search.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Search results per query.
    #[arg(long, default_value_t = SearchConfig::default().top_k)]
    pub top_k: usize,
    /// Characters of each result's text shown.
    #[arg(long, default_value_t = SearchConfig::default().snippet_chars)]
    pub snippet_chars: usize,
    /// Result line format.
    #[arg(long, value_enum, default_value_t = Format::Title)]
    pub page_format: Format,
    /// Ask without the system prompt (for models trained without one, like the quickstart's).
    #[arg(long)]
    pub no_system_prompt: bool,
    /// Rollout mode.
    #[arg(long, value_enum, default_value_t = Mode::Trajectory)]
    pub mode: Mode,
    /// Leaves (M).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// ARPO initial samples (N).
    #[arg(long, default_value_t = 1)]
    pub initial: usize,
    /// Response budget in tokens (tool results included).
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    /// Seed of the sampling (and of the tiny random model).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Text the assistant's turn starts with (forced, part of the prompt), e.g. an opening
    /// `<python>` for small models that do not call tools on their own.
    #[arg(long, default_value = "")]
    pub assistant_prefix: String,
    /// Where the HTML tree goes.
    #[arg(long, default_value = "reports/chat-tree.html")]
    pub html: PathBuf,
}

/// Parses `args` (program name first), answers, prints the trajectories and the tree, and
/// writes the HTML tree; returns the rollout.
pub async fn run_cli<I, T>(args: I) -> Result<RolloutOutput>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(&ChatArgs::try_parse_from(args)?).await
}

/// [`run_cli`] with parsed options.
pub async fn run(args: &ChatArgs) -> Result<RolloutOutput> {
    let (model, tokenizer) = crate::load::load_policy::<Inference>(
        args.model.as_deref(),
        args.seed,
        args.max_tokens + 1024,
    )?;
    let mut specs =
        vec![ToolSpec::python(Arc::new(PythonTool::new(PythonConfig::default())?)).max_calls(5)];
    let index = match (&args.index, &args.corpus) {
        (Some(index), _) => Some(Bm25Index::open(index)?),
        (None, Some(corpus)) => Some(Bm25Index::build_in_ram(read_jsonl(corpus)?)?),
        (None, None) => None,
    };
    if let Some(index) = index {
        let search = SearchConfig {
            top_k: args.top_k,
            snippet_chars: args.snippet_chars,
            page_format: match args.page_format {
                Format::Title => PageFormat::TitleAndSnippet,
                Format::Snippet => PageFormat::Snippet,
            },
            ..SearchConfig::default()
        };
        let tool = SearchTool::new(search, None, SearchBackend::Bm25(index))?;
        specs.push(ToolSpec::search(Arc::new(tool)).max_calls(10));
    }
    let runner = Arc::new(ToolRunner::new(RunnerConfig::default(), specs)?);
    let mut messages = vec![ChatMessage::user(args.question.clone())];
    if !args.no_system_prompt {
        messages.insert(0, ChatMessage::system(SYSTEM_PROMPT));
    }
    let text = tokenizer.apply_chat_template(&messages, true)? + &args.assistant_prefix;
    let prompt = tokenizer.encode(&text)?;
    let mode = match args.mode {
        Mode::Trajectory => RolloutMode::Trajectory {
            samples: args.samples,
        },
        Mode::Arpo => RolloutMode::Arpo(ArpoConfig {
            total: args.samples,
            initial: args.initial,
            ..ArpoConfig::default()
        }),
    };
    let sampling = SamplingConfig {
        temperature: args.temperature,
        top_p: 0.95,
        top_k: 20,
        repetition_penalty: 1.0,
    };
    let mut config = RolloutConfig::new(mode, sampling, tokenizer.stop_token_ids());
    config.max_response_tokens = args.max_tokens;
    config.end_on_tool_limit = false;
    let inputs = [RolloutInput {
        task_id: "chat".into(),
        prompt_tokens: prompt,
    }];
    let out = rollout::<Inference, _>(
        &model,
        tokenizer.as_ref(),
        runner.clone(),
        &inputs,
        &config,
        args.seed,
    )
    .await?;
    let tree = &out.trees[0];
    for leaf in 0..tree.leaves.len() {
        println!(
            "--- trajectory {leaf} ({:?})\n{}",
            tree.leaves[leaf].finish,
            tree.response_text(leaf)
        );
    }
    println!("\n{}", render_tree_text(tree));
    let options = HtmlOptions {
        token_text: TokenText::Tokenizer(tokenizer.as_ref()),
        ..HtmlOptions::default()
    };
    if let Some(dir) = args.html.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.html, render_tree_html(tree, &options))
        .with_context(|| format!("{}", args.html.display()))?;
    eprintln!(
        "backend {NAME}: {} tokens forwarded, {} generated, {} tool calls, {:.1}s; tree written to {}",
        out.stats.forwarded_tokens,
        out.stats.generated_tokens,
        out.stats.tool_calls,
        out.stats.wall_secs,
        args.html.display()
    );
    Ok(out)
}
