//! HF safetensors loading: a two-shard F16 / BF16 / F32 checkpoint against the float32 values
//! torch gives for the same tensors (scripts/reference/weight_fixtures.py), and a single-file
//! folder opened with its config.

use std::path::PathBuf;

use arpo_model::weights::{open_hf_folder, HfSafetensors, WeightSource};
use arpo_model::Architecture;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights")
}

#[test]
fn sharded_half_precision_equals_torch() {
    let src = HfSafetensors::open(&fixtures().join("sharded")).expect("open sharded");
    let text = std::fs::read_to_string(fixtures().join("sharded_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let tensors = expected["tensors"].as_object().unwrap();
    let mut names = src.names();
    names.sort();
    let mut want: Vec<String> = tensors.keys().cloned().collect();
    want.sort();
    assert_eq!(names, want);
    let mut dtypes = Vec::new();
    for (name, t) in tensors {
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let values: Vec<f32> = t["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = src.load(name).unwrap();
        assert_eq!(got.shape, shape, "{name}");
        assert_eq!(got.data, values, "{name} ({})", t["dtype"]);
        dtypes.push(t["dtype"].as_str().unwrap().to_string());
    }
    for d in ["torch.float16", "torch.bfloat16", "torch.float32"] {
        assert!(dtypes.iter().any(|x| x == d), "fixture covers {d}");
    }
}

#[test]
fn single_file_folder_opens_with_config() {
    let (config, src) =
        open_hf_folder(&fixtures().join("tiny_qwen2_expected")).expect("open folder");
    assert_eq!(config.architecture, Architecture::Qwen2);
    let embed = src.shape("model.embed_tokens.weight").unwrap();
    assert_eq!(embed, vec![config.vocab_size, config.hidden_size]);
    let q = src.load("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(
        q.shape,
        vec![
            config.num_attention_heads * config.head_dim(),
            config.hidden_size
        ]
    );
    assert_eq!(q.data.len(), q.numel());
}

#[test]
fn folder_without_weights_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = HfSafetensors::open(dir.path())
        .err()
        .expect("no weights")
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}
