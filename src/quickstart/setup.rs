//! What the quickstart builds before training: the generated task, its tools and the SFT data.
//!
//! The tools are the real ones a full-size run uses (BM25 search over the generated corpus,
//! sandboxed Python, one `ToolRunner` with per-trajectory limits). SFT examples are made by
//! running every demonstration's calls through that runner, so the cold start shows the model
//! exactly the result text it will see during RL, and the result segments are masked out of the
//! SFT loss as RL masks them.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arpo_core::{Tokenizer, Tool};
use arpo_eval::synthetic::{Demonstration, SyntheticDataset};
use arpo_model::tokenizer::{train_bpe, BpeTrainingConfig, ByteTokenizer};
use arpo_tools::search::corpus::Document;
use arpo_tools::{
    Bm25Index, PageFormat, PythonConfig, PythonTool, RunnerConfig, SearchBackend, SearchConfig,
    SearchTool, ToolRunner, ToolSpec, TrajectoryToolState,
};
use arpo_train::sft::SftExample;

use super::QuickstartError;

/// Per-trajectory tool limits: the paper's reasoning setting allows 3 calls in training; the
/// task needs at most 3 (two lookups and one computation), and one spare lets a policy retry.
pub const MAX_TOTAL_CALLS: u32 = 4;

/// The tools of the task: search over the generated corpus and the Python sandbox.
pub fn build_runner(
    dataset: &SyntheticDataset,
    python: PythonConfig,
) -> Result<Arc<ToolRunner>, QuickstartError> {
    let docs = dataset.corpus.iter().map(|d| Document {
        id: d.id.clone(),
        title: d.title.clone(),
        text: d.text.clone(),
    });
    let index = Bm25Index::build_in_ram(docs)?;
    // Whole documents in one result line, no title (entity documents start with their name),
    // one hit: the task's documents are short and the tiny model's context is a few hundred
    // tokens (see arpo_eval::synthetic).
    let search = SearchTool::new(
        SearchConfig {
            top_k: arpo_eval::synthetic::SUGGESTED_TOP_K,
            snippet_chars: dataset.max_doc_chars(),
            page_format: PageFormat::Snippet,
            ..Default::default()
        },
        None,
        SearchBackend::Bm25(index),
    )?;
    let python = PythonTool::new(python)?;
    let runner = ToolRunner::new(
        RunnerConfig {
            max_total_calls: Some(MAX_TOTAL_CALLS),
            ..Default::default()
        },
        vec![
            ToolSpec::python(Arc::new(python) as Arc<dyn Tool>),
            ToolSpec::search(Arc::new(search) as Arc<dyn Tool>),
        ],
    )?;
    Ok(Arc::new(runner))
}

/// A demonstration replayed through the tools: the response text and its result spans.
pub struct Replay {
    /// The assistant response with the tools' real outputs.
    pub response: String,
    /// Byte ranges of the forced ` <result>…</result>` segments.
    pub result_spans: Vec<Range<usize>>,
}

/// Runs the calls of `demo` through `runner` in order, as a rollout would; returns the outputs.
async fn run_calls(runner: &ToolRunner, demo: &Demonstration) -> Vec<String> {
    let mut state = TrajectoryToolState::default();
    let mut outputs = Vec::new();
    for call in demo.calls() {
        let request = arpo_tools::ToolRequest::new(call.tool.tag(), call.input.clone());
        outputs.push(runner.call(&mut state, request).await.text);
    }
    outputs
}

/// Replays every demonstration through `runner` (concurrently; the runner bounds concurrency).
pub async fn replay_demos(
    runner: &Arc<ToolRunner>,
    demos: &[Demonstration],
) -> Result<Vec<Replay>, QuickstartError> {
    let mut handles = Vec::with_capacity(demos.len());
    for demo in demos {
        let (runner, demo) = (runner.clone(), demo.clone());
        handles.push(tokio::spawn(async move { run_calls(&runner, &demo).await }));
    }
    let mut replays = Vec::with_capacity(demos.len());
    for (demo, handle) in demos.iter().zip(handles) {
        let outputs = handle
            .await
            .map_err(|e| QuickstartError::Task(e.to_string()))?;
        let (response, result_spans) = demo.render_with_result_spans(&outputs)?;
        replays.push(Replay {
            response,
            result_spans,
        });
    }
    Ok(replays)
}

