//! The real SmolLM2-135M-Instruct Q4_1 GGUF: every tensor loads with the shape the config implies,
//! and its float64 sum / sum of squares, and the first values of chosen rows, equal what
//! transformers' GGUF loader produces (fixture by scripts/reference/smollm2_tensors.py).
//!
//! Needs `.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf` (scripts/fetch-smollm2.sh): skipped with
//! a note when absent, failed when `ARPO_REQUIRE_SMOLLM=1`.

use std::path::PathBuf;

use arpo_model::weights::{load_checked, open_gguf};
use arpo_model::Architecture;
use serde_json::Value;

mod smollm2_common;
use smollm2_common::smollm2_path;

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/weights/smollm2_tensors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn smollm2_tensors_equal_transformers() {
    let Some(path) = smollm2_path() else { return };
    let (config, src, _) = open_gguf(&path).expect("open SmolLM2");
    let fx = fixture();
    assert_eq!(config.architecture, Architecture::Llama);
    let c = &fx["config"];
    let n = |k: &str| c[k].as_u64().unwrap() as usize;
    assert_eq!(
        (
            config.vocab_size,
            config.hidden_size,
            config.intermediate_size,
            config.num_hidden_layers
        ),
        (
            n("vocab_size"),
            n("hidden_size"),
            n("intermediate_size"),
            n("num_hidden_layers")
        )
    );
    assert_eq!(
        (config.num_attention_heads, config.kv_heads()),
        (n("num_attention_heads"), n("num_key_value_heads"))
    );
    assert_eq!(
        config.rms_norm_eps as f32,
        c["rms_norm_eps"].as_f64().unwrap() as f32
    );
    assert_eq!(config.rope_theta, fx["rope_theta"].as_f64().unwrap());
    assert_eq!(
        config.tie_word_embeddings,
        fx["tie_word_embeddings"].as_bool().unwrap()
    );

    let stats = fx["stats"].as_object().unwrap();
    let mut names = src.names();
    names.sort();
    let mut want: Vec<&String> = stats.keys().collect();
    want.sort();
    assert_eq!(
        names.iter().collect::<Vec<_>>(),
        want,
        "same tensor set as transformers"
    );
    assert_eq!(
        names.len(),
        2 + 9 * config.num_hidden_layers,
        "embed + norm + 9 per layer"
    );

    for (name, s) in stats {
        let shape: Vec<usize> = s["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let t = load_checked(src.as_ref(), name, &shape).unwrap_or_else(|e| panic!("{e}"));
        let sum: f64 = t.data.iter().map(|&x| x as f64).sum();
        let sum_sq: f64 = t.data.iter().map(|&x| (x as f64) * (x as f64)).sum();
        let (e_sum, e_sq) = (s["sum"].as_f64().unwrap(), s["sum_sq"].as_f64().unwrap());
        // Same f32 values summed in f64 in a different order: agreement to ~1e-12 relative.
        assert!(
            (sum - e_sum).abs() <= 1e-9 * e_sq.max(1.0),
            "{name}: sum {sum} vs {e_sum}"
        );
        assert!(
            (sum_sq - e_sq).abs() <= 1e-9 * e_sq.max(1.0),
            "{name}: sum_sq {sum_sq} vs {e_sq}"
        );

        if let Some(slice) = fx["slices"].get(name.as_str()) {
            let width = *shape.last().unwrap();
            let rows: Vec<usize> = match slice["rows"].as_array() {
                Some(r) => r.iter().map(|v| v.as_u64().unwrap() as usize).collect(),
                None => vec![0],
            };
            for (row, values) in rows.iter().zip(slice["values"].as_array().unwrap()) {
                let start = if shape.len() == 1 { 0 } else { row * width };
                for (j, v) in values.as_array().unwrap().iter().enumerate() {
                    let (got, exp) = (t.data[start + j], v.as_f64().unwrap() as f32);
                    assert_eq!(got, exp, "{name}[{row}, {j}]");
                }
            }
        }
    }
}
