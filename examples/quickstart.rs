//! The main job: ARPO end to end on CPU in minutes, with the GRPO baseline beside it.
//!
//! `cargo run --release --example quickstart [-- --seed S]` generates a tool-use task from the
//! seed, cold-starts a small from-scratch policy by SFT, trains it with ARPO and (from the same
//! SFT weights) with GRPO, evaluates all three on held-out questions, prints the comparison
//! table and writes the report folder (`reports/quickstart` by default). No download, no GPU.

use std::path::PathBuf;

use anyhow::{Context, Result};
use arpo::backend::{Training, NAME};
use arpo::quickstart::{run, QuickstartConfig, RunOptions};
use clap::Parser;

#[derive(Parser)]
#[command(about = "SFT → ARPO vs GRPO on a generated search + Python task, on CPU")]
struct Args {
    /// Seed of the generated facts, questions, initial weights and all sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Report folder.
    #[arg(long, default_value = "reports/quickstart")]
    out: PathBuf,
    /// RL steps for each of ARPO and GRPO.
    #[arg(long)]
    rl_steps: Option<u64>,
    /// SFT steps.
    #[arg(long)]
    sft_steps: Option<u64>,
    /// Run Python unsandboxed when bubblewrap cannot create a sandbox (model code is hostile:
    /// only on a machine you do not mind it running on).
    #[arg(long)]
    allow_unsandboxed_python: bool,
    /// A JSON file with a whole `QuickstartConfig` (see `config.json` in a report folder);
    /// `--seed`, `--out` and the step flags given on the command line still apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The few-step smoke configuration the CI test runs.
    #[arg(long)]
    smoke: bool,
    /// Hide the progress bars.
    #[arg(long)]
    quiet: bool,
    /// Continue SFT from the report folder's checkpoint (after an interruption), or reuse its
    /// finished SFT to try other RL settings.
    #[arg(long)]
    resume: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        serde_json::from_str::<QuickstartConfig>(&text)
            .with_context(|| format!("{}: not a quickstart config", path.display()))?
    } else if args.smoke {
        QuickstartConfig::smoke(args.seed, args.out.clone())
    } else {
        QuickstartConfig::standard(args.seed)
    };
    config.seed = args.seed;
    config.out_dir = args.out;
    if let Some(s) = args.rl_steps {
        config.rl_steps = s;
    }
    if let Some(s) = args.sft_steps {
        config.sft_steps = s;
    }
    config.allow_unsandboxed_python |= args.allow_unsandboxed_python;
    eprintln!(
        "arpo-rs quickstart: seed {}, backend {NAME}, report folder {}",
        config.seed,
        config.out_dir.display()
    );
    let options = RunOptions {
        quiet: args.quiet,
        resume_sft: args.resume,
    };
    let report = run::<Training>(&config, &Default::default(), options).await?;
    println!("\n{}", report.table());
    let validation = report.validation_text();
    if !validation.is_empty() {
        println!("{validation}");
    }
    println!(
        "total {:.0} s; report written to {}",
        report.total_seconds,
        config.out_dir.display()
    );
    Ok(())
}
