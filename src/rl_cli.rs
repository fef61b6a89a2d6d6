//! The `train` example's command line: RL (ARPO, GRPO, DAPO or REINFORCE++, as the run's TOML
//! configuration says) of a tool-using policy on prompts in verl's parquet layout (the
//! reference's `train_10k.parquet`), with validation, checkpoints, `--resume`, and the trained
//! policy exported as an HF folder.
//!
//! The loop is `arpo_train::run_rl`, the same one the quickstart runs; this file only wires the
//! data, model, tools and reward to it and prints progress.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arpo_core::{Task, Tokenizer, Tool};
use arpo_eval::{load_verl_parquet, ArpoReward};
use arpo_model::CausalLm;
use arpo_tools::{PythonConfig, PythonTool, RunnerConfig, ToolRunner, ToolSpec};
use arpo_train::rl::RlEvent;
use arpo_train::{run_rl, RlContext, TrainConfig};
use clap::Parser;

use crate::backend::{Training, NAME};

/// Options of `examples/train.rs`.
#[derive(Debug, Parser)]
#[command(about = "RL of a tool-using model on a verl-layout parquet dataset")]
pub struct TrainArgs {
    /// Run configuration (TOML; see crates/arpo-train/configs/example.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Policy: an HF folder or a .gguf file; `tiny` for a random test model.
    #[arg(long)]
    pub model: PathBuf,
    /// Training prompts (verl parquet: `prompt`, `reward_model.ground_truth`, …).
    #[arg(long)]
    pub data: PathBuf,
    /// Only the first N training prompts.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Validation prompts (verl parquet), validated as the configuration's `validation` says.
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Only the first N validation prompts.
    #[arg(long, default_value_t = 64)]
    pub val_limit: usize,
    /// Reward: `f1` (the reference ARPO reward) or `math` (equivalence instead of F1).
    #[arg(long, default_value = "f1")]
    pub reward: String,
    /// BM25 index for the search tool (`arpo-search build-index`).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Search replay cache (JSON lines of query → results).
    #[arg(long)]
    pub search_cache: Option<PathBuf>,
    /// Python calls allowed per response.
    #[arg(long, default_value_t = 5)]
    pub python_calls: u32,
    /// Search calls allowed per response.
    #[arg(long, default_value_t = 10)]
    pub search_calls: u32,
    /// Run folder (checkpoints, `metrics.jsonl`, `validation.jsonl`, `final/`); overrides the
    /// configuration's `checkpoint.dir`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// RL steps; overrides `ppo.steps`.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue from the run folder's latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Hide the progress bar (a line per step still prints).
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `args` (the program name first) and runs [`run`].
pub async fn run_cli<I, T>(args: I) -> Result<PathBuf>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(&TrainArgs::try_parse_from(args)?).await
}

/// Trains as `args` say; returns the run folder (the trained policy is in `final/`).
pub async fn run(args: &TrainArgs) -> Result<PathBuf> {
    let mut train = TrainConfig::load(&args.config)?;
    if let Some(out) = &args.out {
        train.checkpoint.dir = out.clone();
    }
    if let Some(steps) = args.steps {
        train.ppo.steps = steps;
    }
    train.checkpoint.resume |= args.resume;
    let dir = train.checkpoint.dir.clone();
    let tasks = load_tasks(&args.data, args.limit)?;
    let validation = match &args.val_data {
        Some(path) => load_tasks(path, Some(args.val_limit))?,
        None => Vec::new(),
    };
    let reward = match args.reward.as_str() {
        "f1" => ArpoReward::f1(),
        "math" => ArpoReward::math(),
        other => anyhow::bail!("--reward {other}: expected f1 or math"),
    };

    let (model, tokenizer) = policy(&args.model, &train)?;
    let rollout = train.rollout_config(tokenizer.stop_token_ids())?;
    // A KL term (in the loss, or REINFORCE++'s in the reward) needs the frozen start policy.
    let needs_reference = train.loss.kl.is_some()
        || matches!(
            train.advantage.estimator,
            arpo_train::config::Estimator::ReinforcePp { kl_coef, .. } if kl_coef != 0.0
        );
    let reference = if needs_reference {
        Some(policy(&args.model, &train)?.0)
    } else {
        None
    };
    let ctx = RlContext {
        tokenizer: tokenizer.as_ref(),
        runner: Arc::new(tool_runner(args)?),
        reward: &reward,
        rollout: &rollout,
        train: &train,
        validation_tasks: &validation,
    };
    eprintln!(
        "train: {} prompts from {}, {} validation prompts, {} steps, backend {NAME}, run folder {}",
        tasks.len(),
        args.data.display(),
        validation.len(),
        train.ppo.steps,
        dir.display()
    );
    let bar = crate::progress::step_bar(train.ppo.steps, "RL", args.quiet);
    let metrics = dir.join("metrics.jsonl");
    let trained = run_rl(model, reference.as_ref(), &tasks, &ctx, &metrics, |event| {
        let line = match event {
            RlEvent::Step(m) => {
                bar.set_position(m.step);
                m.line()
            }
            RlEvent::Validation(v) => v.line(),
        };
        bar.suspend(|| eprintln!("{line}"));
    })
    .await?;
    bar.finish_and_clear();
    let final_dir = dir.join("final");
    crate::load::export_policy(&trained, &args.model, &final_dir)?;
    eprintln!(
        "done: metrics in {}, trained policy in {}",
        metrics.display(),
        final_dir.display()
    );
    Ok(dir)
}

fn load_tasks(path: &Path, limit: Option<usize>) -> Result<Vec<Task>> {
    let mut tasks = load_verl_parquet(path).with_context(|| path.display().to_string())?;
    if let Some(n) = limit {
        tasks.truncate(n);
    }
    anyhow::ensure!(!tasks.is_empty(), "{}: no prompts", path.display());
    Ok(tasks)
}

/// The policy to train and its tokenizer, with room for the prompt beside the response budget.
fn policy(path: &Path, train: &TrainConfig) -> Result<(CausalLm<Training>, Box<dyn Tokenizer>)> {
    let context = train.rollout_config(Vec::new())?.max_response_tokens + 2048;
    crate::load::load_policy(crate::load::model_path(path), train.seed, context)
}

/// Python (sandboxed) and, when an index or cache is given, search, with their call limits.
fn tool_runner(args: &TrainArgs) -> Result<ToolRunner> {
    let python: Arc<dyn Tool> = Arc::new(PythonTool::new(PythonConfig::default())?);
    let mut specs = vec![ToolSpec::python(python).max_calls(args.python_calls)];
    if let Some(search) =
        crate::benchmark::search_tool(args.index.as_deref(), args.search_cache.as_deref())?
    {
        specs.push(ToolSpec::search(search).max_calls(args.search_calls));
    }
    Ok(ToolRunner::new(RunnerConfig::default(), specs)?)
}
