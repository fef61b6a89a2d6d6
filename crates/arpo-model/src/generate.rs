//! Batched generation: prefill every prompt together, then decode all live sequences one token
//! per step, each with its own seeded RNG (so a sequence's tokens do not depend on its batch).

use std::time::Instant;

use burn::tensor::backend::Backend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use arpo_core::TokenId;

use crate::sampler::{sample, SampledToken, SamplingConfig};
use crate::{CausalLm, Error, Result};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Token selection.
    pub sampling: SamplingConfig,
    /// Most new tokens per sequence.
    pub max_new_tokens: usize,
    /// Tokens that end a sequence (kept in the output).
    pub stop_tokens: Vec<TokenId>,
}

/// One generated continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// New tokens (the stop token included when one ended the sequence).
    pub tokens: Vec<TokenId>,
    /// Log-prob of each new token (see [`crate::SampledToken::logprob`]).
    pub logprobs: Vec<f32>,
    /// Entropy of each token's distribution.
    pub entropies: Vec<f32>,
    /// Whether a stop token ended the sequence (else the budget did).
    pub stopped: bool,
}

/// Throughput figures of one [`generate`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerateTimings {
    /// Prompt tokens forwarded.
    pub prefill_tokens: usize,
    /// Seconds spent on the prompts (forward and first sampling).
    pub prefill_secs: f64,
    /// Tokens produced after the first.
    pub decode_tokens: usize,
    /// Seconds spent producing them.
    pub decode_secs: f64,
}

impl GenerateTimings {
    /// Prompt tokens per second.
    pub fn prefill_tokens_per_sec(&self) -> f64 {
        self.prefill_tokens as f64 / self.prefill_secs.max(1e-12)
    }

    /// Decoded tokens per second (all sequences together).
    pub fn decode_tokens_per_sec(&self) -> f64 {
        self.decode_tokens as f64 / self.decode_secs.max(1e-12)
    }
}

/// Generates a continuation of every prompt; `seeds[i]` seeds sequence `i`.
pub fn generate<B: Backend>(
    model: &CausalLm<B>,
    prompts: &[Vec<TokenId>],
    seeds: &[u64],
    config: &GenerateConfig,
) -> Result<(Vec<Generated>, GenerateTimings)> {
    if prompts.len() != seeds.len() {
        return Err(Error::Usage(format!(
            "{} prompts but {} seeds",
            prompts.len(),
            seeds.len()
        )));
    }
    let mut timings = GenerateTimings {
        prefill_tokens: prompts.iter().map(Vec::len).sum(),
        ..Default::default()
    };
    let mut rngs: Vec<ChaCha8Rng> = seeds
        .iter()
        .map(|&s| ChaCha8Rng::seed_from_u64(s))
        .collect();
    let mut caches: Vec<_> = prompts.iter().map(|_| model.new_cache()).collect();
    let mut out: Vec<Generated> = prompts
        .iter()
        .map(|_| Generated {
            tokens: vec![],
            logprobs: vec![],
            entropies: vec![],
            stopped: false,
        })
        .collect();
    let vocab = model.vocab_size();
    let start = Instant::now();
    let mut live: Vec<usize> = (0..prompts.len()).collect();
    let mut inputs: Vec<Vec<TokenId>> = prompts.to_vec();
    // Prompt plus generated tokens, for the repetition penalty; grown in place, not rebuilt.
    let mut histories: Vec<Vec<TokenId>> = prompts.to_vec();
    let mut first = true;
    while !live.is_empty() && config.max_new_tokens > 0 {
        // Moved out, not cloned: a clone would be a fork, and a forked cache starts a new chunk.
        let mut live_caches: Vec<_> = live
            .iter()
            .map(|&i| std::mem::replace(&mut caches[i], model.new_cache()))
            .collect();
        let logits = model.extend(&inputs, &mut live_caches)?;
        let flat = logits
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| Error::Usage(format!("reading logits: {e:?}")))?;
        for (&i, cache) in live.iter().zip(live_caches) {
            caches[i] = cache;
        }
        let mut next_live = Vec::with_capacity(live.len());
        let mut next_inputs = Vec::with_capacity(live.len());
        // Rows sample in parallel (the full-vocabulary softmax and entropy in f64 are most of
        // a step's work outside the network); each row draws from its own RNG, so the result
        // does not depend on the order.
        let live_rngs = select_mut(&mut rngs, &live);
        let sample_row = |(row, (rng, &i)): (usize, (&mut ChaCha8Rng, &usize))| {
            let logits = &flat[row * vocab..(row + 1) * vocab];
            sample(logits, &histories[i], &config.sampling, rng)
        };
        let sampled: Vec<SampledToken> = if live.len() == 1 {
            live_rngs
                .into_iter()
                .zip(&live)
                .enumerate()
                .map(sample_row)
                .collect()
        } else {
            live_rngs
                .into_par_iter()
                .zip(live.par_iter())
                .enumerate()
                .map(sample_row)
                .collect()
        };
        for (t, &i) in sampled.into_iter().zip(&live) {
            histories[i].push(t.token);
            let g = &mut out[i];
            g.tokens.push(t.token);
            g.logprobs.push(t.logprob as f32);
            g.entropies.push(t.entropy as f32);
            if !first {
                timings.decode_tokens += 1;
            }
            if config.stop_tokens.contains(&t.token) {
                g.stopped = true;
            } else if g.tokens.len() < config.max_new_tokens {
                next_live.push(i);
                next_inputs.push(vec![t.token]);
            }
        }
        if first {
            timings.prefill_secs = start.elapsed().as_secs_f64();
            first = false;
        }
        live = next_live;
        inputs = next_inputs;
    }
    timings.decode_secs = start.elapsed().as_secs_f64() - timings.prefill_secs;
    Ok((out, timings))
}

/// Mutable references to `items[i]` for each `i` of `indices` (ascending, no repeats), in order.
fn select_mut<'a, T>(items: &'a mut [T], indices: &[usize]) -> Vec<&'a mut T> {
    let mut wanted = indices.iter().peekable();
    let mut picked = Vec::with_capacity(indices.len());
    for (i, item) in items.iter_mut().enumerate() {
        if wanted.peek() == Some(&&i) {
            picked.push(item);
            wanted.next();
        }
    }
    assert!(
        wanted.next().is_none(),
        "indices must be ascending and in range"
    );
    picked
}
