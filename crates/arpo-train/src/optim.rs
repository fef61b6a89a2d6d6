//! The optimiser side of training: burn's AdamW (decoupled weight decay) behind a global
//! grad-norm clip as PyTorch's `clip_grad_norm_` does it, a learning-rate schedule, and a
//! gradient-accumulation helper.
//!
//! Why not burn's own `GradientClipping::Norm`: it clips every parameter tensor by its own
//! norm; verl and the paper clip the norm of all gradients together.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};

/// Learning rate as a function of the optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The base rate throughout (the reference: 1e-6).
    #[default]
    Constant,
    /// Linear ramp from `base / steps` to `base` over the first `steps` steps, then constant.
    Warmup {
        /// Warm-up steps.
        steps: usize,
    },
    /// Linear warm-up, then half a cosine from `base` down to `min_lr` at step `total`.
    Cosine {
        /// Warm-up steps.
        warmup: usize,
        /// Step at which `min_lr` is reached (and kept).
        total: usize,
        /// Final rate.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// The rate for optimiser step `step` (0-based).
    pub fn lr(&self, base: f64, step: usize) -> f64 {
        let warm = |w: usize| {
            if step < w {
                base * (step + 1) as f64 / w as f64
            } else {
                base
            }
        };
        match *self {
            Self::Constant => base,
            Self::Warmup { steps } => warm(steps),
            Self::Cosine {
                warmup,
                total,
                min_lr,
            } => {
                if step < warmup {
                    return warm(warmup);
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// AdamW settings (defaults: docs/arpo.md §4 reference values, PyTorch's betas and epsilon).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Base learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Clip the global gradient norm to this; `None`: no clipping.
    pub max_grad_norm: Option<f64>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-6,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            max_grad_norm: Some(1.0),
        }
    }
}

/// What one optimiser step did.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct StepStats {
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Whether the gradients were scaled down.
    pub clipped: bool,
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s: f64 = g.square().sum().into_scalar().elem();
            self.sum += s;
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads
                .register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Global L2 norm of the gradients of `model`'s parameters.
pub fn grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> f64 {
    let mut v = SquaredNorm { grads, sum: 0.0 };
    model.visit(&mut v);
    v.sum.sqrt()
}

/// Scales all gradients by `max_norm / (norm + 1e-6)` when the global norm exceeds `max_norm`
/// (PyTorch `clip_grad_norm_`). Returns the norm before clipping and whether it clipped.
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> (f64, bool) {
    let norm = grad_norm::<B, M>(model, grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        model.visit(&mut Scale { grads, factor });
        (norm, true)
    } else {
        (norm, false)
    }
}

/// AdamW with global grad-norm clipping and a schedule; counts its steps.
pub struct Optim<B: AutodiffBackend, M: AutodiffModule<B>> {
    inner: OptimizerAdaptor<AdamW, M, B>,
    config: OptimizerConfig,
    schedule: LrSchedule,
    /// Optimiser steps taken (the schedule's position).
    pub step: usize,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Optim<B, M> {
    /// A fresh optimiser.
    pub fn new(config: OptimizerConfig, schedule: LrSchedule) -> Self {
        let inner = AdamWConfig::new()
            .with_beta_1(config.beta1 as f32)
            .with_beta_2(config.beta2 as f32)
            .with_epsilon(config.eps as f32)
            .with_weight_decay(config.weight_decay as f32)
            .init::<B, M>();
        Self {
            inner,
            config,
            schedule,
            step: 0,
        }
    }

    /// Clips, then applies one AdamW update at the scheduled rate.
    pub fn step(&mut self, model: M, mut grads: GradientsParams) -> (M, StepStats) {
        let (grad_norm, clipped) = match self.config.max_grad_norm {
            Some(max) => clip_grad_norm::<B, M>(&model, &mut grads, max),
            None => (grad_norm::<B, M>(&model, &grads), false),
        };
        let lr = self.schedule.lr(self.config.lr, self.step);
        let model = self.inner.step(lr, model, grads);
        self.step += 1;
        (
            model,
            StepStats {
                lr,
                grad_norm,
                clipped,
            },
        )
    }

    /// The moment estimates, for checkpoints.
    pub fn record(&self) -> <OptimizerAdaptor<AdamW, M, B> as Optimizer<M, B>>::Record {
        self.inner.to_record()
    }

    /// Restores moment estimates and the step count from a checkpoint.
    pub fn load(
        mut self,
        record: <OptimizerAdaptor<AdamW, M, B> as Optimizer<M, B>>::Record,
        step: usize,
    ) -> Self {
        self.inner = self.inner.load_record(record);
        self.step = step;
        self
    }
}

/// Sums the gradients of `micro_batches` backward passes into one optimiser step. Scale each
/// micro-batch loss by its share of the mini-batch (1/n for equal sizes) so that the sum is the
/// mini-batch gradient.
pub struct GradAccumulator<M> {
    inner: GradientsAccumulator<M>,
    micro_batches: usize,
    pushed: usize,
}

impl<M> GradAccumulator<M> {
    /// Accumulates over `micro_batches` (at least 1) backward passes.
    pub fn new(micro_batches: usize) -> Self {
        Self {
            inner: GradientsAccumulator::new(),
            micro_batches: micro_batches.max(1),
            pushed: 0,
        }
    }

    /// Adds one micro-batch; returns the summed gradients once the last one arrived.
    pub fn push<B: AutodiffBackend>(
        &mut self,
        model: &M,
        grads: GradientsParams,
    ) -> Option<GradientsParams>
    where
        M: AutodiffModule<B>,
    {
        self.inner.accumulate::<B>(model, grads);
        self.pushed += 1;
        if self.pushed == self.micro_batches {
            self.pushed = 0;
            Some(self.inner.grads())
        } else {
            None
        }
    }
}
