//! The RL loop: `ppo.steps` steps over the task list, one JSON line of metrics per step, and
//! checkpoints in `checkpoint.dir` from which `checkpoint.resume` continues exactly.
//!
//! What exact resume needs: the model, the AdamW moments and optimiser step (the schedule's
//! position), the RL step (every step's random streams derive from `train.seed + step`), and
//! the task position (refills consume a varying number of tasks). The run draws nothing from a
//! run-level generator, so the checkpoint's RNG field records the untouched generator of
//! `train.seed`. Metric and validation lines of steps after the checkpoint are dropped on
//! resume, so that every step appears once. Validation draws from its own fixed stream, so
//! turning it on changes no training number.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use arpo_core::Task;
use arpo_model::CausalLm;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::sample::{TaskCursor, TaskPosition};
use super::validate::{validate, ValidationMetrics};
use super::{check_settings, rl_step, RlContext, StepMetrics};
use crate::checkpoint::{self, Checkpoint, RngState, TrainState};
use crate::optim::Optim;
use crate::{Error, Result};

/// What [`run_rl`] reports as it goes, to its callback.
#[derive(Debug, Clone, Copy)]
pub enum RlEvent<'a> {
    /// A step finished; its metrics line is written.
    Step(&'a StepMetrics),
    /// A validation finished; its line is written.
    Validation(&'a ValidationMetrics),
}

/// The validation lines' file: `validation.jsonl` in the folder of `metrics_path`.
pub fn validation_path(metrics_path: &Path) -> std::path::PathBuf {
    metrics_path.with_file_name("validation.jsonl")
}

/// Runs RL from the latest checkpoint of `train.checkpoint.dir` when `checkpoint.resume` is
/// set and one exists, else from `model`, until `ppo.steps` steps are done. Takes tasks in
/// order (wrapping around), appends each step's metrics as one JSON line to `metrics_path`,
/// validates on `ctx.validation_tasks` as `train.validation` says (one line each in
/// [`validation_path`]), writes a checkpoint every `checkpoint.every` steps and after the last
/// (keeping `checkpoint.keep`), and calls `on_event` after every step and validation. A fresh
/// run refuses a folder that already holds checkpoints and empties both metric files. Returns
/// the trained model.
pub async fn run_rl<B: AutodiffBackend>(
    mut model: CausalLm<B>,
    reference: Option<&CausalLm<B>>,
    tasks: &[Task],
    ctx: &RlContext<'_>,
    metrics_path: &Path,
    mut on_event: impl FnMut(RlEvent<'_>),
) -> Result<CausalLm<B>> {
    let train = ctx.train;
    check_settings(ctx, reference.is_some())?;
    if tasks.is_empty() {
        return Err(Error::Usage("run_rl needs at least one task".into()));
    }
    let ck = &train.checkpoint;
    let validation_file = validation_path(metrics_path);
    let validating = train.validation.every > 0 && !ctx.validation_tasks.is_empty();
    let device = model.device();
    let mut optim = Optim::<B, CausalLm<B>>::new(train.optimizer.clone(), train.schedule);
    let latest = if ck.resume {
        Checkpoint::latest(&ck.dir)?
    } else {
        None
    };
    let mut state = match latest {
        Some(c) => {
            let optim_step = check_resumable(&c, train.seed, tasks.len())?;
            model = c.restore_model(model, &device)?;
            optim = c.restore_optim(optim, &device)?;
            // restore_optim counts RL steps; the schedule runs on optimiser steps.
            optim.step = optim_step;
            truncate_metrics(metrics_path, c.state.step)?;
            truncate_metrics(&validation_file, c.state.step)?;
            tracing::info!(step = c.state.step, path = %c.path.display(), "resuming RL");
            c.state
        }
        None => {
            if Checkpoint::latest(&ck.dir)?.is_some() {
                return Err(Error::Usage(format!(
                    "checkpoint.dir {} holds checkpoints: set checkpoint.resume, or use an \
                     empty folder",
                    ck.dir.display()
                )));
            }
            if let Some(parent) = metrics_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            for path in [metrics_path, &validation_file] {
                match fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::io(path, e))
                    }
                    _ => {}
                }
            }
            TrainState {
                step: 0,
                data_position: 0,
                epoch: 0,
                rng: RngState::capture(&ChaCha8Rng::seed_from_u64(train.seed)),
                extra: serde_json::Value::Null,
            }
        }
    };
    let position = TaskPosition {
        next: usize::try_from(state.data_position).unwrap_or(usize::MAX),
        epoch: state.epoch,
    };
    let mut cursor = TaskCursor::new(tasks, position)?;
    if validating && train.validation.before_train && state.step == 0 {
        let metrics = validate_and_log(&model, ctx, &validation_file, 0).await?;
        on_event(RlEvent::Validation(&metrics));
    }
    while state.step < train.ppo.steps {
        let step = state.step;
        let (next, metrics) = rl_step(
            model,
            &mut optim,
            reference,
            &mut cursor,
            ctx,
            step,
            train.seed.wrapping_add(step),
        )
        .await?;
        model = next;
        state.step += 1;
        state.data_position = cursor.position().next as u64;
        state.epoch = cursor.position().epoch;
        state.extra = serde_json::json!({
            "seed": train.seed,
            "tasks": tasks.len(),
            "optim_step": optim.step,
        });
        append_line(metrics_path, &metrics)?;
        on_event(RlEvent::Step(&metrics));
        // Before the checkpoint: a checkpoint at step k implies its validation line is written.
        let last = state.step == train.ppo.steps;
        if validating && (state.step % train.validation.every == 0 || last) {
            let metrics = validate_and_log(&model, ctx, &validation_file, state.step).await?;
            on_event(RlEvent::Validation(&metrics));
        }
        if state.step % ck.every.max(1) == 0 || state.step == train.ppo.steps {
            checkpoint::save(&ck.dir, &state, &model, &optim)?;
            checkpoint::prune(&ck.dir, ck.keep)?;
        }
    }
    Ok(model)
}

