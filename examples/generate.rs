//! Generate a completion with a model (HF folder or GGUF) and print prefill / decode speed.
//!
//! ```text
//! cargo run --release --example generate -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --prompt "What is the capital of France?" --max-new-tokens 64
//! ```
//! Without `--model`, a tiny randomly initialised model with a byte-level tokenizer runs (no
//! download; its text is noise, the point is to exercise the whole path).

use std::path::PathBuf;

use anyhow::{Context, Result};
use arpo::backend::{Inference, NAME};
use arpo::core::{ChatMessage, Tokenizer};
use arpo::model::tokenizer::{load_tokenizer, ByteTokenizer};
use arpo::model::{
    from_scratch, generate, load_model, GenerateConfig, ModelConfig, SamplingConfig,
};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Generate a completion and report tokens per second")]
struct Args {
    /// HF model folder or .gguf file; omit for a tiny random model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The user message.
    #[arg(long, default_value = "What is 17 * 23? Think step by step.")]
    prompt: String,
    /// Optional system message.
    #[arg(long)]
    system: Option<String>,
    /// Feed the prompt as raw text instead of through the chat template.
    #[arg(long)]
    raw: bool,
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// 0 means greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Longest context the model is prepared for (RoPE table size).
    #[arg(long, default_value_t = 4096)]
    max_context: usize,
}

/// Freed buffers stay in the heap for the next forward (see `arpo::allocator`).
#[global_allocator]
static ALLOCATOR: arpo::allocator::RetainingAllocator = arpo::allocator::RetainingAllocator;

fn main() -> Result<()> {
    let args = Args::parse();
    let device = Default::default();
    let (model, tokenizer): (_, Box<dyn Tokenizer>) = match &args.model {
        Some(path) => (
            load_model::<Inference>(path, args.max_context, &device)
                .with_context(|| format!("loading {}", path.display()))?,
            load_tokenizer(path).with_context(|| format!("tokenizer of {}", path.display()))?,
        ),
        None => {
            let tokenizer = ByteTokenizer::with_tool_tags();
            let config = ModelConfig::small(tokenizer.vocab_size(), 64, 2);
            (
                from_scratch::<Inference>(&config, args.seed, &device)?,
                Box::new(tokenizer),
            )
        }
    };
    let text = if args.raw {
        args.prompt.clone()
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(ChatMessage::system(system.clone()));
        }
        messages.push(ChatMessage::user(args.prompt.clone()));
        tokenizer.apply_chat_template(&messages, true)?
    };
    let prompt = tokenizer.encode(&text)?;
    let config = GenerateConfig {
        sampling: SamplingConfig {
            temperature: args.temperature,
            top_p: args.top_p,
            top_k: args.top_k,
            ..Default::default()
        },
        max_new_tokens: args.max_new_tokens,
        stop_tokens: tokenizer.stop_token_ids(),
    };
    let (outputs, timings) = generate(&model, &[prompt.clone()], &[args.seed], &config)?;
    println!("{}", tokenizer.decode(&outputs[0].tokens)?);
    eprintln!(
        "backend {NAME}: prefill {} tokens at {:.1} tok/s, decode {} tokens at {:.1} tok/s",
        timings.prefill_tokens,
        timings.prefill_tokens_per_sec(),
        timings.decode_tokens,
        timings.decode_tokens_per_sec()
    );
    Ok(())
}
