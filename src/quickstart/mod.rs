//! The quickstart: ARPO end to end on a generated tool-use task, with the GRPO baseline beside it.
//!
//! One seed generates invented facts (a search corpus) and questions that need one or two
//! `<search>` lookups plus a `<python>` computation; a from-scratch decoder is cold-started by
//! SFT on imperfect demonstrations, then trained by ARPO (entropy-branching tree rollouts) and,
//! from the same SFT weights with the same leaves, updates and loss, by GRPO (independent
//! trajectories). All three are evaluated on held-out questions about entities never seen in
//! training. The code path is a real run's: same rollout engine, tools, reward, trainer; only the
//! model size and the task differ.
//!
//! The example `examples/quickstart.rs` is a thin command line over [`run`].

mod config;
mod evaluate;
mod report;
mod setup;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arpo_core::{Task, Tokenizer};
use arpo_eval::synthetic::{SyntheticConfig, SyntheticDataset};
use arpo_eval::ArpoReward;
use arpo_model::{from_scratch, CausalLm, ModelConfig, SamplingConfig};
use arpo_rollout::render::html::{render_tree_html, HtmlOptions};
use arpo_rollout::render::TokenText;
use arpo_rollout::{rollout, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode};
use arpo_tools::{PythonConfig, SandboxPolicy, ToolRunner};
use arpo_train::optim::OptimizerConfig;
use arpo_train::sft_loop::{run_sft, SftConfig, SftRun, SftStep};
use arpo_train::{run_rl, LrSchedule, RlContext, StepMetrics, TrainConfig};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};

pub use config::QuickstartConfig;

pub use evaluate::{evaluate, EvalSummary, HeldOut};
pub use report::{QuickstartReport, StageRow};

