//! The clipped policy loss (docs/arpo.md §4) as verl's `compute_policy_loss` and `agg_loss`
//! compute it, with clip-higher, dual clip, KL to a frozen reference and AEPO's entropy-aware
//! advantage, returning the loss tensor and typed statistics.
//!
//! Departures from verl: `SeqMeanTokenMean` counts a row with no trained token as 0 instead of
//! NaN (verl divides by a zero mask sum).

use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// verl's `masked_mean` adds this to the mask sum.
const MASK_EPS: f64 = 1e-8;
/// AEPO z-score: added to the entropy std before dividing.
const Z_EPS: f64 = 1e-6;

/// How per-token losses become one number (verl `loss_agg_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LossAgg {
    /// Mean over all trained tokens of the batch (`"token-mean"`, DAPO's token-level loss).
    #[default]
    #[serde(rename = "token-mean")]
    TokenMean,
    /// Mean over rows of each row's token mean (`"seq-mean-token-mean"`, GRPO's original).
    #[serde(rename = "seq-mean-token-mean")]
    SeqMeanTokenMean,
    /// Mean over rows of each row's token sum (`"seq-mean-token-sum"`).
    #[serde(rename = "seq-mean-token-sum")]
    SeqMeanTokenSum,
}

/// Per-token KL estimators of verl `kl_penalty` (J. Schulman, "Approximating KL divergence").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KlEstimator {
    /// `log π − log π_ref`.
    #[serde(rename = "k1", alias = "kl")]
    K1,
    /// `exp(d) − d − 1` with `d = clamp(log π_ref − log π, ±20)`, clamped to ±10 (`low_var_kl`).
    #[serde(rename = "k3", alias = "low_var_kl")]
    K3,
}

/// KL loss to a frozen reference policy, added as `coef · agg(kl_t)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KlPenalty {
    /// Weight of the KL term.
    pub coef: f64,
    /// The per-token estimator.
    pub estimator: KlEstimator,
}

/// AEPO's entropy-aware advantage: `Â_t · (1 + alpha · z_t)` with
/// `z_t = (H_t − mean(H)) / (std(H) + 1e-6)`, mean and unbiased std over the trained tokens of
/// the batch, `H_t` the sampling entropy of token `t` (data, no gradient).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EntropyAdvantage {
    /// Strength (0.2 in docs/arpo.md §4).
    pub alpha: f64,
}

/// Options of the clipped surrogate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyLossConfig {
    /// Lower clip: the ratio is clipped at `1 − clip_low`.
    pub clip_low: f64,
    /// Upper clip: `1 + clip_high` (DAPO clip-higher: 0.28).
    pub clip_high: f64,
    /// Dual clip `c` (> 1) for negative advantages; `None` disables it.
    pub dual_clip: Option<f64>,
    /// Aggregation.
    pub agg: LossAgg,
    /// KL to a frozen reference; `None`: no reference model needed.
    pub kl: Option<KlPenalty>,
    /// AEPO entropy-aware advantage; `None`: plain advantages.
    pub entropy_advantage: Option<EntropyAdvantage>,
}

impl Default for PolicyLossConfig {
    /// The reference values: ε 0.2 both sides, c = 3, token-mean, no KL, no entropy term.
    fn default() -> Self {
        Self {
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip: Some(3.0),
            agg: LossAgg::TokenMean,
            kl: None,
            entropy_advantage: None,
        }
    }
}

/// Per-token inputs, all `[rows, width]`; padding has mask 0.
pub struct PolicyLossInput<B: Backend> {
    /// Log-probs under the current policy (differentiable).
    pub logprobs: Tensor<B, 2>,
    /// Log-probs under the policy that sampled the tokens.
    pub old_logprobs: Tensor<B, 2>,
    /// Advantages.
    pub advantages: Tensor<B, 2>,
    /// 1 for trained tokens, 0 for tool tokens and padding.
    pub mask: Tensor<B, 2>,
    /// Log-probs under the frozen reference (needed when KL is on).
    pub ref_logprobs: Option<Tensor<B, 2>>,
    /// Sampling entropies (needed for the entropy-aware advantage; reported when present).
    pub entropies: Option<Tensor<B, 2>>,
}

