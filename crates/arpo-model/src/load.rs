//! Building a [`CausalLm`] on a device: from a checkpoint ([`WeightSource`]) or from scratch with
//! a seeded initialisation (tiny models for tests and the quickstart).

use std::path::Path;

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{Attention, CausalLm, Decoder, DecoderLayer, Mlp};
use crate::norm::RmsNorm;
use crate::rope::Rotary;
use crate::weights::{self, load_checked, HostTensor, QuantRows, WeightSource};
use crate::{Error, ModelConfig, Result};

/// Where weights come from when a model is built.
trait WeightProvider<B: Backend> {
    /// A matrix with HF shape `[rows, cols]`.
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<HostTensor>;
    /// A vector of length `len`; `fill` is the from-scratch value (1 for norms, 0 for biases).
    fn vector(&mut self, name: &str, len: usize, fill: f32) -> Result<HostTensor>;
    fn device(&self) -> &B::Device;
    /// The matrix `name` in its stored block form, if the checkpoint has one (read only by the
    /// CPU backend's kernels).
    #[cfg_attr(not(feature = "flex"), allow(dead_code))]
    fn quant_rows(&mut self, _name: &str) -> Result<Option<QuantRows>> {
        Ok(None)
    }
}

struct FromCheckpoint<'a, B: Backend> {
    source: &'a dyn WeightSource,
    device: &'a B::Device,
}

impl<B: Backend> WeightProvider<B> for FromCheckpoint<'_, B> {
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<HostTensor> {
        load_checked(self.source, name, &[rows, cols])
    }
    fn vector(&mut self, name: &str, len: usize, _fill: f32) -> Result<HostTensor> {
        load_checked(self.source, name, &[len])
    }
    fn device(&self) -> &B::Device {
        self.device
    }
    fn quant_rows(&mut self, name: &str) -> Result<Option<QuantRows>> {
        self.source.quant_rows(name)
    }
}

/// HF's initialisation: normal(0, std) matrices, norms at 1, biases at 0; drawn on the host from
/// a seeded ChaCha stream so that every backend gets the same model.
struct FromScratch<'a, B: Backend> {
    rng: ChaCha8Rng,
    std: f32,
    device: &'a B::Device,
}

impl<B: Backend> WeightProvider<B> for FromScratch<'_, B> {
    fn matrix(&mut self, _name: &str, rows: usize, cols: usize) -> Result<HostTensor> {
        let data = (0..rows * cols)
            .map(|_| normal(&mut self.rng) * self.std)
            .collect();
        Ok(HostTensor {
            shape: vec![rows, cols],
            data,
        })
    }
    fn vector(&mut self, _name: &str, len: usize, fill: f32) -> Result<HostTensor> {
        Ok(HostTensor {
            shape: vec![len],
            data: vec![fill; len],
        })
    }
    fn device(&self) -> &B::Device {
        self.device
    }
}

/// Standard normal draw (Box–Muller), enough for initialisation.
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn tensor1<B: Backend>(t: HostTensor, device: &B::Device) -> Tensor<B, 1> {
    let n = t.data.len();
    Tensor::from_data(TensorData::new(t.data, [n]), device)
}

/// HF `[out, in]` → burn `[in, out]` as a transposed view: the memory keeps the checkpoint's
/// layout, where each output's weights are one contiguous row, which is the order the
/// few-row decoding kernel streams them in (`few_rows`); matrix products read the view in
/// place.
fn transposed<B: Backend>(t: HostTensor, device: &B::Device) -> Tensor<B, 2> {
    let (rows, cols) = (t.shape[0], t.shape[1]);
    Tensor::<B, 2>::from_data(TensorData::new(t.data, [rows, cols]), device).transpose()
}

/// Keeps the stored blocks of matrix `name` beside its f32 `weight` for the decoding kernel
/// (`kept_blocks`; CPU backend only).
fn keep_blocks<B: Backend>(
    p: &mut dyn WeightProvider<B>,
    name: &str,
    weight: &Tensor<B, 2>,
) -> Result<()> {
    #[cfg(feature = "flex")]
    if let Some(rows) = p.quant_rows(name)? {
        crate::kept_blocks::keep(weight, rows);
    }
    #[cfg(not(feature = "flex"))]
    let _ = (p, name, weight);
    Ok(())
}

fn linear<B: Backend>(
    p: &mut dyn WeightProvider<B>,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    bias: bool,
) -> Result<Linear<B>> {
    let device = p.device().clone();
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .init::<B>(&device);
    let name = format!("{prefix}.weight");
    let weight = transposed(p.matrix(&name, d_out, d_in)?, &device);
    keep_blocks(p, &name, &weight)?;
    layer.weight = Param::from_tensor(weight);
    if bias {
        layer.bias = Some(Param::from_tensor(tensor1(
            p.vector(&format!("{prefix}.bias"), d_out, 0.0)?,
            &device,
        )));
    }
    Ok(layer)
}

