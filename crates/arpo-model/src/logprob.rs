//! Log-probabilities of given tokens under the model, differentiable (for the policy loss).

use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Int, Tensor};

use crate::{CausalLm, Result};

/// Per-token log-probs (and optionally entropies) of `tokens[:, 1..]` given their prefixes.
pub struct TokenLogprobs<B: Backend> {
    /// `[batch, seq - 1]`: `log softmax(logits_t / T)[tokens_{t+1}]`.
    pub logprobs: Tensor<B, 2>,
    /// `[batch, seq - 1]`: entropy of `softmax(logits_t / T)`, when requested.
    pub entropies: Option<Tensor<B, 2>>,
}

/// Scores whole right-padded sequences: position `t` predicts token `t + 1`. Positions past a
/// row's length are garbage; the caller masks them.
///
/// # Shapes
/// `tokens: [batch, seq]` (seq ≥ 2) → `[batch, seq - 1]`
pub fn token_logprobs<B: Backend>(
    model: &CausalLm<B>,
    tokens: Tensor<B, 2, Int>,
    temperature: f64,
    with_entropy: bool,
) -> Result<TokenLogprobs<B>> {
    let [b, s] = tokens.dims();
    if s < 2 {
        return Err(crate::Error::Usage(
            "scoring needs sequences of at least 2 tokens".into(),
        ));
    }
    let inputs = tokens.clone().slice([0..b, 0..s - 1]);
    let targets = tokens.slice([0..b, 1..s]);
    let logits = model.forward(inputs)?.div_scalar(temperature);
    let logp = log_softmax(logits, 2);
    let entropies = with_entropy.then(|| {
        logp.clone()
            .exp()
            .mul(logp.clone())
            .sum_dim(2)
            .neg()
            .squeeze_dim::<2>(2)
    });
    let logprobs = logp
        .gather(2, targets.unsqueeze_dim::<3>(2))
        .squeeze_dim::<2>(2);
    Ok(TokenLogprobs {
        logprobs,
        entropies,
    })
}
