//! GGUF tensors as a [`WeightSource`]: llama.cpp names mapped to HF names, ggml dims reversed to
//! HF order, data dequantised to f32, and the q/k row permutation of llama.cpp's `llama`
//! converter undone so the weights equal the HF checkpoint's.

use std::collections::BTreeMap;

use super::gguf_file::{GgufFile, GgufTensorInfo};
use super::quant_rows::{QuantRows, RowFormat, BLOCK};
use super::quants::{dequantize, is_supported};
use super::{HostTensor, WeightSource};
use crate::{Architecture, Error, ModelConfig, Result};

/// Per-layer tensor names: GGUF (llama.cpp `tensor_mapping.py`) → HF module path.
const LAYER_NAMES: &[(&str, &str)] = &[
    ("attn_q", "self_attn.q_proj"),
    ("attn_k", "self_attn.k_proj"),
    ("attn_v", "self_attn.v_proj"),
    ("attn_output", "self_attn.o_proj"),
    ("attn_q_norm", "self_attn.q_norm"),
    ("attn_k_norm", "self_attn.k_norm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_up", "mlp.up_proj"),
    ("ffn_down", "mlp.down_proj"),
    ("attn_norm", "input_layernorm"),
    ("ffn_norm", "post_attention_layernorm"),
];

/// The HF name of a GGUF tensor name, or `None` if it has no HF counterpart (e.g. `rope_freqs`).
pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    let (stem, suffix) = name.rsplit_once('.')?;
    if !matches!(suffix, "weight" | "bias") {
        return None;
    }
    let hf = match stem {
        "token_embd" => "model.embed_tokens".to_string(),
        "output_norm" => "model.norm".to_string(),
        "output" => "lm_head".to_string(),
        _ => {
            let rest = stem.strip_prefix("blk.")?;
            let (layer, part) = rest.split_once('.')?;
            let layer: usize = layer.parse().ok()?;
            let (_, hf_part) = LAYER_NAMES.iter().find(|(g, _)| *g == part)?;
            format!("model.layers.{layer}.{hf_part}")
        }
    };
    Some(format!("{hf}.{suffix}"))
}

/// Which rows of a tensor llama.cpp permuted, and in how many heads.
#[derive(Debug, Clone, Copy)]
enum RowPermutation {
    None,
    /// `convert_hf_to_gguf.py` `LlamaModel.permute(w, n_head)`: per head, rows `[first half;
    /// second half]` (HF's rotate-half RoPE) were interleaved for ggml's pairwise RoPE.
    InterleavedRope {
        heads: usize,
    },
}

/// A GGUF file as a [`WeightSource`] under HF names.
pub struct GgufSource {
    file: GgufFile,
    /// HF name → index into `file.tensors`.
    by_hf_name: BTreeMap<String, usize>,
    /// `llama`-arch q/k permutation heads: (query heads, key/value heads).
    unpermute: Option<(usize, usize)>,
}

impl GgufSource {
    /// Wraps an opened file; `config` gives the head counts for undoing the q/k permutation.
    pub fn new(file: GgufFile, config: &ModelConfig) -> Result<Self> {
        let mut by_hf_name = BTreeMap::new();
        for (i, t) in file.tensors.iter().enumerate() {
            let name = gguf_to_hf_name(&t.name).unwrap_or_else(|| t.name.clone());
            if by_hf_name.insert(name.clone(), i).is_some() {
                return Err(Error::Parse {
                    location: file.path.display().to_string(),
                    message: format!("two tensors map to `{name}`"),
                });
            }
        }
        // Only the `llama` converter permutes (Qwen2/Qwen3 converters copy rows as they are).
        let llama = file.metadata.architecture() == Some("llama")
            && config.architecture == Architecture::Llama;
        let unpermute = llama.then(|| (config.num_attention_heads, config.kv_heads()));
        Ok(Self {
            file,
            by_hf_name,
            unpermute,
        })
    }

    fn info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.by_hf_name.get(name).map(|&i| &self.file.tensors[i])
    }

    fn permutation(&self, info: &GgufTensorInfo) -> RowPermutation {
        let Some((q_heads, kv_heads)) = self.unpermute else {
            return RowPermutation::None;
        };
        let stem = info
            .name
            .rsplit_once('.')
            .map_or(info.name.as_str(), |(s, _)| s);
        if stem.ends_with(".attn_q") {
            RowPermutation::InterleavedRope { heads: q_heads }
        } else if stem.ends_with(".attn_k") {
            RowPermutation::InterleavedRope { heads: kv_heads }
        } else {
            RowPermutation::None
        }
    }
}

/// Undoes llama.cpp's q/k permutation on row-major `data` with `shape[0]` rows.
///
/// llama.cpp stores HF row `h*hd + i*(hd/2) + j` (head `h`, half `i`, pair `j`) at
/// `h*hd + 2*j + i`; this gathers it back (transformers' `reverse_permute_weights`).
/// Generic over the element so that rows of quantisation blocks (bytes) move the same way.
fn unpermute_rows<T: Copy + Default>(
    data: &[T],
    shape: &[usize],
    heads: usize,
    what: &str,
) -> Result<Vec<T>> {
    let rows = shape.first().copied().unwrap_or(0);
    let row_len: usize = shape.iter().skip(1).product();
    if heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2) {
        return Err(Error::Parse {
            location: what.to_string(),
            message: format!("{rows} rows cannot be split into {heads} heads of even width"),
        });
    }
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![T::default(); data.len()];
    for (dst_row, dst) in out.chunks_exact_mut(row_len).enumerate() {
        let (h, within) = (dst_row / head_dim, dst_row % head_dim);
        let (i, j) = (within / half, within % half);
        let src_row = h * head_dim + 2 * j + i;
        dst.copy_from_slice(&data[src_row * row_len..(src_row + 1) * row_len]);
    }
    Ok(out)
}

