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
mod prepare;
mod report;
mod rl;
mod setup;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use indicatif::ProgressBar;

pub use config::QuickstartConfig;

pub use evaluate::{evaluate, EvalSummary, HeldOut};
pub use prepare::{prepare, Prepared};
pub use report::{QuickstartReport, StageRow};
pub use rl::rollout_config;

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
    crate::progress::step_bar(len, what, false)
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

/// Runs the whole quickstart and writes the report folder.
pub async fn run<B: AutodiffBackend>(
    config: &QuickstartConfig,
    device: &B::Device,
    options: RunOptions,
) -> Result<QuickstartReport, QuickstartError> {
    let quiet = options.quiet;
    let total_clock = Instant::now();
    let out = &config.out_dir;
    let Prepared {
        rl_tasks,
        eval_tasks,
        runner,
        reward,
        tokenizer,
        sft_model,
        sft_examples,
        sft_losses,
        data_seconds,
        sft_seconds,
    } = prepare::<B>(config, device, options).await?;
    let tokenizer = tokenizer.as_ref();

    let held_out = HeldOut {
        tokenizer,
        runner: &runner,
        reward: &reward,
        tasks: &eval_tasks,
        max_response_tokens: config.max_response_tokens,
        seed: config.seed ^ 0x00e7_a100,
        out_dir: out,
    };
    let (sft_eval, sft_records) = held_out.run("SFT", &sft_model.valid()).await?;

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
        tasks: &rl_tasks,
        validation_tasks: &eval_tasks[..config.validation_questions.min(eval_tasks.len())],
        held_out: &held_out,
        sft_records: &sft_records,
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
        sft_examples,
        data_seconds,
        total_seconds: total_clock.elapsed().as_secs_f64(),
    };
    report.write(out, &sft_losses, &curves, &tree_task.question)?;
    Ok(report)
}
