//! SFT cold start data: ShareGPT-style conversations (the reference SFT format) and generated
//! demonstrations (rollout-tree trajectories), tokenized with a loss mask that is on for
//! assistant tokens only, and the masked cross-entropy loss over them.

use std::path::Path;

use arpo_core::{ChatMessage, Origin, Role, RolloutTree, TokenId, Tokenizer};
use arpo_model::{token_logprobs, CausalLm, PaddedBatch};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::Deserialize;

use crate::{Error, Result};

/// One training sequence: tokens and, per token, whether it is trained on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftExample {
    /// Token ids.
    pub tokens: Vec<TokenId>,
    /// `true` for tokens the loss covers (assistant / model-written tokens).
    pub loss_mask: Vec<bool>,
}

#[derive(Deserialize)]
struct Turn {
    from: String,
    value: String,
}

#[derive(Deserialize)]
struct Record {
    conversations: Vec<Turn>,
}

/// Maps ShareGPT speaker names to roles.
fn role_of(from: &str) -> Option<Role> {
    match from {
        "human" | "user" => Some(Role::User),
        "gpt" | "assistant" => Some(Role::Assistant),
        "system" => Some(Role::System),
        "observation" | "tool" | "function" => Some(Role::Tool),
        _ => None,
    }
}

fn record_messages(r: Record, location: &str) -> Result<Vec<ChatMessage>> {
    r.conversations
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            role_of(&t.from)
                .map(|role| ChatMessage::new(role, t.value))
                .ok_or_else(|| {
                    Error::parse(
                        format!("{location}: conversations[{i}].from"),
                        format!("unknown speaker {:?}", t.from),
                    )
                })
        })
        .collect()
}

/// Parses ShareGPT data: a JSON array of `{"conversations": [{"from", "value"}]}` records, or
/// one such record per line (JSON lines). `origin` names the source in errors.
pub fn parse_sharegpt(text: &str, origin: &str) -> Result<Vec<Vec<ChatMessage>>> {
    if text.trim_start().starts_with('[') {
        let records: Vec<Record> =
            serde_json::from_str(text).map_err(|e| Error::parse(origin, e.to_string()))?;
        return records
            .into_iter()
            .enumerate()
            .map(|(i, r)| record_messages(r, &format!("{origin}[{i}]")))
            .collect();
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let loc = format!("{origin}:{}", n + 1);
            let r: Record =
                serde_json::from_str(line).map_err(|e| Error::parse(loc.clone(), e.to_string()))?;
            record_messages(r, &loc)
        })
        .collect()
}

/// Reads a ShareGPT file (see [`parse_sharegpt`]).
pub fn load_sharegpt(path: &Path) -> Result<Vec<Vec<ChatMessage>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_sharegpt(&text, &path.display().to_string())
}

/// Tokenizes a conversation turn by turn with the chat template: each turn's text is the
/// difference between the template rendered up to it and up to the turn before, so assistant
/// spans are known exactly. For an assistant turn the generation prompt (role header) is
/// untrained; its content and end-of-turn marker are trained.
pub fn tokenize_conversation(tok: &dyn Tokenizer, messages: &[ChatMessage]) -> Result<SftExample> {
    let mut ex = SftExample {
        tokens: Vec::new(),
        loss_mask: Vec::new(),
    };
    let mut prev = String::new();
    let mut push = |prev: &mut String, next: String, trained: bool, i: usize| -> Result<()> {
        let delta = next.strip_prefix(prev.as_str()).ok_or_else(|| {
            Error::Usage(format!("chat template: rendering up to message {i} does not extend the rendering before it"))
        })?;
        let ids = tok.encode(delta)?;
        ex.loss_mask.extend(std::iter::repeat_n(trained, ids.len()));
        ex.tokens.extend(ids);
        *prev = next;
        Ok(())
    };
    for i in 0..messages.len() {
        if messages[i].role == Role::Assistant {
            push(
                &mut prev,
                tok.apply_chat_template(&messages[..i], true)?,
                false,
                i,
            )?;
            push(
                &mut prev,
                tok.apply_chat_template(&messages[..=i], false)?,
                true,
                i,
            )?;
        } else {
            push(
                &mut prev,
                tok.apply_chat_template(&messages[..=i], false)?,
                false,
                i,
            )?;
        }
    }
    if !ex.loss_mask.iter().any(|&m| m) {
        return Err(Error::Usage(
            "conversation has no assistant token to train on".into(),
        ));
    }
    Ok(ex)
}

/// A generated demonstration: the trajectory of `leaf`, trained on its model-written tokens
/// (prompt and tool results untrained), e.g. a rollout that the reward accepted.
pub fn example_from_leaf(tree: &RolloutTree, leaf: usize) -> SftExample {
    let segs = tree.leaf_segments(leaf);
    SftExample {
        tokens: segs.iter().flat_map(|s| s.tokens.iter().copied()).collect(),
        loss_mask: segs
            .iter()
            .flat_map(|s| s.tokens.iter().map(move |_| s.origin == Origin::Model))
            .collect(),
    }
}

/// Masked cross-entropy, mean over the trained tokens of the batch, and the number of those.
///
/// # Shapes
/// returns `[1]`
pub fn sft_loss<B: Backend>(
    model: &CausalLm<B>,
    batch: &[&SftExample],
) -> Result<(Tensor<B, 1>, usize)> {
    if let Some(bad) = batch
        .iter()
        .position(|e| e.tokens.len() < 2 || e.tokens.len() != e.loss_mask.len())
    {
        return Err(Error::Usage(format!(
            "SFT example {bad} is shorter than 2 tokens or its mask does not match"
        )));
    }
    let device = model.device();
    let rows: Vec<Vec<u32>> = batch.iter().map(|e| e.tokens.clone()).collect();
    let padded = PaddedBatch::<B>::new(&rows, &device)?;
    let [b, s] = padded.tokens.dims();
    let lp = token_logprobs(model, padded.tokens, 1.0, false)?.logprobs;
    // Target t + 1 is predicted at position t; padding and untrained targets get weight 0.
    let mut mask = vec![0.0f32; b * (s - 1)];
    for (r, e) in batch.iter().enumerate() {
        for (t, &m) in e.loss_mask.iter().enumerate().skip(1) {
            mask[r * (s - 1) + t - 1] = if m { 1.0 } else { 0.0 };
        }
    }
    let n = mask.iter().filter(|&&m| m > 0.0).count();
    if n == 0 {
        return Err(Error::Usage("SFT batch has no trained token".into()));
    }
    let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [b, s - 1]), &device);
    Ok((lp.mul(mask).sum().neg().div_scalar(n as f64), n))
}
