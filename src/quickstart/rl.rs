//! The RL half of the quickstart: ARPO and GRPO from the same SFT weights, each followed by its
//! held-out evaluation, run side by side on two threads.
//!
//! The CPU backend runs one model's kernels on about one core at this size (measured: the same
//! SFT step time with 1 and 2 rayon threads), so the two methods train concurrently instead of
//! one after the other; each has its own model copy, optimiser, seed-derived sampling and
//! autodiff graph, so running them together changes no number, only the wall time. Their
//! updates take turns (`arpo_train::autodiff_section`: burn-autodiff 0.21 can lose a gradient
//! when two threads build graphs at once); rollouts and evaluations overlap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arpo_core::{Reward, Task, Tokenizer};
use arpo_eval::QuestionRecord;
use arpo_model::{CausalLm, SamplingConfig};
use arpo_rollout::render::html::{render_tree_html, HtmlOptions};
use arpo_rollout::render::TokenText;
use arpo_rollout::{rollout, ArpoConfig, RolloutConfig, RolloutMode};
use arpo_tools::ToolRunner;
use arpo_train::config::CheckpointConfig;
use arpo_train::optim::OptimizerConfig;
use arpo_train::rl::RlEvent;
use arpo_train::{
    run_rl, RlContext, StepMetrics, TrainConfig, ValidationConfig, ValidationMetrics,
};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{MultiProgress, ProgressBar};

use super::{bar, io_err, HeldOut, QuickstartConfig, QuickstartError, StageRow};

/// What differs between the two RL runs.
pub(super) struct Method<'a> {
    /// `ARPO` or `GRPO` (also the report sub-folder, lower-cased).
    pub name: &'static str,
    /// Tree or independent-trajectory rollouts.
    pub rollout: &'a RolloutConfig,
    /// Where to draw one rollout tree of the trained policy, if anywhere.
    pub end_tree: Option<PathBuf>,
}

/// What the two RL runs share.
pub(super) struct Shared<'a> {
    /// The run's tokenizer.
    pub tokenizer: &'a dyn Tokenizer,
    /// The task's tools.
    pub runner: &'a Arc<ToolRunner>,
    /// The task's reward.
    pub reward: &'a dyn Reward,
    /// Optimiser, loss and step settings (identical for both methods).
    pub train: &'a TrainConfig,
    /// Training prompts.
    pub tasks: &'a [Task],
    /// The validation curve's questions (the first held-out ones; empty: no curve).
    pub validation_tasks: &'a [Task],
    /// The held-out evaluation.
    pub held_out: &'a HeldOut<'a>,
    /// SFT's held-out records, for the paired comparison of each RL policy.
    pub sft_records: &'a [QuestionRecord],
    /// The question whose tree is drawn, and its rollout seed.
    pub tree: (&'a Task, u64),
    /// Report folder.
    pub out: &'a Path,
    /// Holds both progress bars (hidden as a whole under `--quiet`; per-step lines still print).
    pub progress: &'a MultiProgress,
}

/// A finished RL run: its table row (validation curve included) and its per-step metrics.
pub(super) type Finished = (StageRow, Vec<StepMetrics>);

/// Trains and evaluates both methods from `start`, concurrently, and returns them in order.
pub(super) fn run_both<B: AutodiffBackend>(
    start: &CausalLm<B>,
    methods: [Method<'_>; 2],
    shared: &Shared<'_>,
) -> Result<[Finished; 2], QuickstartError> {
    let [first, second] = methods;
    // Separate parameter tensors: a shared leaf would merge the two autodiff graphs into one
    // behind a single lock.
    let (a, b) = (
        CausalLm::<B>::from_inner(start.valid()),
        CausalLm::<B>::from_inner(start.valid()),
    );
    let work = || {
        std::thread::scope(|scope| {
            let one = scope.spawn(|| on_own_runtime(|| rl_stage(&first, a, shared)));
            let two = scope.spawn(|| on_own_runtime(|| rl_stage(&second, b, shared)));
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Finished, QuickstartError>>| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (join(one), join(two))
        })
    };
    // Blocking a worker of a multi-threaded runtime must be announced; a current-thread runtime
    // (tests) has nothing else to run meanwhile.
    let multi = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    let (one, two) = if multi {
        tokio::task::block_in_place(work)
    } else {
        work()
    };
    Ok([one?, two?])
}

/// Runs a future on a fresh single-threaded runtime of this thread (the tools spawn their
/// processes and timers on it).
fn on_own_runtime<F, T>(make: impl FnOnce() -> F) -> Result<T, QuickstartError>
where
    F: std::future::Future<Output = Result<T, QuickstartError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| QuickstartError::Task(format!("tokio runtime: {e}")))?;
    runtime.block_on(make())
}

