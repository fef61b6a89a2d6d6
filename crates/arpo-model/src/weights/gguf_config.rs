//! A [`ModelConfig`] built from GGUF metadata (`{arch}.*` keys as llama.cpp's converter writes
//! them) and from which tensors the file holds.

use super::gguf_file::GgufFile;
use crate::config::EosTokenId;
use crate::{Architecture, Error, ModelConfig, Result};

/// Builds the config of a `llama`, `qwen2` or `qwen3` GGUF file.
pub(crate) fn config_from_gguf(file: &GgufFile) -> Result<ModelConfig> {
    let path = file.path.display().to_string();
    let meta = &file.metadata;
    let arch_name = meta.architecture().ok_or_else(|| Error::Parse {
        location: format!("{path}: general.architecture"),
        message: "missing".into(),
    })?;
    let architecture = match arch_name {
        "llama" => Architecture::Llama,
        "qwen2" => Architecture::Qwen2,
        "qwen3" => Architecture::Qwen3,
        other => {
            return Err(Error::Unsupported(format!(
                "{path}: GGUF architecture `{other}` (supported: llama, qwen2, qwen3)"
            )))
        }
    };
    let key = |k: &str| format!("{arch_name}.{k}");
    let required = |k: &str| -> Result<usize> {
        let full = key(k);
        meta.get_u64(&full)
            .map(|v| v as usize)
            .ok_or_else(|| Error::Parse {
                location: format!("{path}: {full}"),
                message: "missing or not an unsigned integer".into(),
            })
    };

    // Llama-3 RoPE scaling is baked into a `rope_freqs` tensor and other schemes into
    // `rope.scaling.*` keys; neither maps onto this crate's config, and ignoring them would give
    // silently wrong outputs.
    if file.tensor("rope_freqs.weight").is_some() {
        return Err(Error::Unsupported(format!(
            "{path}: RoPE frequency factors (`rope_freqs.weight`)"
        )));
    }
    if let Some(kind) = meta
        .get_str(&key("rope.scaling.type"))
        .filter(|t| *t != "none")
    {
        return Err(Error::Unsupported(format!(
            "{path}: {}: `{kind}`",
            key("rope.scaling.type")
        )));
    }

    let hidden_size = required("embedding_length")?;
    let num_attention_heads = required("attention.head_count")?;
    let vocab_size = match file.tensor("token_embd.weight") {
        // The embedding decides the logit width; metadata may be absent or count tokens only.
        Some(t) if t.dims.len() == 2 => t.dims[1],
        _ => meta
            .get_u64(&key("vocab_size"))
            .map(|v| v as usize)
            .or_else(|| meta.get_array("tokenizer.ggml.tokens").map(<[_]>::len))
            .ok_or_else(|| Error::Parse {
                location: format!("{path}: {}", key("vocab_size")),
                message: "missing".into(),
            })?,
    };
    let head_dim = meta
        .get_u64(&key("attention.key_length"))
        .map(|v| v as usize);
    let has_q_bias = file.tensor("blk.0.attn_q.bias").is_some();
    let config = ModelConfig {
        architecture,
        vocab_size,
        hidden_size,
        intermediate_size: required("feed_forward_length")?,
        num_hidden_layers: required("block_count")?,
        num_attention_heads,
        num_key_value_heads: Some(
            meta.get_u64(&key("attention.head_count_kv"))
                .map_or(num_attention_heads, |v| v as usize),
        ),
        head_dim,
        rms_norm_eps: meta
            .get_f64(&key("attention.layer_norm_rms_epsilon"))
            .unwrap_or(1e-6),
        rope_theta: meta.get_f64(&key("rope.freq_base")).unwrap_or(10_000.0),
        rope_scaling: None,
        rope_parameters: None,
        max_position_embeddings: meta
            .get_u64(&key("context_length"))
            .map_or(4096, |v| v as usize),
        tie_word_embeddings: file.tensor("output.weight").is_none(),
        attention_bias: architecture == Architecture::Qwen2 || has_q_bias,
        bos_token_id: meta
            .get_u64("tokenizer.ggml.bos_token_id")
            .map(|v| v as u32),
        eos_token_id: meta
            .get_u64("tokenizer.ggml.eos_token_id")
            .map(|v| EosTokenId::One(v as u32)),
    };
    config.validate(&path)?;
    Ok(config)
}
