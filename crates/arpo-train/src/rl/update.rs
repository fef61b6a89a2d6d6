//! The PPO update of one step: `ppo.epochs` passes over the loss rows in mini-batches of
//! `ppo.mini_batch_prompts` trees (shuffled per epoch), one optimiser step per mini-batch,
//! each mini-batch split into `ppo.grad_accum` micro-batches whose gradients are summed.
//!
//! Gradient accumulation changes memory, not the update: micro-batch `j` has its loss scaled
//! by its share of the mini-batch before its backward pass, so the summed gradient is the
//! gradient of the whole mini-batch's loss (up to float rounding and the 1e-8 of the masked
//! mean). The share is `tokens_j / tokens` for token-mean (a mean over all trained tokens) and
//! `rows_j / rows` for the seq-mean aggregations (a mean over rows), which makes it exact for
//! all three. One case stays approximate: AEPO's entropy-aware advantage z-scores entropies
//! over the tokens that are evaluated together, i.e. over each micro-batch instead of the
//! mini-batch.

use arpo_model::CausalLm;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::TrainConfig;
use crate::loss::{host, LossAgg};
use crate::optim::{GradAccumulator, Optim};
use crate::tree_loss::{tree_policy_loss, TreeRows};
use crate::{Error, Result};

/// Sums of the per-update statistics (means are taken by the caller).
#[derive(Debug, Default)]
pub(super) struct UpdateSums {
    /// Optimiser steps.
    pub n: usize,
    /// Backward passes.
    pub micro_batches: usize,
    pub loss: f64,
    pub clip: f64,
    pub kl: f64,
    pub entropy: f64,
    pub grad_norm: f64,
    /// Rate of the last step.
    pub lr: f64,
    /// Tokens fed to the model by the training forwards.
    pub tokens: usize,
}

/// Splits a mini-batch into at most `parts` contiguous, non-empty micro-batches whose sizes
/// differ by at most one tree.
fn micro_batches(chunk: &[usize], parts: usize) -> Vec<&[usize]> {
    let parts = parts.clamp(1, chunk.len().max(1));
    let (base, extra) = (chunk.len() / parts, chunk.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut at = 0;
    for p in 0..parts {
        let len = base + usize::from(p < extra);
        out.push(&chunk[at..at + len]);
        at += len;
    }
    out
}

/// The aggregation's unit count of a micro-batch (see the module docs).
fn weight_units(batch: &[TreeRows], agg: LossAgg) -> usize {
    let rows = batch.iter().flat_map(|b| &b.rows);
    match agg {
        LossAgg::TokenMean => rows.map(|r| r.tokens.len()).sum(),
        LossAgg::SeqMeanTokenMean | LossAgg::SeqMeanTokenSum => rows.count(),
    }
}

/// Runs the PPO epochs over `rows`; `seed` shuffles the mini-batches.
pub(super) fn ppo_updates<B: AutodiffBackend>(
    mut model: CausalLm<B>,
    optim: &mut Optim<B, CausalLm<B>>,
    reference: Option<&CausalLm<B>>,
    rows: &[TreeRows],
    train: &TrainConfig,
    step: u64,
    seed: u64,
) -> Result<(CausalLm<B>, UpdateSums)> {
    // Another training in this process must not run backward() while these graphs are built.
    let _graphs = crate::autodiff_section();
    let mut sums = UpdateSums::default();
    // A stream apart from the rollout's (which derives from `seed` itself).
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_eed0_f990_u64);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for _ in 0..train.ppo.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(train.ppo.mini_batch_prompts) {
            let parts: Vec<Vec<TreeRows>> = micro_batches(chunk, train.ppo.grad_accum)
                .into_iter()
                .map(|p| p.iter().map(|&i| rows[i].clone()).collect())
                .collect();
            let units: Vec<usize> = parts
                .iter()
                .map(|p| weight_units(p, train.loss.agg))
                .collect();
            let total = units.iter().sum::<usize>().max(1) as f64;
            let mut acc = GradAccumulator::new(parts.len());
            let mut summed = None;
            let (mut loss, mut clip, mut kl, mut entropy, mut tokens) = (0.0, 0.0, 0.0, 0.0, 0);
            for (batch, units) in parts.iter().zip(units) {
                let share = units as f64 / total;
                let (micro_loss, st, fw) = tree_policy_loss(
                    &model,
                    reference,
                    batch,
                    train.ppo.forward.into(),
                    &train.loss,
                    train.ppo.temperature,
                )?;
                let value = f64::from(host(micro_loss.clone())?[0]);
                if !value.is_finite() {
                    return Err(Error::Usage(format!(
                        "rl_step {step}: non-finite policy loss {value}"
                    )));
                }
                loss += share * value;
                // Token means of the statistics, as over the whole mini-batch.
                let n = st.tokens as f64;
                clip += n * st.clip_frac;
                kl += n * st.approx_kl;
                entropy += n * st.entropy_mean.unwrap_or(0.0);
                tokens += st.tokens;
                sums.tokens += fw.tokens;
                sums.micro_batches += 1;
                let scaled = if parts.len() == 1 {
                    micro_loss
                } else {
                    micro_loss.mul_scalar(share)
                };
                let grads = GradientsParams::from_grads(scaled.backward(), &model);
                summed = acc.push::<B>(&model, grads);
            }
            let grads =
                summed.ok_or_else(|| Error::Usage("no micro-batch in a mini-batch".into()))?;
            let (next, os) = optim.step(model, grads);
            model = next;
            let n = tokens.max(1) as f64;
            sums.n += 1;
            sums.loss += loss;
            sums.clip += clip / n;
            sums.kl += kl / n;
            sums.entropy += entropy / n;
            sums.grad_norm += os.grad_norm;
            sums.lr = os.lr;
        }
    }
    Ok((model, sums))
}

#[cfg(test)]
mod tests {
    use super::micro_batches;

    #[test]
    fn micro_batches_cover_the_chunk_in_order_and_differ_by_at_most_one() {
        let chunk = [4, 1, 3, 0, 2];
        assert_eq!(micro_batches(&chunk, 2), vec![&[4, 1, 3][..], &[0, 2][..]]);
        assert_eq!(micro_batches(&chunk, 1), vec![&chunk[..]]);
        // More parts than trees: one tree each, none empty.
        assert_eq!(micro_batches(&[7, 8], 4), vec![&[7][..], &[8][..]]);
    }
}