/// One method: RL with a bar and a line per step, then the held-out evaluation and, for ARPO,
/// the tree of the trained policy.
async fn rl_stage<B: AutodiffBackend>(
    method: &Method<'_>,
    start: CausalLm<B>,
    shared: &Shared<'_>,
) -> Result<Finished, QuickstartError> {
    let dir = shared.out.join(method.name.to_lowercase());
    // Each method checkpoints into its own folder (the two run concurrently), once at the end.
    let mut train = shared.train.clone();
    train.checkpoint = CheckpointConfig {
        dir: dir.join("checkpoints"),
        every: train.ppo.steps.max(1),
        keep: 1,
        resume: false,
    };
    let ctx = RlContext {
        tokenizer: shared.tokenizer,
        runner: shared.runner.clone(),
        reward: shared.reward,
        rollout: method.rollout,
        train: &train,
        validation_tasks: shared.validation_tasks,
    };
    let pb = shared
        .progress
        .add(bar(shared.train.ppo.steps, method.name));
    let (trained, log, seconds) =
        train_rl(method.name, start, shared.tasks, &ctx, &dir, &pb).await?;
    let inference = trained.valid();
    export_policy(&inference, shared.out, &dir.join("model"))?;
    let (summary, records) = shared.held_out.run(method.name, &inference).await?;
    if let Some(path) = &method.end_tree {
        let (task, seed) = shared.tree;
        render_tree::<B>(
            &inference,
            shared.tokenizer,
            shared.runner,
            method.rollout,
            task,
            seed,
            path,
        )
        .await?;
    }
    let mut row = StageRow::rl(method.name, summary, &log.steps, seconds);
    row.validation = log.validations;
    // Paired against SFT on the same questions: sampling alone moves accuracy by a few points.
    row.vs_sft = Some(arpo_eval::paired_comparison(shared.sft_records, &records)?);
    Ok((row, log.steps))
}

/// Writes the trained policy as an HF folder (`model.safetensors`, `config.json`, the run's
/// `tokenizer.json` and a `tokenizer_config.json` with the ChatML template the BPE tokenizer
/// renders prompts with), which `examples/chat` and transformers load. A byte-level run has no
/// `tokenizer.json` to copy; its folder holds the weights only.
fn export_policy<B: burn::tensor::backend::Backend>(
    model: &CausalLm<B>,
    out: &Path,
    dir: &Path,
) -> Result<(), QuickstartError> {
    arpo_train::export::export_hf(model, dir)?;
    let tokenizer = out.join("tokenizer.json");
    if tokenizer.is_file() {
        let to = dir.join("tokenizer.json");
        std::fs::copy(&tokenizer, &to).map_err(io_err(&to))?;
        let config = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "chat_template": arpo_model::tokenizer::CHATML_TEMPLATE,
            "eos_token": arpo_model::tokenizer::CHATML_SPECIALS[0],
        });
        let to = dir.join("tokenizer_config.json");
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| QuickstartError::Task(format!("tokenizer_config.json: {e}")))?;
        std::fs::write(&to, text).map_err(io_err(&to))?;
    }
    Ok(())
}

