//! Ask one question; the model answers with real tool calls (sandboxed Python, BM25 search), and
//! the rollout tree is printed and written as a self-contained HTML page.
//!
//! ```text
//! cargo run --release -p arpo-tools --bin arpo-search -- build-index --corpus wiki.jsonl --index .cache/wiki-index
//! cargo run --release --example chat -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --question "What is 2**20?" --index .cache/wiki-index --mode arpo --samples 4 --initial 2
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use arpo::backend::{Inference, NAME};
use arpo::core::{ChatMessage, Tokenizer};
use arpo::model::tokenizer::{load_tokenizer, ByteTokenizer};
use arpo::model::{from_scratch, load_model, ModelConfig, SamplingConfig};
use arpo::rollout::render::html::{render_tree_html, HtmlOptions};
use arpo::rollout::render::text::render_tree_text;
use arpo::rollout::render::TokenText;
use arpo::rollout::{rollout, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode};
use arpo::tools::{
    Bm25Index, PythonConfig, PythonTool, RunnerConfig, SearchBackend, SearchConfig, SearchTool,
    ToolRunner, ToolSpec,
};
use clap::{Parser, ValueEnum};

/// The tool instructions given to the model (after the reference ARPO system prompt, shortened).
const SYSTEM_PROMPT: &str = "You are a helpful assistant that can solve the given question step by step with the \
help of tools. Think inside <think> </think>. To search, write <search> query </search>; to run Python, write \
<python> code </python>. Results come back inside <result> </result>. Give the final answer inside \
<answer> </answer> as \\boxed{...}.";

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Trajectory,
    Arpo,
}

#[derive(Parser)]
#[command(about = "One question, one tool-using rollout, its tree rendered")]
struct Args {
    /// HF folder or .gguf file; omit for a tiny random model (noise, but the full path runs).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value = "What is 123 * 456? Use Python.")]
    question: String,
    /// A BM25 index built by `arpo-search build-index`; without it only Python is offered.
    #[arg(long)]
    index: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Mode::Trajectory)]
    mode: Mode,
    /// Leaves (M).
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// ARPO initial samples (N).
    #[arg(long, default_value_t = 1)]
    initial: usize,
    #[arg(long, default_value_t = 512)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0.7)]
    temperature: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Text the assistant's turn starts with (forced, part of the prompt), e.g. an opening
    /// `<python>` for small models that do not call tools on their own.
    #[arg(long, default_value = "")]
    assistant_prefix: String,
    /// Where the HTML tree goes.
    #[arg(long, default_value = "reports/chat-tree.html")]
    html: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let device = Default::default();
    let (model, tokenizer): (_, Box<dyn Tokenizer>) = match &args.model {
        Some(path) => (
            load_model::<Inference>(path, args.max_tokens + 1024, &device)
                .with_context(|| format!("{}", path.display()))?,
            load_tokenizer(path)?,
        ),
        None => {
            let tok = ByteTokenizer::with_tool_tags();
            (
                from_scratch::<Inference>(
                    &ModelConfig::small(tok.vocab_size(), 64, 2),
                    args.seed,
                    &device,
                )?,
                Box::new(tok),
            )
        }
    };
    let mut specs =
        vec![ToolSpec::python(Arc::new(PythonTool::new(PythonConfig::default())?)).max_calls(5)];
    if let Some(index) = &args.index {
        let backend = SearchBackend::Bm25(Bm25Index::open(index)?);
        specs.push(
            ToolSpec::search(Arc::new(SearchTool::new(
                SearchConfig::default(),
                None,
                backend,
            )?))
            .max_calls(10),
        );
    }
    let runner = Arc::new(ToolRunner::new(RunnerConfig::default(), specs)?);
    let messages = [
        ChatMessage::system(SYSTEM_PROMPT),
        ChatMessage::user(args.question.clone()),
    ];
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
    Ok(())
}
