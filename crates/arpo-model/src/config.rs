//! Model configuration, read from an HF `config.json` (field names are HF's own).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Architectures this crate implements; all are decoder-only with RMSNorm, RoPE, GQA and SwiGLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// `LlamaForCausalLM` (also SmolLM / SmolLM2).
    Llama,
    /// `Qwen2ForCausalLM`: bias on q/k/v projections.
    Qwen2,
    /// `Qwen3ForCausalLM`: RMSNorm on q and k per head, no q/k/v bias.
    Qwen3,
}

impl Architecture {
    /// Maps an HF `architectures[0]` or `model_type` value.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "LlamaForCausalLM" | "llama" | "MistralForCausalLM" | "mistral" => Some(Self::Llama),
            "Qwen2ForCausalLM" | "qwen2" => Some(Self::Qwen2),
            "Qwen3ForCausalLM" | "qwen3" => Some(Self::Qwen3),
            _ => None,
        }
    }

    /// The HF `architectures[0]` name, used when exporting checkpoints.
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
            Self::Qwen3 => "Qwen3ForCausalLM",
        }
    }

    /// The HF `model_type` value.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }
}

/// RoPE scaling as in HF `rope_scaling` (only the Llama-3 scheme changes frequencies here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// `"llama3"` or `"default"`; other types are rejected when the model is built.
    #[serde(alias = "type")]
    pub rope_type: String,
    /// Overall scale factor.
    #[serde(default = "one")]
    pub factor: f64,
    /// Llama-3: wavelengths shorter than `original / high_freq_factor` are kept.
    #[serde(default = "one")]
    pub low_freq_factor: f64,
    /// Llama-3: wavelengths longer than `original / low_freq_factor` are divided by `factor`.
    #[serde(default = "four")]
    pub high_freq_factor: f64,
    /// Llama-3: the context length the model was pre-trained with.
    #[serde(default = "default_original_ctx")]
    pub original_max_position_embeddings: usize,
}

fn one() -> f64 {
    1.0
}
fn four() -> f64 {
    4.0
}
fn default_original_ctx() -> usize {
    8192
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_eps() -> f64 {
    1e-6
}
fn default_max_pos() -> usize {
    4096
}

/// The subset of an HF `config.json` that defines the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Which family (from `architectures[0]` or `model_type`).
    #[serde(skip_deserializing, default = "default_arch")]
    pub architecture: Architecture,
    /// Embedding rows (logit width).
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads` (Qwen3 sets it).
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Optional RoPE scaling.
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// transformers ≥ 5 writes `rope_theta` and the scaling here instead; folded into
    /// `rope_theta` / `rope_scaling` on parse.
    #[serde(default, skip_serializing)]
    pub rope_parameters: Option<serde_json::Value>,
    /// Longest supported context.
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v projections (Qwen2: true; Llama: `attention_bias`, usually false).
    #[serde(default)]
    pub attention_bias: bool,
    /// BOS token id, if any.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// EOS token id(s).
    #[serde(default)]
    pub eos_token_id: Option<EosTokenId>,
}

/// HF allows one EOS id or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EosTokenId {
    /// A single id.
    One(u32),
    /// Several ids.
    Many(Vec<u32>),
}

impl EosTokenId {
    /// All ids as a list.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![*id],
            Self::Many(ids) => ids.clone(),
        }
    }
}

fn default_arch() -> Architecture {
    Architecture::Llama
}

#[derive(Deserialize)]
struct ArchProbe {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
}

impl ModelConfig {
    /// Parses an HF `config.json`; `source` names the file in errors.
    pub fn from_hf_json(json: &str, source: &str) -> Result<Self> {
        let probe: ArchProbe = serde_json::from_str(json).map_err(|e| Error::Parse {
            location: source.to_string(),
            message: e.to_string(),
        })?;
        let names: Vec<&str> = probe
            .architectures
            .iter()
            .map(String::as_str)
            .chain(probe.model_type.as_deref())
            .collect();
        let architecture = names
            .iter()
            .find_map(|n| Architecture::from_hf_name(n))
            .ok_or_else(|| Error::Unsupported(format!("{source}: architecture {names:?}")))?;
        let mut config: ModelConfig = serde_json::from_str(json).map_err(|e| Error::Parse {
            location: source.to_string(),
            message: e.to_string(),
        })?;
        config.architecture = architecture;
        if let Some(params) = config.rope_parameters.take() {
            config.fold_rope_parameters(params, source)?;
        }
        if architecture == Architecture::Qwen2 {
            // Qwen2 always has q/k/v bias; its config.json does not say so.
            config.attention_bias = true;
        }
        config.validate(source)?;
        Ok(config)
    }

    /// Reads and parses `path` (an HF `config.json`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_hf_json(&text, &path.display().to_string())
    }

    fn fold_rope_parameters(&mut self, params: serde_json::Value, source: &str) -> Result<()> {
        let location = format!("{source}: rope_parameters");
        if let Some(theta) = params.get("rope_theta") {
            self.rope_theta = theta.as_f64().ok_or_else(|| Error::Parse {
                location: location.clone(),
                message: "rope_theta is not a number".into(),
            })?;
        }
        let rope_type = params
            .get("rope_type")
            .or_else(|| params.get("type"))
            .and_then(|t| t.as_str());
        if rope_type.is_some_and(|t| t != "default") {
            let scaling: RopeScaling =
                serde_json::from_value(params).map_err(|e| Error::Parse {
                    location,
                    message: e.to_string(),
                })?;
            self.rope_scaling = Some(scaling);
        }
        Ok(())
    }

    /// A small Llama-style configuration for from-scratch models (tests, the quickstart):
    /// `hidden` wide, `layers` deep, 4 query and 2 key/value heads, tied head.
    pub fn small(vocab_size: usize, hidden: usize, layers: usize) -> Self {
        Self {
            architecture: Architecture::Llama,
            vocab_size,
            hidden_size: hidden,
            intermediate_size: hidden * 8 / 3,
            num_hidden_layers: layers,
            num_attention_heads: 4,
            num_key_value_heads: Some(2),
            head_dim: None,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            rope_scaling: None,
            rope_parameters: None,
            max_position_embeddings: 2048,
            tie_word_embeddings: true,
            attention_bias: false,
            bos_token_id: None,
            eos_token_id: None,
        }
    }

    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// Whether q and k get a per-head RMSNorm (Qwen3).
    pub fn qk_norm(&self) -> bool {
        self.architecture == Architecture::Qwen3
    }

    /// Checks the shape relations the network relies on; `source` names the file in errors.
    pub fn validate(&self, source: &str) -> Result<()> {
        let field = |name: &str, msg: String| Error::Parse {
            location: format!("{source}: {name}"),
            message: msg,
        };
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
        ] {
            if v == 0 {
                return Err(field(name, "must be positive".into()));
            }
        }
        if self.kv_heads() == 0 || !self.num_attention_heads.is_multiple_of(self.kv_heads()) {
            return Err(field(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.kv_heads(),
                    self.num_attention_heads
                ),
            ));
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(field(
                "hidden_size",
                "not a multiple of num_attention_heads".into(),
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(field("head_dim", "must be even for RoPE".into()));
        }
        if let Some(s) = &self.rope_scaling {
            if !matches!(s.rope_type.as_str(), "llama3" | "default") {
                return Err(Error::Unsupported(format!(
                    "{source}: rope_scaling type {:?}",
                    s.rope_type
                )));
            }
        }
        Ok(())
    }
}