/// Rollout settings of one RL method: ARPO's tree or GRPO's independent trajectories, with the
/// same number of leaves per prompt, sampling and budget.
pub fn rollout_config(config: &QuickstartConfig, arpo: bool, stop: Vec<u32>) -> RolloutConfig {
    let mode = if arpo {
        RolloutMode::Arpo(ArpoConfig {
            total: config.leaves,
            initial: config.arpo_initial,
            threshold: config.arpo_threshold,
            entropy_weight: config.arpo_entropy_weight,
            ..ArpoConfig::default()
        })
    } else {
        RolloutMode::Trajectory {
            samples: config.leaves,
        }
    };
    let sampling = SamplingConfig {
        temperature: config.temperature,
        ..SamplingConfig::default()
    };
    let mut rc = RolloutConfig::new(mode, sampling, stop);
    rc.max_response_tokens = config.max_response_tokens;
    rc
}

/// The RL settings shared by ARPO and GRPO (the comparison varies only the rollout): the
/// reference clipped loss (token mean, ε 0.2, dual clip 3), GRPO group advantages, AdamW.
pub(super) fn train_config(config: &QuickstartConfig, seed: u64) -> TrainConfig {
    let mut train = TrainConfig::arpo();
    train.seed = seed;
    train.optimizer = OptimizerConfig {
        lr: config.rl_lr,
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    train.ppo.batch_prompts = config.rl_prompts;
    train.ppo.mini_batch_prompts = config.rl_prompts.div_ceil(config.rl_updates);
    train.ppo.epochs = 1;
    // Log-probs for the ratio at the temperature the rollouts sampled with.
    train.ppo.temperature = config.temperature;
    train.ppo.steps = config.rl_steps;
    train.validation = ValidationConfig {
        every: config.validate_every,
        before_train: true,
        samples: 1,
        sampling: super::evaluate::eval_sampling(),
    };
    train
}

/// Rolls out one question with `rollout_cfg` and writes its tree as HTML to `path`.
pub(super) async fn render_tree<B: AutodiffBackend>(
    model: &CausalLm<B::InnerBackend>,
    tokenizer: &dyn Tokenizer,
    runner: &Arc<ToolRunner>,
    rollout_cfg: &RolloutConfig,
    task: &Task,
    seed: u64,
    path: &Path,
) -> Result<(), QuickstartError> {
    let inputs = arpo_train::rl::rollout_inputs(tokenizer, std::slice::from_ref(task))?;
    let out =
        rollout::<B::InnerBackend, _>(model, tokenizer, runner.clone(), &inputs, rollout_cfg, seed)
            .await?;
    let options = HtmlOptions {
        token_text: TokenText::Tokenizer(tokenizer),
        ..HtmlOptions::default()
    };
    std::fs::write(path, render_tree_html(&out.trees[0], &options)).map_err(io_err(path))
}

/// What one RL run reported, in order.
#[derive(Default)]
struct RunLog {
    steps: Vec<StepMetrics>,
    validations: Vec<ValidationMetrics>,
}

/// Runs RL from `start` with one rollout setting; advances `pb` and prints a line per step and
/// per validation.
async fn train_rl<B: AutodiffBackend>(
    name: &str,
    start: CausalLm<B>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    dir: &Path,
    pb: &ProgressBar,
) -> Result<(CausalLm<B>, RunLog, f64), QuickstartError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let metrics_path = dir.join("metrics.jsonl");
    // A previous run's checkpoints would be refused (run_rl starts fresh here): start clean.
    let _ = std::fs::remove_dir_all(&ctx.train.checkpoint.dir);
    let mut log = RunLog::default();
    let clock = Instant::now();
    let model = run_rl(start, None, tasks, ctx, &metrics_path, |event| {
        // Printed even when the bar is hidden (no terminal, --quiet): logs keep the steps.
        match event {
            RlEvent::Step(m) => {
                pb.suspend(|| eprintln!("{name} {}", m.line()));
                pb.inc(1);
                log.steps.push(m.clone());
            }
            RlEvent::Validation(v) => {
                pb.suspend(|| eprintln!("{name} {}", v.line()));
                log.validations.push(v.clone());
            }
        }
    })
    .await?;
    pb.finish_and_clear();
    Ok((model, log, clock.elapsed().as_secs_f64()))
}