/// What happened in one loss evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LossStats {
    /// The policy-gradient part of the loss.
    pub pg_loss: f64,
    /// The aggregated KL estimate, when KL is on (before the coefficient).
    pub kl_loss: Option<f64>,
    /// Fraction of trained tokens where the clipped term was taken (verl `pg_clipfrac`).
    pub clip_frac: f64,
    /// Fraction where the dual clip bound was taken (verl `pg_clipfrac_lower`).
    pub dual_clip_frac: f64,
    /// Masked mean of `log π_old − log π` (verl `ppo_kl`).
    pub approx_kl: f64,
    /// Masked mean of the sampling entropies, when given.
    pub entropy_mean: Option<f64>,
    /// Smallest ratio over trained tokens.
    pub ratio_min: f64,
    /// Largest ratio over trained tokens.
    pub ratio_max: f64,
    /// Number of trained tokens.
    pub tokens: usize,
}

/// Copies a tensor to the host as f32.
pub(crate) fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| Error::Usage(format!("tensor to host: {e:?}")))
}

fn masked_mean<B: Backend>(v: Tensor<B, 2>, mask: Tensor<B, 2>) -> Tensor<B, 1> {
    v.mul(mask.clone())
        .sum()
        .div(mask.sum().add_scalar(MASK_EPS))
}

/// verl `agg_loss`.
pub fn aggregate<B: Backend>(loss: Tensor<B, 2>, mask: Tensor<B, 2>, agg: LossAgg) -> Tensor<B, 1> {
    match agg {
        LossAgg::TokenMean => masked_mean(loss, mask),
        LossAgg::SeqMeanTokenSum => loss.mul(mask).sum_dim(1).mean().reshape([1]),
        LossAgg::SeqMeanTokenMean => {
            let per_row = loss
                .mul(mask.clone())
                .sum_dim(1)
                .div(mask.sum_dim(1).clamp_min(1.0));
            per_row.mean().reshape([1])
        }
    }
}

/// Per-token KL estimate (verl `kl_penalty`).
pub fn kl_estimate<B: Backend>(
    logprobs: Tensor<B, 2>,
    ref_logprobs: Tensor<B, 2>,
    estimator: KlEstimator,
) -> Tensor<B, 2> {
    match estimator {
        KlEstimator::K1 => logprobs.sub(ref_logprobs),
        KlEstimator::K3 => {
            let d = ref_logprobs.sub(logprobs).clamp(-20.0, 20.0);
            d.clone().exp().sub(d).sub_scalar(1.0).clamp(-10.0, 10.0)
        }
    }
}

/// AEPO-weighted advantages (see [`EntropyAdvantage`]).
pub fn entropy_weighted_advantages<B: Backend>(
    advantages: Tensor<B, 2>,
    entropies: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    alpha: f64,
) -> Tensor<B, 2> {
    let n = mask.clone().sum();
    let mean = entropies
        .clone()
        .mul(mask.clone())
        .sum()
        .div(n.clone().add_scalar(MASK_EPS));
    let centred = entropies.sub(mean.unsqueeze::<2>());
    let var = centred
        .clone()
        .powi_scalar(2)
        .mul(mask)
        .sum()
        .div(n.sub_scalar(1.0).clamp_min(1.0));
    let z = centred.div(var.sqrt().add_scalar(Z_EPS).unsqueeze::<2>());
    advantages.mul(z.mul_scalar(alpha).add_scalar(1.0))
}

