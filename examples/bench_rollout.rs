//! Rollout benchmark on a trained tool-using policy: ARPO's entropy-branching tree against
//! independent trajectories (the GRPO rollout) at the same number of leaves, and batched decoding
//! against one sequence at a time, with the real tools (BM25 search, sandboxed Python).
//!
//! `cargo run --release --example bench_rollout [-- --report reports/quickstart --prompts 16]`
//! uses the SFT policy of a finished quickstart report folder (run the quickstart first) and its
//! held-out questions. Every configuration rolls out the same prompts with the same seed; the
//! table gives forwarded and generated tokens, tool calls, forward calls and wall time, then the
//! ratios ARPO / trajectory and one-at-a-time / batched. The figures are also written to
//! `bench_rollout.json` in the report folder.
//!
//! `-- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf [--max-tokens 96]` measures the
//! same on a real checkpoint (HF folder or GGUF) with the Python tool and a few built-in
//! arithmetic questions, writing `reports/bench_rollout_model.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arpo::backend::{Inference, Training, NAME};
use arpo::quickstart::{prepare, rollout_config, QuickstartConfig, RunOptions};
use arpo_core::{ChatMessage, Tokenizer};
use arpo_eval::synthetic::SYSTEM_PROMPT;
use arpo_model::tokenizer::load_tokenizer;
use arpo_model::{load_model, CausalLm, SamplingConfig};
use arpo_rollout::{rollout, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode, RolloutStats};
use arpo_tools::{PythonConfig, PythonTool, RunnerConfig, ToolRunner, ToolSpec};
use burn::module::AutodiffModule;
use clap::Parser;
use serde::Serialize;

/// Questions for a real checkpoint (`--model`): short, arithmetic, the kind a tool helps with.
const MODEL_QUESTIONS: [&str; 4] = [
    "What is 4096 divided by 32, plus 17?",
    "A shop sells 23 boxes of 48 pens. How many pens is that?",
    "What is the sum of the squares of 12 and 35?",
    "How many seconds are there in 3 days?",
];

#[derive(Parser)]
#[command(
    about = "ARPO tree vs trajectory rollout, batched vs sequential, on the quickstart policy"
)]
struct Args {
    /// A quickstart report folder with a finished SFT (its `config.json` and `sft/` checkpoint).
    #[arg(long, default_value = "reports/quickstart")]
    report: PathBuf,
    /// Held-out questions rolled out per configuration.
    #[arg(long, default_value_t = 16)]
    prompts: usize,
    /// Rollout seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Measure a real checkpoint (HF folder or `.gguf`) instead of the quickstart policy.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Response budget with `--model`.
    #[arg(long, default_value_t = 96)]
    max_tokens: usize,
    /// Leaves per question with `--model` (ARPO starts half of them).
    #[arg(long, default_value_t = 8)]
    leaves: usize,
}

/// One measured configuration.
#[derive(Serialize)]
struct Row {
    mode: &'static str,
    batching: &'static str,
    leaves: usize,
    generated_tokens: usize,
    forwarded_tokens: usize,
    tool_calls: usize,
    branch_copies: usize,
    forward_calls: usize,
    wall_secs: f64,
}