/// What can stop a quickstart run.
#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    /// A setting is out of range (the message names the field).
    #[error("quickstart config: {0}")]
    Config(String),
    /// A file of the report folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Something else in the pipeline failed.
    #[error("quickstart: {0}")]
    Task(String),
    /// From the shared types.
    #[error(transparent)]
    Core(#[from] arpo_core::Error),
    /// From the model crate.
    #[error(transparent)]
    Model(#[from] arpo_model::Error),
    /// From the tools.
    #[error(transparent)]
    Tools(#[from] arpo_tools::Error),
    /// From data generation and scoring.
    #[error(transparent)]
    Eval(#[from] arpo_eval::Error),
    /// From training.
    #[error(transparent)]
    Train(#[from] arpo_train::Error),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QuickstartError + '_ {
    move |source| QuickstartError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>5} [{{bar:30}}] {{pos}}/{{len}} {{elapsed_precise}} eta {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

/// Rollout settings of one RL method: ARPO's tree or GRPO's independent trajectories, with the
/// same number of leaves per prompt, sampling and budget.
fn rollout_config(config: &QuickstartConfig, arpo: bool, stop: Vec<u32>) -> RolloutConfig {
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
fn train_config(config: &QuickstartConfig, seed: u64) -> TrainConfig {
    let mut train = TrainConfig::arpo();
    train.seed = seed;
    train.optimizer = OptimizerConfig {
        lr: config.rl_lr,
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    train.ppo.batch_prompts = config.rl_prompts;
    // Two updates per step: enough reuse of each rollout for the clip to matter.
    train.ppo.mini_batch_prompts = config.rl_prompts.div_ceil(2);
    train.ppo.epochs = 1;
    train.ppo.steps = config.rl_steps;
    train
}

/// Rolls out one question with `rollout_cfg` and writes its tree as HTML to `path`.
async fn render_tree<B: AutodiffBackend>(
    model: &CausalLm<B::InnerBackend>,
    tokenizer: &dyn Tokenizer,
    runner: &Arc<ToolRunner>,
    rollout_cfg: &RolloutConfig,
    task: &Task,
    seed: u64,
    path: &Path,
) -> Result<(), QuickstartError> {
    let inputs = [RolloutInput {
        task_id: task.id.clone(),
        prompt_tokens: arpo_train::prompt_tokens(tokenizer, task)?,
    }];
    let out =
        rollout::<B::InnerBackend, _>(model, tokenizer, runner.clone(), &inputs, rollout_cfg, seed)
            .await?;
    let options = HtmlOptions {
        token_text: TokenText::Tokenizer(tokenizer),
        ..HtmlOptions::default()
    };
    std::fs::write(path, render_tree_html(&out.trees[0], &options)).map_err(io_err(path))
}

/// Runs RL from `start` with one rollout setting; shows a bar and a line per step.
async fn train_rl<B: AutodiffBackend>(
    name: &str,
    start: CausalLm<B>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    dir: &Path,
    quiet: bool,
) -> Result<(CausalLm<B>, Vec<StepMetrics>, f64), QuickstartError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let metrics_path = dir.join("metrics.jsonl");
    let _ = std::fs::remove_file(&metrics_path);
    let pb = bar(ctx.train.ppo.steps, name);
    if quiet {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut steps = Vec::new();
    let clock = Instant::now();
    let model = run_rl(start, None, tasks, ctx, &metrics_path, |m| {
        let line = format!(
            "{name} step {:>3}: reward {:+.3} acc {:.3} format-err {:>2} tool calls {:>3} \
             branches {:>3} tokens {:>5} loss {:+.4} clip {:.3} kl {:.4} {:.1}s",
            m.step,
            m.reward_mean,
            m.accuracy,
            m.format_errors,
            m.tool_calls,
            m.branch_copies,
            m.generated_tokens,
            m.loss,
            m.clip_frac,
            m.approx_kl,
            m.seconds
        );
        // Printed even when the bar is hidden (no terminal, --quiet): logs keep the steps.
        pb.suspend(|| eprintln!("{line}"));
        pb.inc(1);
        steps.push(m.clone());
    })
    .await?;
    pb.finish_and_clear();
    Ok((model, steps, clock.elapsed().as_secs_f64()))
}

/// How to run (what does not change the results).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Hide the progress bars (the per-step lines still go to stderr).
    pub quiet: bool,
    /// Continue SFT from the report folder's latest checkpoint (an interrupted run), or reuse
    /// its finished SFT; refused when the folder's `config.json` differs in an SFT setting.
    pub resume_sft: bool,
}

/// `(step, loss)` of every line of the SFT metrics file.
fn sft_loss_curve(path: &Path) -> Result<Vec<(f64, f64)>, QuickstartError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let s: SftStep = serde_json::from_str(line)
                .map_err(|e| QuickstartError::Task(format!("{}:{}: {e}", path.display(), i + 1)))?;
            Ok((s.step as f64, s.loss))
        })
        .collect()
}

/// Refuses to resume SFT written under other data, model or SFT settings.
fn check_resumable(config: &QuickstartConfig, path: &Path) -> Result<(), QuickstartError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let old: QuickstartConfig = serde_json::from_str(&text)
        .map_err(|e| QuickstartError::Config(format!("{}: {e}", path.display())))?;
    if old.sft_part() != config.sft_part() {
        return Err(QuickstartError::Config(format!(
            "{}: cannot resume SFT: the data, model or SFT settings differ from this run's",
            path.display()
        )));
    }
    Ok(())
}

/// Runs the whole quickstart and writes the report folder.
pub async fn run<B: AutodiffBackend>(
    config: &QuickstartConfig,
    device: &B::Device,
    options: RunOptions,
) -> Result<QuickstartReport, QuickstartError> {
    config.validate().map_err(QuickstartError::Config)?;
    let quiet = options.quiet;
    let total_clock = Instant::now();
    let out = &config.out_dir;
    let config_path = out.join("config.json");
    if options.resume_sft {
        check_resumable(config, &config_path)?;
    }
    for sub in ["", "sft", "arpo", "grpo", "eval", "trees"] {
        let dir = out.join(sub);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    let config_json = serde_json::to_string_pretty(config)
        .map_err(|e| QuickstartError::Task(format!("config: {e}")))?;
    std::fs::write(&config_path, config_json).map_err(io_err(&config_path))?;

    // The task, its tools and the SFT data.
    let dataset = SyntheticDataset::generate(&SyntheticConfig {
        seed: config.seed,
        entities: config.entities,
        train_questions: config.train_questions,
        eval_questions: config.eval_questions,
        imperfect_fraction: config.imperfect_fraction,
        operations: config.operations.clone(),
        ..SyntheticConfig::default()
    })?;
    let corpus_path = out.join("corpus.jsonl");
    dataset.write_corpus(&corpus_path)?;
    let python = PythonConfig {
        policy: if config.allow_unsandboxed_python {
            SandboxPolicy::AllowUnsandboxed
        } else {
            SandboxPolicy::Required
        },
        ..PythonConfig::default()
    };
    let runner = setup::build_runner(&dataset, python)?;
    let reward = ArpoReward::math();
    let train_tasks = dataset.train_tasks();
    let eval_tasks = dataset.eval_tasks();
    let clock = Instant::now();
    let replays = setup::replay_demos(&runner, &dataset.demonstrations).await?;
    let tokenizer = setup::build_tokenizer(
        config.bpe_vocab,
        &dataset.demonstrations,
        &replays,
        &out.join("tokenizer.json"),
    )?;
    let tokenizer = tokenizer.as_ref();
    let examples = setup::sft_examples(tokenizer, &dataset.demonstrations, &replays)?;
    let data_seconds = clock.elapsed().as_secs_f64();

    // SFT cold start.
    let model_config = ModelConfig::small(tokenizer.vocab_size(), config.hidden, config.layers);
    let model = from_scratch::<B>(&model_config, config.seed, device)?;
    let sft_config = SftConfig {
        steps: config.sft_steps,
        batch_size: config.sft_batch,
        seed: config.seed,
        checkpoint_every: config.sft_steps.max(1),
        keep_checkpoints: 1,
    };
    let optimizer = OptimizerConfig {
        lr: config.sft_lr,
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    let sft_dir = out.join("sft");
    if !options.resume_sft {
        // A previous run's checkpoints would be refused: start this run clean.
        let _ = std::fs::remove_dir_all(&sft_dir);
    }
    let run = SftRun {
        config: &sft_config,
        optimizer: &optimizer,
        schedule: LrSchedule::Cosine {
            warmup: (config.sft_steps / 20).max(1) as usize,
            total: config.sft_steps as usize,
            min_lr: config.sft_lr * 0.05,
        },
        dir: &sft_dir,
        resume: options.resume_sft,
    };
    let pb = bar(config.sft_steps, "SFT");
    if quiet {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let clock = Instant::now();
    let every = (config.sft_steps / 10).max(1);
    let sft_model = run_sft(model, &examples, &run, |s| {
        if s.step % every == 0 || s.step == config.sft_steps {
            pb.suspend(|| {
                eprintln!(
                    "SFT step {:>4}: loss {:.4} tokens {:>5} lr {:.2e} grad-norm {:.3}",
                    s.step, s.loss, s.tokens, s.lr, s.grad_norm
                )
            });
        }
        pb.inc(1);
    })?;
    pb.finish_and_clear();
    let sft_seconds = clock.elapsed().as_secs_f64();
    // From the file, which also holds the steps before a resume.
    let sft_losses = sft_loss_curve(&sft_dir.join("metrics.jsonl"))?;

    let held_out = HeldOut {
        tokenizer,
        runner: &runner,
        reward: &reward,
        tasks: &eval_tasks,
        max_response_tokens: config.max_response_tokens,
        seed: config.seed ^ 0x00e7_a100,
        out_dir: out,
    };
    let sft_eval = held_out.run("SFT", &sft_model.valid()).await?;

    // ARPO and GRPO from the same SFT weights.
    let stop = tokenizer.stop_token_ids();
    let arpo_rollout = rollout_config(config, true, stop.clone());
    let grpo_rollout = rollout_config(config, false, stop);
    let train = train_config(config, config.seed);
    let tree_task = &eval_tasks[0];
    let tree_seed = config.seed ^ 0x7ee;
    render_tree::<B>(
        &sft_model.valid(),
        tokenizer,
        &runner,
        &arpo_rollout,
        tree_task,
        tree_seed,
        &out.join("trees/arpo-start.html"),
    )
    .await?;

    let mut rows = vec![StageRow::sft(sft_eval, sft_seconds)];
    let mut curves = Vec::new();
    for (name, rollout_cfg) in [("ARPO", &arpo_rollout), ("GRPO", &grpo_rollout)] {
        let ctx = RlContext {
            tokenizer,
            runner: runner.clone(),
            reward: &reward,
            rollout: rollout_cfg,
            train: &train,
        };
        let dir = out.join(name.to_lowercase());
        let (trained, steps, seconds) =
            train_rl(name, sft_model.clone(), &train_tasks, &ctx, &dir, quiet).await?;
        let inference = trained.valid();
        let summary = held_out.run(name, &inference).await?;
        if name == "ARPO" {
            render_tree::<B>(
                &inference,
                tokenizer,
                &runner,
                &arpo_rollout,
                tree_task,
                tree_seed,
                &out.join("trees/arpo-end.html"),
            )
            .await?;
        }
        rows.push(StageRow::rl(name, summary, &steps, seconds));
        curves.push((name.to_string(), steps));
    }

    let report = QuickstartReport {
        config: config.clone(),
        backend: crate::backend::NAME.to_string(),
        rows,
        sft_examples: examples.len(),
        data_seconds,
        total_seconds: total_clock.elapsed().as_secs_f64(),
    };
    report.write(out, &sft_losses, &curves)?;
    Ok(report)
}
