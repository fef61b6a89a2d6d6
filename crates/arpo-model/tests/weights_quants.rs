//! Dequantisation of every supported ggml type against gguf-py's `gguf.quants.dequantize` on the
//! same random blocks (fixture made by scripts/reference/weight_fixtures.py): bit-for-bit equal.

use std::path::PathBuf;

use arpo_model::weights::{dequantize, GgmlType};
use serde_json::Value;

fn fixture() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights/quant_blocks.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read quant_blocks.json"))
        .expect("parse")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn every_type_matches_gguf_py_bit_for_bit() {
    let doc = fixture();
    let cases = doc["cases"].as_array().expect("cases");
    let mut seen = Vec::new();
    for case in cases {
        let name = case["type"].as_str().unwrap();
        let ty = GgmlType::from_id(case["type_id"].as_u64().unwrap() as u32);
        assert_eq!(ty.name(), name, "type id maps to the same name as gguf-py");
        let bytes = hex(case["bytes_hex"].as_str().unwrap());
        let expected: Vec<f32> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(expected.len(), case["n_values"].as_u64().unwrap() as usize);
        let mut out = vec![f32::NAN; expected.len()];
        dequantize(ty, &bytes, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
            assert!(
                a.to_bits() == b.to_bits(),
                "{name}[{i}]: got {a}, gguf-py {b}"
            );
        }
        seen.push(name.to_string());
    }
    for required in [
        "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K",
    ] {
        assert!(
            seen.iter().any(|s| s == required),
            "fixture lacks {required}"
        );
    }
}