impl Row {
    fn new(mode: &'static str, batching: &'static str, leaves: usize, s: &RolloutStats) -> Self {
        Self {
            mode,
            batching,
            leaves,
            generated_tokens: s.generated_tokens,
            forwarded_tokens: s.forwarded_tokens,
            tool_calls: s.tool_calls,
            branch_copies: s.branch_copies,
            forward_calls: s.forward_calls,
            wall_secs: s.wall_secs,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    match &args.model {
        Some(path) => bench_model(&args, path).await,
        None => bench_quickstart(&args).await,
    }
}

/// The quickstart's SFT policy on its held-out questions and tools.
async fn bench_quickstart(args: &Args) -> Result<()> {
    let config_path = args.report.join("config.json");
    if !config_path.exists() {
        bail!(
            "{}: no quickstart report here; run `cargo run --release --example quickstart` first \
             (or pass --report DIR)",
            config_path.display()
        );
    }
    let text =
        std::fs::read_to_string(&config_path).with_context(|| config_path.display().to_string())?;
    let mut config: QuickstartConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a quickstart config", config_path.display()))?;
    config.out_dir = args.report.clone();
    let options = RunOptions {
        quiet: true,
        resume_sft: true,
    };
    eprintln!(
        "bench_rollout: backend {NAME}, SFT policy of {} (seed {})",
        args.report.display(),
        config.seed
    );
    let prepared = prepare::<Training>(&config, &Default::default(), options).await?;
    let policy = prepared.sft_model.valid();
    let tokenizer = prepared.tokenizer.as_ref();
    let count = args.prompts.min(prepared.eval_tasks.len());
    let inputs = prepared.eval_tasks[..count]
        .iter()
        .map(|t| {
            Ok(RolloutInput {
                task_id: t.id.clone(),
                prompt_tokens: arpo_train::prompt_tokens(tokenizer, t)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let stop = tokenizer.stop_token_ids();
    let configs = [
        rollout_config(&config, false, stop.clone()),
        rollout_config(&config, true, stop),
    ];
    let rows = measure(
        &policy,
        tokenizer,
        &prepared.runner,
        &inputs,
        configs,
        args.seed,
    )
    .await?;
    print_table(&rows, count, config.leaves);
    write_rows(&rows, &args.report.join("bench_rollout.json"))
}

/// A real checkpoint with the Python tool on [`MODEL_QUESTIONS`].
async fn bench_model(args: &Args, path: &Path) -> Result<()> {
    let device = Default::default();
    let policy = load_model::<Inference>(path, args.max_tokens + 512, &device)
        .with_context(|| path.display().to_string())?;
    let tokenizer = load_tokenizer(path)?;
    eprintln!("bench_rollout: backend {NAME}, model {}", path.display());
    let python = ToolSpec::python(Arc::new(PythonTool::new(PythonConfig::default())?));
    let runner = Arc::new(ToolRunner::new(
        RunnerConfig::default(),
        vec![python.max_calls(3)],
    )?);
    let inputs = MODEL_QUESTIONS
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let messages = [ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(*q)];
            let text = tokenizer.apply_chat_template(&messages, true)?;
            Ok(RolloutInput {
                task_id: format!("q{i}"),
                prompt_tokens: tokenizer.encode(&text)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let sampling = SamplingConfig {
        temperature: 0.6,
        top_p: 0.95,
        top_k: 20,
        repetition_penalty: 1.0,
    };
    let config = |mode| {
        let mut rc = RolloutConfig::new(mode, sampling.clone(), tokenizer.stop_token_ids());
        rc.max_response_tokens = args.max_tokens;
        rc
    };
    let configs = [
        config(RolloutMode::Trajectory {
            samples: args.leaves,
        }),
        config(RolloutMode::Arpo(ArpoConfig {
            total: args.leaves,
            initial: (args.leaves / 2).max(1),
            ..ArpoConfig::default()
        })),
    ];
    let rows = measure(
        &policy,
        tokenizer.as_ref(),
        &runner,
        &inputs,
        configs,
        args.seed,
    )
    .await?;
    print_table(&rows, inputs.len(), args.leaves);
    std::fs::create_dir_all("reports")?;
    write_rows(&rows, Path::new("reports/bench_rollout_model.json"))
}

/// Rolls `inputs` out with each of `[trajectory, arpo]`, batched and one sequence at a time.
async fn measure(
    policy: &CausalLm<Inference>,
    tokenizer: &dyn Tokenizer,
    runner: &Arc<ToolRunner>,
    inputs: &[RolloutInput],
    [trajectory, arpo]: [RolloutConfig; 2],
    seed: u64,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (mode, base) in [("trajectory", trajectory), ("ARPO", arpo)] {
        for (batching, max_rows) in [("batched", None), ("one at a time", Some(1))] {
            let mut rc = base.clone();
            rc.max_batch_rows = max_rows;
            let out = rollout::<Inference, _>(policy, tokenizer, runner.clone(), inputs, &rc, seed)
                .await?;
            let leaves = out.trees.iter().map(|t| t.leaves.len()).sum();
            let row = Row::new(mode, batching, leaves, &out.stats);
            eprintln!(
                "{mode:>10} {batching:>13}: {:.1} s, {} forwarded tokens",
                row.wall_secs, row.forwarded_tokens
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

fn write_rows(rows: &[Row], path: &Path) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(rows)?)
        .with_context(|| path.display().to_string())?;
    println!("figures written to {}", path.display());
    Ok(())
}

fn print_table(rows: &[Row], prompts: usize, leaves: usize) {
    println!("\n{prompts} prompts × {leaves} leaves, same seed in every row\n");
    println!(
        "| mode | decoding | leaves | generated tokens | forwarded tokens | tool calls | branch copies | forward calls | wall s | generated tok/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.0} |",
            r.mode,
            r.batching,
            r.leaves,
            r.generated_tokens,
            r.forwarded_tokens,
            r.tool_calls,
            r.branch_copies,
            r.forward_calls,
            r.wall_secs,
            r.generated_tokens as f64 / r.wall_secs.max(1e-9)
        );
    }
    // rows: [trajectory batched, trajectory single, ARPO batched, ARPO single]
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let (tb, ts, ab, asg) = (&rows[0], &rows[1], &rows[2], &rows[3]);
    println!(
        "\nARPO / trajectory (batched): forwarded tokens {:.2}×, tool calls {:.2}×, wall time {:.2}×",
        ratio(ab.forwarded_tokens as f64, tb.forwarded_tokens as f64),
        ratio(ab.tool_calls as f64, tb.tool_calls as f64),
        ratio(ab.wall_secs, tb.wall_secs)
    );
    println!(
        "batched speed-up over one sequence at a time: trajectory {:.2}×, ARPO {:.2}×",
        ratio(ts.wall_secs, tb.wall_secs),
        ratio(asg.wall_secs, ab.wall_secs)
    );
}
