//! Export of trained weights as an HF model folder (`model.safetensors` + `config.json`) that
//! transformers loads: HF tensor names, HF shapes (`[out, in]` for linear weights, which the
//! model stores `[in, out]`), f32.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use arpo_model::model::{Attention, DecoderLayer, Mlp};
use arpo_model::norm::RmsNorm;
use arpo_model::CausalLm;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};
use safetensors::tensor::{Dtype, TensorView};

use crate::loss::host;
use crate::{Error, Result};

/// Named host tensors in HF layout.
struct Named(Vec<(String, Vec<usize>, Vec<u8>)>);

impl Named {
    fn push<B: Backend, const D: usize>(&mut self, name: String, t: Tensor<B, D>) -> Result<()> {
        let shape = t.dims().to_vec();
        let bytes = host(t)?.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.0.push((name, shape, bytes));
        Ok(())
    }

    /// burn `[in, out]` → HF `[out, in]`, plus the bias.
    fn linear<B: Backend>(&mut self, name: &str, l: &Linear<B>) -> Result<()> {
        self.push(format!("{name}.weight"), l.weight.val().transpose())?;
        if let Some(b) = &l.bias {
            self.push(format!("{name}.bias"), b.val())?;
        }
        Ok(())
    }

    fn norm<B: Backend>(&mut self, name: &str, n: &RmsNorm<B>) -> Result<()> {
        self.push(format!("{name}.weight"), n.weight.val())
    }

    fn attention<B: Backend>(&mut self, pre: &str, a: &Attention<B>) -> Result<()> {
        for (n, l) in [
            ("q_proj", &a.q_proj),
            ("k_proj", &a.k_proj),
            ("v_proj", &a.v_proj),
            ("o_proj", &a.o_proj),
        ] {
            self.linear(&format!("{pre}.{n}"), l)?;
        }
        if let (Some(q), Some(k)) = (&a.q_norm, &a.k_norm) {
            self.norm(&format!("{pre}.q_norm"), q)?;
            self.norm(&format!("{pre}.k_norm"), k)?;
        }
        Ok(())
    }

    fn mlp<B: Backend>(&mut self, pre: &str, m: &Mlp<B>) -> Result<()> {
        self.linear(&format!("{pre}.gate_proj"), &m.gate_proj)?;
        self.linear(&format!("{pre}.up_proj"), &m.up_proj)?;
        self.linear(&format!("{pre}.down_proj"), &m.down_proj)
    }

    fn layer<B: Backend>(&mut self, i: usize, l: &DecoderLayer<B>) -> Result<()> {
        let pre = format!("model.layers.{i}");
        self.attention(&format!("{pre}.self_attn"), &l.self_attn)?;
        self.mlp(&format!("{pre}.mlp"), &l.mlp)?;
        self.norm(&format!("{pre}.input_layernorm"), &l.input_layernorm)?;
        self.norm(
            &format!("{pre}.post_attention_layernorm"),
            &l.post_attention_layernorm,
        )
    }
}

/// The HF `config.json` of `model`: the model's own config fields plus `architectures`,
/// `model_type` and `torch_dtype`; absent options are left out rather than written as null.
pub fn hf_config_json<B: Backend>(model: &CausalLm<B>) -> Result<serde_json::Value> {
    let arch = model.config.architecture;
    let mut v = serde_json::to_value(&model.config)
        .map_err(|e| Error::Usage(format!("config.json: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::Usage("config.json: not an object".into()))?;
    obj.remove("architecture");
    obj.retain(|_, x| !x.is_null());
    obj.insert("architectures".into(), serde_json::json!([arch.hf_name()]));
    obj.insert("model_type".into(), arch.model_type().into());
    obj.insert("torch_dtype".into(), "float32".into());
    Ok(v)
}

/// Writes `model.safetensors` and `config.json` of `model` into `dir` (created if missing).
pub fn export_hf<B: Backend>(model: &CausalLm<B>, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut named = Named(Vec::new());
    named.push(
        "model.embed_tokens.weight".into(),
        model.model.embed_tokens.weight.val(),
    )?;
    for (i, layer) in model.model.layers.iter().enumerate() {
        named.layer(i, layer)?;
    }
    named.norm("model.norm", &model.model.norm)?;
    if let Some(head) = &model.lm_head {
        named.linear("lm_head", head)?;
    }
    let views = named
        .0
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::Usage(format!("safetensors {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let path = dir.join("model.safetensors");
    safetensors::tensor::serialize_to_file(views, Some(meta), &path)
        .map_err(|e| Error::parse(path.display().to_string(), e.to_string()))?;
    let config = hf_config_json(model)?;
    let cpath = dir.join("config.json");
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| Error::Usage(format!("config.json: {e}")))?;
    fs::write(&cpath, text).map_err(|e| Error::io(&cpath, e))
}
