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
mod rl;
mod setup;

use std::path::{Path, PathBuf};
use std::time::Instant;

use arpo_eval::synthetic::{SyntheticConfig, SyntheticDataset};
use arpo_eval::ArpoReward;
use arpo_model::{from_scratch, ModelConfig};
use arpo_tools::{PythonConfig, SandboxPolicy};
use arpo_train::optim::OptimizerConfig;
use arpo_train::sft_loop::{run_sft, SftConfig, SftRun, SftStep};
use arpo_train::LrSchedule;
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
        system_prompt: config.system_prompt,
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
    let mut model_config = ModelConfig::small(tokenizer.vocab_size(), config.hidden, config.layers);
    // One key/value head per query head: copying names and numbers is the attention's whole job
    // here, and the extra width costs little at this size.
    model_config.num_key_value_heads = Some(model_config.num_attention_heads);
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
    let arpo_rollout = rl::rollout_config(config, true, stop.clone());
    let grpo_rollout = rl::rollout_config(config, false, stop);
    let train = rl::train_config(config, config.seed);
    let tree_task = &eval_tasks[0];
    let tree_seed = config.seed ^ 0x7ee;
    rl::render_tree::<B>(
        &sft_model.valid(),
        tokenizer,
        &runner,
        &arpo_rollout,
        tree_task,
        tree_seed,
        &out.join("trees/arpo-start.html"),
    )
    .await?;

    let progress = indicatif::MultiProgress::new();
    if quiet {
        // Bars added later draw through this target, so both RL bars are hidden too.
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let shared = rl::Shared {
        tokenizer,
        runner: &runner,
        reward: &reward,
        train: &train,
        tasks: &train_tasks,
        held_out: &held_out,
        tree: (tree_task, tree_seed),
        out,
        progress: &progress,
    };
    let methods = [
        rl::Method {
            name: "ARPO",
            rollout: &arpo_rollout,
            end_tree: Some(out.join("trees/arpo-end.html")),
        },
        rl::Method {
            name: "GRPO",
            rollout: &grpo_rollout,
            end_tree: None,
        },
    ];
    let [(arpo_row, arpo_steps), (grpo_row, grpo_steps)] =
        rl::run_both(&sft_model, methods, &shared)?;
    let rows = vec![StageRow::sft(sft_eval, sft_seconds), arpo_row, grpo_row];
    let curves = vec![
        ("ARPO".to_string(), arpo_steps),
        ("GRPO".to_string(), grpo_steps),
    ];

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
