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

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arpo::backend::{Training, NAME};
use arpo::quickstart::{prepare, rollout_config, QuickstartConfig, RunOptions};
use arpo_rollout::{rollout, RolloutInput, RolloutStats};
use burn::module::AutodiffModule;
use clap::Parser;
use serde::Serialize;

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
    let mut rows = Vec::new();
    for (mode, arpo) in [("trajectory", false), ("ARPO", true)] {
        for (batching, max_rows) in [("batched", None), ("one at a time", Some(1))] {
            let mut rc = rollout_config(&config, arpo, stop.clone());
            rc.max_batch_rows = max_rows;
            let out = rollout::<arpo::backend::Inference, _>(
                &policy,
                tokenizer,
                prepared.runner.clone(),
                &inputs,
                &rc,
                args.seed,
            )
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
    print_table(&rows, count, config.leaves);
    let path = args.report.join("bench_rollout.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)?)
        .with_context(|| path.display().to_string())?;
    println!("figures written to {}", path.display());
    Ok(())
}

fn print_table(rows: &[Row], prompts: usize, leaves: usize) {
    println!("\n{prompts} held-out prompts × {leaves} leaves, same seed in every row\n");
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