/// Validates the inference copy of `model` and appends the line to `file`.
async fn validate_and_log<B: AutodiffBackend>(
    model: &CausalLm<B>,
    ctx: &RlContext<'_>,
    file: &Path,
    step: u64,
) -> Result<ValidationMetrics> {
    let metrics = validate(&model.valid(), ctx.validation_tasks, ctx, step).await?;
    append_line(file, &metrics)?;
    Ok(metrics)
}

/// Checks that `c` belongs to a run with this seed and task list; returns its optimiser step.
fn check_resumable(c: &Checkpoint, seed: u64, tasks: usize) -> Result<usize> {
    let loc = c.path.display().to_string();
    let field = |name: &str| {
        c.state
            .extra
            .get(name)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| {
                Error::parse(
                    format!("{loc}: state.extra.{name}"),
                    "missing (not an RL checkpoint?)",
                )
            })
    };
    let (was_seed, was_tasks) = (field("seed")?, field("tasks")?);
    if was_seed != seed || was_tasks != tasks as u64 {
        return Err(Error::Usage(format!(
            "{loc} was written with train.seed = {was_seed} over {was_tasks} tasks; this run \
             has train.seed = {seed} over {tasks} tasks, so it would not continue exactly"
        )));
    }
    Ok(field("optim_step")? as usize)
}

fn append_line(path: &Path, record: &impl serde::Serialize) -> Result<()> {
    let line = serde_json::to_string(record).map_err(|e| Error::Usage(format!("metrics: {e}")))?;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| Error::io(path, e))
}

/// Drops metric lines of steps after `step` (they are redone after the checkpoint), writing
/// the kept lines to a temp file renamed over the original.
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let step_of = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
    };
    // A line cut by a kill does not parse and is dropped with the later ones.
    let kept: String = text
        .lines()
        .take_while(|l| step_of(l).is_some_and(|s| s <= step))
        .map(|l| format!("{l}\n"))
        .collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&tmp, kept).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
