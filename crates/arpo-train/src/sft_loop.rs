//! The SFT loop: shuffled mini-batches, AdamW steps, metrics as JSON lines, and checkpoints
//! from which `resume` continues exactly (same data order, optimiser moments, RNG and step;
//! metric lines past the checkpoint are dropped so that no step is logged twice).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use arpo_model::CausalLm;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint, RngState, TrainState};
use crate::loss::host;
use crate::optim::{LrSchedule, Optim, OptimizerConfig};
use crate::sft::{sft_loss, SftExample};
use crate::{Error, Result};

/// SFT settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SftConfig {
    /// Optimiser steps in total.
    pub steps: u64,
    /// Examples per step.
    pub batch_size: usize,
    /// Seed of the data order.
    pub seed: u64,
    /// Write a checkpoint every this many steps (and after the last).
    pub checkpoint_every: u64,
    /// Checkpoints kept on disk.
    pub keep_checkpoints: usize,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 8,
            seed: 0,
            checkpoint_every: 50,
            keep_checkpoints: 2,
        }
    }
}

/// One step's metrics (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftStep {
    /// Steps completed, this one included.
    pub step: u64,
    /// Pass over the data.
    pub epoch: u64,
    /// Masked cross-entropy of the batch.
    pub loss: f64,
    /// Trained tokens in the batch.
    pub tokens: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
}

/// One SFT run: what to train with, and where its checkpoints and metrics go.
pub struct SftRun<'a> {
    /// Loop settings.
    pub config: &'a SftConfig,
    /// AdamW settings.
    pub optimizer: &'a OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Checkpoint and metrics folder.
    pub dir: &'a Path,
    /// Continue from the latest checkpoint in `dir` (a fresh start when there is none).
    pub resume: bool,
}

const METRICS: &str = "metrics.jsonl";

fn order(n: usize, epoch_seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(epoch_seed));
    idx
}

fn epoch_seed(state: &TrainState) -> Result<u64> {
    state
        .extra
        .get("epoch_seed")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| Error::parse("checkpoint state: extra.epoch_seed", "missing"))
}

/// Drops metric lines of steps after `step` (they were redone after the checkpoint).
fn truncate_metrics(dir: &Path, step: u64) -> Result<()> {
    let path = dir.join(METRICS);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    // A line cut by the kill does not parse and is dropped with the later ones.
    let kept: String = text
        .lines()
        .take_while(|l| serde_json::from_str::<SftStep>(l).is_ok_and(|s| s.step <= step))
        .map(|l| format!("{l}\n"))
        .collect();
    let tmp = dir.join(format!(".{METRICS}.tmp"));
    fs::write(&tmp, kept).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// Runs SFT on `data` and returns the trained model. Calls `on_step` after every step.
pub fn run_sft<B: AutodiffBackend>(
    mut model: CausalLm<B>,
    data: &[SftExample],
    run: &SftRun,
    mut on_step: impl FnMut(&SftStep),
) -> Result<CausalLm<B>> {
    let cfg = run.config;
    if data.is_empty() || cfg.batch_size == 0 {
        return Err(Error::Usage(
            "SFT needs data and a batch size of at least 1".into(),
        ));
    }
    let device = model.device();
    let mut optim = Optim::<B, CausalLm<B>>::new(run.optimizer.clone(), run.schedule);
    let latest = if run.resume {
        Checkpoint::latest(run.dir)?
    } else {
        None
    };
    let (mut state, mut rng) = match latest {
        Some(ck) => {
            model = ck.restore_model(model, &device)?;
            optim = ck.restore_optim(optim, &device)?;
            truncate_metrics(run.dir, ck.state.step)?;
            tracing::info!(step = ck.state.step, path = %ck.path.display(), "resuming SFT");
            let rng = ck.state.rng.restore()?;
            (ck.state, rng)
        }
        None => {
            if !run.resume && Checkpoint::latest(run.dir)?.is_some() {
                return Err(Error::Usage(format!(
                    "{} holds checkpoints: resume, or use an empty folder",
                    run.dir.display()
                )));
            }
            fs::create_dir_all(run.dir).map_err(|e| Error::io(run.dir, e))?;
            let _ = fs::remove_file(run.dir.join(METRICS));
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            let seed = rng.next_u64();
            let state = TrainState {
                step: 0,
                data_position: 0,
                epoch: 0,
                rng: RngState::capture(&rng),
                extra: serde_json::json!({ "epoch_seed": seed }),
            };
            (state, rng)
        }
    };
    let mut perm = order(data.len(), epoch_seed(&state)?);
    let metrics_path = run.dir.join(METRICS);
    while state.step < cfg.steps {
        let mut batch = Vec::with_capacity(cfg.batch_size);
        for _ in 0..cfg.batch_size {
            if state.data_position as usize >= data.len() {
                let seed = rng.next_u64();
                state.extra["epoch_seed"] = seed.into();
                state.epoch += 1;
                state.data_position = 0;
                perm = order(data.len(), seed);
            }
            batch.push(&data[perm[state.data_position as usize]]);
            state.data_position += 1;
        }
        state.rng = RngState::capture(&rng);
        // Another training in this process must not run backward() while this graph is built.
        let graphs = crate::autodiff_section();
        let (loss, tokens) = sft_loss(&model, &batch)?;
        let value = f64::from(host(loss.clone())?[0]);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (next, st) = optim.step(model, grads);
        model = next;
        drop(graphs);
        state.step += 1;
        let rec = SftStep {
            step: state.step,
            epoch: state.epoch,
            loss: value,
            tokens,
            lr: st.lr,
            grad_norm: st.grad_norm,
        };
        let line =
            serde_json::to_string(&rec).map_err(|e| Error::Usage(format!("metrics: {e}")))?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|e| Error::io(&metrics_path, e))?;
        writeln!(f, "{line}").map_err(|e| Error::io(&metrics_path, e))?;
        on_step(&rec);
        if state.step % cfg.checkpoint_every.max(1) == 0 || state.step == cfg.steps {
            checkpoint::save(run.dir, &state, &model, &optim)?;
            checkpoint::prune(run.dir, cfg.keep_checkpoints)?;
        }
    }
    Ok(model)
}
