//! arpo-model: the policy network. A decoder-only transformer for the Llama, Qwen2, Qwen3 and
//! SmolLM families on any burn backend, its weights (HF safetensors, GGUF), tokenizers and chat
//! templates, a forkable KV cache, and a sampler that reports log-prob and exact entropy.

pub mod activation;
pub mod cache;
pub mod config;
mod error;
pub mod few_rows;
#[cfg(feature = "flex")]
mod flex_cpu;
pub mod fused_attention;
pub mod generate;
#[cfg(feature = "flex")]
mod kept_blocks;
pub mod load;
pub mod logprob;
#[cfg(feature = "flex")]
pub mod many_rows;
pub mod model;
pub mod norm;
mod policy;
mod pool;
pub mod rope;
pub mod sampler;
pub mod tokenizer;
pub mod weights;

pub use cache::KvCache;
pub use config::{Architecture, ModelConfig, RopeScaling};
pub use error::{Error, Result};
pub use generate::{generate, GenerateConfig, GenerateTimings, Generated};
pub use load::{from_scratch, from_weights, load_model};
pub use logprob::{token_logprobs, TokenLogprobs};
pub use model::{attention_mask, CausalLm, PaddedBatch};
pub use sampler::{sample, SampledToken, SamplingConfig};