impl WeightSource for GgufSource {
    fn names(&self) -> Vec<String> {
        self.by_hf_name.keys().cloned().collect()
    }

    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.info(name).map(GgufTensorInfo::hf_shape)
    }

    fn load(&self, name: &str) -> Result<HostTensor> {
        let info = self.info(name).ok_or_else(|| Error::MissingTensor {
            name: name.to_string(),
            checkpoint: self.describe(),
        })?;
        if !is_supported(info.ggml_type) {
            return Err(Error::Unsupported(format!(
                "{}: tensor `{}` ({name}) is stored as {}; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, \
                 Q5_1, Q8_0, Q4_K, Q5_K, Q6_K",
                self.describe(),
                info.name,
                info.ggml_type.name()
            )));
        }
        let bytes = self.file.tensor_bytes(info)?;
        let shape = info.hf_shape();
        let mut data = vec![0.0f32; info.numel()];
        dequantize(info.ggml_type, bytes, &mut data).map_err(|e| Error::Parse {
            location: format!("{}: tensor `{}`", self.describe(), info.name),
            message: e.to_string(),
        })?;
        if let RowPermutation::InterleavedRope { heads } = self.permutation(info) {
            let what = format!("{}: tensor `{}`", self.describe(), info.name);
            data = unpermute_rows(&data, &shape, heads, &what)?;
        }
        Ok(HostTensor { shape, data })
    }

    fn quant_rows(&self, name: &str) -> Result<Option<QuantRows>> {
        let Some(info) = self.info(name) else {
            return Ok(None);
        };
        let shape = info.hf_shape();
        let Some(format) = RowFormat::of(info.ggml_type) else {
            return Ok(None);
        };
        if shape.len() != 2 || !shape[1].is_multiple_of(BLOCK) {
            return Ok(None);
        }
        let what = format!("{}: tensor `{}`", self.describe(), info.name);
        let mut bytes = self.file.tensor_bytes(info)?.to_vec();
        let row_bytes = shape[1] / BLOCK * format.block_bytes();
        if let RowPermutation::InterleavedRope { heads } = self.permutation(info) {
            bytes = unpermute_rows(&bytes, &[shape[0], row_bytes], heads, &what)?;
        }
        QuantRows::new(format, shape[0], shape[1], bytes)
            .map(Some)
            .map_err(|e| Error::Parse {
                location: what,
                message: e.to_string(),
            })
    }

    fn describe(&self) -> String {
        self.file.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hf() {
        let cases = [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            ("blk.3.attn_q.bias", "model.layers.3.self_attn.q_proj.bias"),
            (
                "blk.12.attn_output.weight",
                "model.layers.12.self_attn.o_proj.weight",
            ),
            (
                "blk.0.attn_k_norm.weight",
                "model.layers.0.self_attn.k_norm.weight",
            ),
            (
                "blk.0.ffn_down.weight",
                "model.layers.0.mlp.down_proj.weight",
            ),
            (
                "blk.1.attn_norm.weight",
                "model.layers.1.input_layernorm.weight",
            ),
            (
                "blk.1.ffn_norm.weight",
                "model.layers.1.post_attention_layernorm.weight",
            ),
        ];
        for (g, hf) in cases {
            assert_eq!(gguf_to_hf_name(g).as_deref(), Some(hf), "{g}");
        }
        assert_eq!(gguf_to_hf_name("rope_freqs.weight"), None);
        assert_eq!(gguf_to_hf_name("blk.x.attn_q.weight"), None);
    }

    /// The forward permutation exactly as `convert_hf_to_gguf.py` writes it, in index form:
    /// `w.reshape(n_head, 2, hd/2, ...).swapaxes(1, 2)`.
    fn llama_cpp_permute(data: &[f32], rows: usize, row_len: usize, heads: usize) -> Vec<f32> {
        let hd = rows / heads;
        let mut out = vec![0.0; data.len()];
        for h in 0..heads {
            for i in 0..2 {
                for j in 0..hd / 2 {
                    let src = h * hd + i * (hd / 2) + j;
                    let dst = h * hd + j * 2 + i;
                    out[dst * row_len..(dst + 1) * row_len]
                        .copy_from_slice(&data[src * row_len..(src + 1) * row_len]);
                }
            }
        }
        out
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        let (heads, hd, row_len) = (3, 8, 5);
        let rows = heads * hd;
        let original: Vec<f32> = (0..rows * row_len).map(|x| x as f32).collect();
        let permuted = llama_cpp_permute(&original, rows, row_len, heads);
        assert_ne!(permuted, original);
        let back = unpermute_rows(&permuted, &[rows, row_len], heads, "t").unwrap();
        assert_eq!(back, original);
        // A bias is the one-column case.
        let bias: Vec<f32> = (0..rows).map(|x| x as f32).collect();
        let back = unpermute_rows(
            &llama_cpp_permute(&bias, rows, 1, heads),
            &[rows],
            heads,
            "b",
        )
        .unwrap();
        assert_eq!(back, bias);
        assert!(unpermute_rows(&bias, &[rows], 5, "b").is_err());
    }
}
