//! HF export: a tiny model trained a few steps from a fixed seed is exported as safetensors +
//! config.json; transformers loads the folder and its logits (computed by
//! scripts/train/check_export.py, committed as a fixture) equal ours.
//!
//! Regenerate the fixture: `ARPO_EXPORT_DIR=/tmp/arpo-export cargo test -p arpo-train --test
//! export`, then `/work/pyref/bin/python scripts/train/check_export.py /tmp/arpo-export
//! crates/arpo-train/tests/fixtures/export_logits.json`.

use arpo_model::{from_scratch, CausalLm, ModelConfig};
use arpo_train::export::export_hf;
use arpo_train::optim::{LrSchedule, Optim, OptimizerConfig};
use arpo_train::sft::{sft_loss, SftExample};
use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use serde::Deserialize;

type B = Autodiff<Flex>;

#[derive(Deserialize)]
struct Fixture {
    tokens: Vec<i64>,
    vocab: usize,
    logits: Vec<Vec<f32>>,
    max_abs_diff_vs_ours: f64,
}

/// From scratch (seed 21), untied head so that `lm_head` is exported too, then 4 AdamW steps
/// of SFT on fixed sequences so that norms and weights move off their initial values.
fn trained() -> CausalLm<B> {
    let mut config = ModelConfig::small(64, 32, 2);
    config.tie_word_embeddings = false;
    let mut model: CausalLm<B> = from_scratch(&config, 21, &Default::default()).unwrap();
    let data: Vec<SftExample> = (0..4u32)
        .map(|k| SftExample {
            tokens: (0..10).map(|i| (i * 7 + k * 3) % 64).collect(),
            loss_mask: (0..10).map(|i| i > 2).collect(),
        })
        .collect();
    let batch: Vec<&SftExample> = data.iter().collect();
    let mut optim = Optim::new(
        OptimizerConfig {
            lr: 1e-2,
            weight_decay: 0.1,
            ..Default::default()
        },
        LrSchedule::Constant,
    );
    for _ in 0..4 {
        let (loss, _) = sft_loss(&model, &batch).unwrap();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(model, grads).0;
    }
    model
}

#[test]
fn exported_model_gives_transformers_the_same_logits() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/export_logits.json")).unwrap();
    let model = trained();
    let dir = tempfile::tempdir().unwrap();
    export_hf(&model, dir.path()).unwrap();
    let n = fixture.tokens.len();
    let tokens = Tensor::<B, 2, Int>::from_data(
        TensorData::new(fixture.tokens.clone(), [1, n]),
        &Default::default(),
    );
    let ours = model
        .forward(tokens)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    if let Ok(out) = std::env::var("ARPO_EXPORT_DIR") {
        export_hf(&model, std::path::Path::new(&out)).unwrap();
        let json = serde_json::json!({ "tokens": fixture.tokens, "logits": ours.chunks(fixture.vocab).collect::<Vec<_>>() });
        std::fs::write(
            std::path::Path::new(&out).join("ours.json"),
            json.to_string(),
        )
        .unwrap();
    }
    let theirs: Vec<f32> = fixture.logits.iter().flatten().copied().collect();
    assert_eq!(theirs.len(), ours.len());
    let diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff <= 1e-4, "logits differ from transformers by {diff}");
    assert!(fixture.max_abs_diff_vs_ours <= 1e-4);
    eprintln!("transformers vs ours on the exported model: max |Δlogit| = {diff:.2e}");

    // HF names and [out, in] shapes in the file.
    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let shape = |name: &str| st.tensor(name).unwrap().shape().to_vec();
    assert_eq!(shape("model.embed_tokens.weight"), vec![64, 32]);
    assert_eq!(shape("lm_head.weight"), vec![64, 32]);
    assert_eq!(
        shape("model.layers.1.self_attn.k_proj.weight"),
        vec![16, 32]
    );
    assert_eq!(shape("model.layers.0.mlp.gate_proj.weight"), vec![85, 32]);
    assert_eq!(shape("model.layers.0.mlp.down_proj.weight"), vec![32, 85]);
    assert_eq!(st.names().len(), 1 + 2 * 9 + 1 + 1);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "LlamaForCausalLM");
    assert_eq!(config["num_key_value_heads"], 2);
}