/// The tokenizer of the from-scratch model: a byte-level BPE with `bpe_vocab` entries learned on
/// the training side of the task (prompts and replayed demonstrations: held-out entities appear
/// only as pieces) and saved to `save_to` (`tokenizer.json`), or, with `None`, bytes plus the tool tags as single tokens.
pub fn build_tokenizer(
    bpe_vocab: Option<usize>,
    demos: &[Demonstration],
    replays: &[Replay],
    save_to: &Path,
) -> Result<Box<dyn Tokenizer>, QuickstartError> {
    let Some(vocab_size) = bpe_vocab else {
        return Ok(Box::new(ByteTokenizer::with_tool_tags()));
    };
    let texts: Vec<String> = demos
        .iter()
        .zip(replays)
        .map(|(d, r)| {
            let prompt: Vec<&str> = d.prompt.iter().map(|m| m.content.as_str()).collect();
            format!("{}\n{}", prompt.join("\n"), r.response)
        })
        .collect();
    let config = BpeTrainingConfig {
        vocab_size,
        // Numbers as GPT-2 pre-tokens chunked by BPE: 2–3 tokens each instead of 4–5 digits,
        // so copying a looked-up number into the Python call is a shorter copy.
        split_digits: false,
        ..BpeTrainingConfig::default()
    };
    let tokenizer = train_bpe(&texts, &config)?;
    tokenizer
        .inner()
        .save(save_to, false)
        .map_err(|e| QuickstartError::Task(format!("{}: {e}", save_to.display())))?;
    Ok(Box::new(tokenizer))
}

/// SFT examples from the replayed demonstrations: prompt and tool results untrained, the model's
/// own text and the end-of-turn token trained.
pub fn sft_examples(
    tokenizer: &dyn Tokenizer,
    demos: &[Demonstration],
    replays: &[Replay],
) -> Result<Vec<SftExample>, QuickstartError> {
    demos
        .iter()
        .zip(replays)
        .map(|(d, r)| encode_example(tokenizer, d, &r.response, &r.result_spans))
        .collect()
}

/// Tokenizes piece by piece, as the rollout does (model text, then each forced result segment
/// encoded on its own), so the token boundaries are those the policy meets during RL.
fn encode_example(
    tokenizer: &dyn Tokenizer,
    demo: &Demonstration,
    response: &str,
    result_spans: &[Range<usize>],
) -> Result<SftExample, QuickstartError> {
    let prompt = tokenizer.apply_chat_template(&demo.prompt, true)?;
    let mut ex = SftExample {
        tokens: tokenizer.encode(&prompt)?,
        loss_mask: Vec::new(),
    };
    ex.loss_mask.resize(ex.tokens.len(), false);
    let mut push = |text: &str, trained: bool| -> Result<(), QuickstartError> {
        let ids = tokenizer.encode(text)?;
        ex.loss_mask.extend(std::iter::repeat_n(trained, ids.len()));
        ex.tokens.extend(ids);
        Ok(())
    };
    let mut at = 0;
    for span in result_spans {
        push(&response[at..span.start], true)?;
        push(&response[span.clone()], false)?;
        at = span.end;
    }
    push(&response[at..], true)?;
    // The end-of-turn token is what stops a rollout: the model must learn to emit it.
    let stop = tokenizer.stop_token_ids();
    let end = *stop
        .first()
        .ok_or_else(|| QuickstartError::Task("tokenizer has no stop token".into()))?;
    ex.tokens.push(end);
    ex.loss_mask.push(true);
    Ok(ex)
}
