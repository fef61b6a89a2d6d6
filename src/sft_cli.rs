//! The `sft` example's command line: the SFT cold start (docs/arpo.md §5) of a policy on
//! ShareGPT-style conversations (the reference SFT format), loss on assistant tokens only,
//! from the `[sft]`, `[optimizer]` and `[schedule]` tables of a TOML run configuration, with
//! checkpoints, `--resume` and the trained policy exported as an HF folder.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arpo_train::sft::{load_sharegpt, tokenize_conversation};
use arpo_train::sft_loop::{run_sft, SftRun};
use arpo_train::TrainConfig;
use clap::Parser;

use crate::backend::{Training, NAME};

/// Options of `examples/sft.rs`.
#[derive(Debug, Parser)]
#[command(about = "SFT cold start of a tool-using model on ShareGPT conversations")]
pub struct SftArgs {
    /// Run configuration (TOML; its `[sft]`, `[optimizer]` and `[schedule]` tables).
    #[arg(long)]
    pub config: PathBuf,
    /// Policy: an HF folder or a .gguf file; `tiny` for a random test model.
    #[arg(long)]
    pub model: PathBuf,
    /// Conversations: a JSON array of `{"conversations": [{"from", "value"}]}` records, or one
    /// record per line.
    #[arg(long)]
    pub data: PathBuf,
    /// Only the first N conversations.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Longest example in tokens; longer conversations are cut there.
    #[arg(long, default_value_t = 4096)]
    pub max_tokens: usize,
    /// Run folder (checkpoints, `metrics.jsonl`, `final/`).
    #[arg(long, default_value = "runs/sft")]
    pub out: PathBuf,
    /// SFT steps; overrides `sft.steps`.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue from the run folder's latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Hide the progress bar (a line every few steps still prints).
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `args` (the program name first) and runs [`run`].
pub async fn run_cli<I, T>(args: I) -> Result<PathBuf>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(&SftArgs::try_parse_from(args)?)
}

/// Trains as `args` say; returns the run folder (the trained policy is in `final/`).
pub fn run(args: &SftArgs) -> Result<PathBuf> {
    let mut train = TrainConfig::load(&args.config)?;
    if let Some(steps) = args.steps {
        train.sft.steps = steps;
    }
    let mut conversations =
        load_sharegpt(&args.data).with_context(|| args.data.display().to_string())?;
    if let Some(n) = args.limit {
        conversations.truncate(n);
    }
    let (model, tokenizer) = crate::load::load_policy::<Training>(
        crate::load::model_path(&args.model),
        train.seed,
        args.max_tokens,
    )?;
    let data = conversations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut ex = tokenize_conversation(tokenizer.as_ref(), c)
                .with_context(|| format!("{} conversation {i}", args.data.display()))?;
            ex.tokens.truncate(args.max_tokens);
            ex.loss_mask.truncate(args.max_tokens);
            Ok(ex)
        })
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(
        !data.is_empty(),
        "{}: no conversations",
        args.data.display()
    );
    eprintln!(
        "sft: {} conversations from {}, {} steps of {}, backend {NAME}, run folder {}",
        data.len(),
        args.data.display(),
        train.sft.steps,
        train.sft.batch_size,
        args.out.display()
    );
    let bar = crate::progress::step_bar(train.sft.steps, "SFT", args.quiet);
    let run = SftRun {
        config: &train.sft,
        optimizer: &train.optimizer,
        schedule: train.schedule,
        dir: &args.out,
        resume: args.resume,
    };
    // About 20 lines over the run.
    let every = (train.sft.steps / 20).max(1);
    let trained = run_sft(model, &data, &run, |s| {
        bar.set_position(s.step);
        bar.set_message(format!("loss {:.4}", s.loss));
        if s.step % every == 0 || s.step == train.sft.steps {
            bar.suspend(|| {
                eprintln!(
                    "step {:>5}: loss {:.4} tokens {} lr {:.2e} grad-norm {:.3}",
                    s.step, s.loss, s.tokens, s.lr, s.grad_norm
                )
            });
        }
    })?;
    bar.finish_and_clear();
    let final_dir = args.out.join("final");
    crate::load::export_policy(&trained, &args.model, &final_dir)?;
    eprintln!("done: trained policy in {}", final_dir.display());
    Ok(args.out.clone())
}