fn norm<B: Backend>(
    p: &mut dyn WeightProvider<B>,
    name: &str,
    dim: usize,
    eps: f64,
) -> Result<RmsNorm<B>> {
    let device = p.device().clone();
    let mut n = RmsNorm::new(dim, eps, &device);
    n.weight = Param::from_tensor(tensor1(
        p.vector(&format!("{name}.weight"), dim, 1.0)?,
        &device,
    ));
    Ok(n)
}

fn build<B: Backend>(
    config: &ModelConfig,
    p: &mut dyn WeightProvider<B>,
    max_context: usize,
) -> Result<CausalLm<B>> {
    config.validate("model config")?;
    let device = p.device().clone();
    let (d, hd, eps) = (config.hidden_size, config.head_dim(), config.rms_norm_eps);
    let (heads, kv_heads) = (config.num_attention_heads, config.kv_heads());
    let mut embed_tokens: Embedding<B> = EmbeddingConfig::new(config.vocab_size, d).init(&device);
    let embed = p.matrix("model.embed_tokens.weight", config.vocab_size, d)?;
    let embed = Tensor::from_data(TensorData::new(embed.data, [config.vocab_size, d]), &device);
    // A tied head reads the embedding as its weight.
    keep_blocks(p, "model.embed_tokens.weight", &embed)?;
    embed_tokens.weight = Param::from_tensor(embed);
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for i in 0..config.num_hidden_layers {
        let pre = format!("model.layers.{i}");
        let attn = format!("{pre}.self_attn");
        let bias = config.attention_bias;
        let (q_norm, k_norm) = if config.qk_norm() {
            (
                Some(norm(p, &format!("{attn}.q_norm"), hd, eps)?),
                Some(norm(p, &format!("{attn}.k_norm"), hd, eps)?),
            )
        } else {
            (None, None)
        };
        let self_attn = Attention {
            q_proj: linear(p, &format!("{attn}.q_proj"), d, heads * hd, bias)?,
            k_proj: linear(p, &format!("{attn}.k_proj"), d, kv_heads * hd, bias)?,
            v_proj: linear(p, &format!("{attn}.v_proj"), d, kv_heads * hd, bias)?,
            o_proj: linear(p, &format!("{attn}.o_proj"), heads * hd, d, false)?,
            q_norm,
            k_norm,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim: hd,
        };
        let mlp = Mlp {
            gate_proj: linear(
                p,
                &format!("{pre}.mlp.gate_proj"),
                d,
                config.intermediate_size,
                false,
            )?,
            up_proj: linear(
                p,
                &format!("{pre}.mlp.up_proj"),
                d,
                config.intermediate_size,
                false,
            )?,
            down_proj: linear(
                p,
                &format!("{pre}.mlp.down_proj"),
                config.intermediate_size,
                d,
                false,
            )?,
        };
        layers.push(DecoderLayer {
            self_attn,
            mlp,
            input_layernorm: norm(p, &format!("{pre}.input_layernorm"), d, eps)?,
            post_attention_layernorm: norm(p, &format!("{pre}.post_attention_layernorm"), d, eps)?,
        });
    }
    let norm_final = norm(p, "model.norm", d, eps)?;
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(linear(p, "lm_head", d, config.vocab_size, false)?)
    };
    let max_positions = max_context.min(config.max_position_embeddings).max(1);
    Ok(CausalLm {
        model: Decoder {
            embed_tokens,
            layers,
            norm: norm_final,
        },
        lm_head,
        rotary: Rotary::new(config, max_positions, &device),
        config: config.clone(),
    })
}

/// Builds a model from checkpoint tensors. `max_context` caps the RoPE table (and so the longest
/// sequence) below `max_position_embeddings`, which can be very large.
pub fn from_weights<B: Backend>(
    config: &ModelConfig,
    source: &dyn WeightSource,
    max_context: usize,
    device: &B::Device,
) -> Result<CausalLm<B>> {
    build(config, &mut FromCheckpoint { source, device }, max_context)
}

/// Builds a freshly initialised model (normal(0, 0.02) matrices, unit norms, zero biases) from a
/// seed; the same seed gives the same weights on every backend.
pub fn from_scratch<B: Backend>(
    config: &ModelConfig,
    seed: u64,
    device: &B::Device,
) -> Result<CausalLm<B>> {
    let mut provider = FromScratch {
        rng: ChaCha8Rng::seed_from_u64(seed),
        std: 0.02,
        device,
    };
    build(config, &mut provider, config.max_position_embeddings)
}

/// Opens an HF model folder or a `.gguf` file and builds the model on `device`.
pub fn load_model<B: Backend>(
    path: &Path,
    max_context: usize,
    device: &B::Device,
) -> Result<CausalLm<B>> {
    if path.is_dir() {
        let (config, source) = weights::open_hf_folder(path)?;
        from_weights(&config, source.as_ref(), max_context, device)
    } else if path.extension().is_some_and(|e| e == "gguf") {
        let (config, source, _) = weights::open_gguf(path)?;
        from_weights(&config, source.as_ref(), max_context, device)
    } else {
        Err(Error::Unsupported(format!(
            "{}: expected an HF model folder or a .gguf file",
            path.display()
        )))
    }
}