/// The clipped surrogate of verl `compute_policy_loss` (vanilla), aggregated, plus the optional
/// KL term. Returns the loss (`[1]`) and its statistics.
///
/// # Shapes
/// every input `[rows, width]` → `[1]`
pub fn policy_loss<B: Backend>(
    input: PolicyLossInput<B>,
    config: &PolicyLossConfig,
) -> Result<(Tensor<B, 1>, LossStats)> {
    let dims = input.logprobs.dims();
    for (name, d) in [
        ("old_logprobs", input.old_logprobs.dims()),
        ("advantages", input.advantages.dims()),
        ("mask", input.mask.dims()),
    ] {
        if d != dims {
            return Err(Error::Usage(format!(
                "policy loss: {name} is {d:?}, log-probs {dims:?}"
            )));
        }
    }
    if let Some(c) = config.dual_clip.filter(|&c| c <= 1.0) {
        return Err(Error::Usage(format!(
            "policy loss: dual clip c = {c} must exceed 1"
        )));
    }
    let PolicyLossInput {
        logprobs,
        old_logprobs,
        mut advantages,
        mask,
        ref_logprobs,
        entropies,
    } = input;
    if let Some(ea) = config.entropy_advantage {
        let h = entropies
            .clone()
            .ok_or_else(|| Error::Usage("entropy-aware advantage needs entropies".into()))?;
        advantages = entropy_weighted_advantages(advantages, h, mask.clone(), ea.alpha);
    }
    let neg_kl = logprobs.clone().sub(old_logprobs).clamp(-20.0, 20.0);
    let ratio = neg_kl.clone().exp();
    let l1 = advantages.clone().neg().mul(ratio.clone());
    let l2 = advantages.clone().neg().mul(
        ratio
            .clone()
            .clamp(1.0 - config.clip_low, 1.0 + config.clip_high),
    );
    let clipped = l1.clone().max_pair(l2.clone());
    let clip_taken = l2.greater(l1);
    let (pg, dual_taken) = match config.dual_clip {
        Some(c) => {
            let l3 = advantages.clone().neg().mul_scalar(c);
            let negative = advantages.clone().lower_elem(0.0);
            let dual = l3.clone().min_pair(clipped.clone());
            let taken = clipped.clone().greater(l3).bool_and(negative.clone());
            (clipped.mask_where(negative, dual), Some(taken))
        }
        None => (clipped, None),
    };
    let pg_loss = aggregate(pg, mask.clone(), config.agg);
    let mut loss = pg_loss.clone();
    let mut kl_loss = None;
    if let Some(kl) = config.kl {
        let reference = ref_logprobs
            .ok_or_else(|| Error::Usage("KL penalty needs reference log-probs".into()))?;
        let term = aggregate(
            kl_estimate(logprobs, reference, kl.estimator),
            mask.clone(),
            config.agg,
        );
        kl_loss = Some(host(term.clone())?[0] as f64);
        loss = loss.add(term.mul_scalar(kl.coef));
    }

    // Statistics on the host, from the same tensors.
    let m = host(mask)?;
    let ratio = host(ratio)?;
    let neg_kl = host(neg_kl)?;
    let clip_taken = host(clip_taken.float())?;
    let dual_taken = match dual_taken {
        Some(t) => host(t.float())?,
        None => vec![0.0; m.len()],
    };
    let ent = entropies.map(host).transpose()?;
    let n: f64 = m.iter().map(|&x| f64::from(x)).sum();
    let mean_of = |v: &[f32]| {
        v.iter()
            .zip(&m)
            .map(|(&a, &w)| f64::from(a) * f64::from(w))
            .sum::<f64>()
            / (n + MASK_EPS)
    };
    let trained = || {
        ratio
            .iter()
            .zip(&m)
            .filter(|(_, &w)| w > 0.0)
            .map(|(&r, _)| f64::from(r))
    };
    let stats = LossStats {
        pg_loss: f64::from(host(pg_loss)?[0]),
        kl_loss,
        clip_frac: mean_of(&clip_taken),
        dual_clip_frac: mean_of(&dual_taken),
        approx_kl: -mean_of(&neg_kl),
        entropy_mean: ent.as_deref().map(mean_of),
        ratio_min: trained().fold(f64::INFINITY, f64::min),
        ratio_max: trained().fold(f64::NEG_INFINITY, f64::max),
        tokens: m.iter().filter(|&&w| w > 0.0).count(),
    };
    Ok((loss, stats))
}
