//! The GGUF reader on tiny llama / qwen2 / qwen3 files (scripts/reference/weight_fixtures.py writes them
//! like llama.cpp's converter: reversed dims, permuted q/k rows, mixed storage types), compared
//! with what transformers' own GGUF loader produced from the same files (config and every tensor);
//! plus metadata of every value type, and the errors for damaged or unsupported files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arpo_model::weights::{load_checked, open_gguf, GgufValue, HfSafetensors, WeightSource};
use arpo_model::{Architecture, Error};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("parse")
}

/// Every tensor and the config of `tiny_{arch}.gguf` equal transformers' reading of it.
fn check_against_transformers(arch: &str, expected_arch: Architecture) {
    let (config, gguf, _) =
        open_gguf(&fixtures().join(format!("tiny_{arch}.gguf"))).expect("open gguf");
    let expected_dir = fixtures().join(format!("tiny_{arch}_expected"));
    let hf = read_json(&expected_dir.join("config.json"));
    assert_eq!(config.architecture, expected_arch);
    let n = |k: &str| hf[k].as_u64().unwrap_or_else(|| panic!("{k}")) as usize;
    assert_eq!(config.vocab_size, n("vocab_size"));
    assert_eq!(config.hidden_size, n("hidden_size"));
    assert_eq!(config.intermediate_size, n("intermediate_size"));
    assert_eq!(config.num_hidden_layers, n("num_hidden_layers"));
    assert_eq!(config.num_attention_heads, n("num_attention_heads"));
    assert_eq!(config.kv_heads(), n("num_key_value_heads"));
    if let Some(hd) = hf["head_dim"].as_u64() {
        assert_eq!(config.head_dim(), hd as usize);
    }
    assert_eq!(config.max_position_embeddings, n("max_position_embeddings"));
    assert_eq!(
        config.tie_word_embeddings,
        hf["tie_word_embeddings"].as_bool().unwrap()
    );
    // transformers widens the f32 epsilon directly; both are the same f32.
    assert_eq!(
        config.rms_norm_eps as f32,
        hf["rms_norm_eps"].as_f64().unwrap() as f32
    );
    assert_eq!(
        config.rope_theta,
        hf["rope_parameters"]["rope_theta"].as_f64().unwrap()
    );

    let expected = HfSafetensors::open(&expected_dir).expect("open expected safetensors");
    let names: BTreeSet<String> = gguf.names().into_iter().collect();
    let want: BTreeSet<String> = expected.names().into_iter().collect();
    assert_eq!(names, want, "tensor names");
    let mut kept = 0;
    for name in &want {
        let shape = expected.shape(name).unwrap();
        let got = load_checked(gguf.as_ref(), name, &shape).unwrap_or_else(|e| panic!("{e}"));
        let exp = expected.load(name).unwrap();
        assert_eq!(got.shape, exp.shape, "{name}");
        let bad = got.data.iter().zip(&exp.data).position(|(a, b)| a != b);
        assert!(
            bad.is_none(),
            "{arch} {name}[{}]: {} vs transformers {}",
            bad.unwrap(),
            got.data[bad.unwrap()],
            exp.data[bad.unwrap()]
        );
        // The block form kept for decoding holds the same values, rows in the same order.
        if let Some(q) = gguf.quant_rows(name).unwrap() {
            kept += 1;
            let mut rows = vec![0.0f32; exp.data.len()];
            q.dequantize_rows(0, q.rows(), &mut rows);
            assert!(
                rows.iter()
                    .zip(&exp.data)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{arch} {name}: kept blocks"
            );
        }
    }
    assert!(kept > 0, "{arch}: no matrix kept in block form");
}

#[test]
fn tiny_llama_equals_transformers_gguf_loader() {
    check_against_transformers("llama", Architecture::Llama);
}

#[test]
fn tiny_qwen2_equals_transformers_gguf_loader() {
    check_against_transformers("qwen2", Architecture::Qwen2);
    let (config, _, _) = open_gguf(&fixtures().join("tiny_qwen2.gguf")).unwrap();
    assert!(config.attention_bias);
}

#[test]
fn tiny_qwen3_equals_transformers_gguf_loader() {
    check_against_transformers("qwen3", Architecture::Qwen3);
    let (config, src, _) = open_gguf(&fixtures().join("tiny_qwen3.gguf")).unwrap();
    // Read from qwen3.attention.key_length; q/k norms keep their HF names.
    assert_eq!(config.head_dim, Some(8));
    assert!(config.qk_norm() && config.tie_word_embeddings && !config.attention_bias);
    assert_eq!(
        src.shape("model.layers.0.self_attn.k_norm.weight"),
        Some(vec![8])
    );
}

#[test]
fn metadata_of_every_value_type() {
    let (_, _, meta) = open_gguf(&fixtures().join("tiny_llama.gguf")).unwrap();
    assert_eq!(meta.version, 3);
    let get = |k: &str| meta.get(k).unwrap_or_else(|| panic!("{k}")).clone();
    assert_eq!(get("general.alignment"), GgufValue::U32(64));
    assert_eq!(get("test.u8"), GgufValue::U8(200));
    assert_eq!(get("test.i8"), GgufValue::I8(-100));
    assert_eq!(get("test.u16"), GgufValue::U16(60000));
    assert_eq!(get("test.i16"), GgufValue::I16(-30000));
    assert_eq!(get("test.u32"), GgufValue::U32(4_000_000_000));
    assert_eq!(get("test.i32"), GgufValue::I32(-2_000_000_000));
    assert_eq!(get("test.f32"), GgufValue::F32(0.25));
    assert_eq!(get("test.bool"), GgufValue::Bool(true));
    assert_eq!(get("test.string"), GgufValue::String("héllo".into()));
    assert_eq!(get("test.u64"), GgufValue::U64((1 << 40) + 3));
    assert_eq!(get("test.i64"), GgufValue::I64(-(1 << 40) - 3));
    assert_eq!(get("test.f64"), GgufValue::F64(-1.5e-300));
    assert_eq!(
        get("test.array_i32"),
        GgufValue::Array(vec![
            GgufValue::I32(1),
            GgufValue::I32(-2),
            GgufValue::I32(3)
        ])
    );
    assert_eq!(
        get("test.array_str"),
        GgufValue::Array(vec![
            GgufValue::String("a".into()),
            GgufValue::String("bc".into()),
            GgufValue::String(String::new())
        ])
    );
    assert_eq!(
        meta.get_array("tokenizer.ggml.tokens").map(<[_]>::len),
        Some(96)
    );
}

#[test]
fn load_checked_reports_missing_and_misshapen_tensors() {
    let (_, src, _) = open_gguf(&fixtures().join("tiny_llama.gguf")).unwrap();
    let err = load_checked(src.as_ref(), "lm_head.weight", &[96, 32]).unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name, .. } if name == "lm_head.weight"),
        "{err}"
    );
    let err = load_checked(src.as_ref(), "model.embed_tokens.weight", &[32, 96]).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { found, .. } if found == &vec![96, 32]),
        "{err}"
    );
    assert!(err.to_string().contains("tiny_llama.gguf"), "{err}");
}

/// Writes `bytes` to a temporary `.gguf` file and opens it.
fn open_bytes(bytes: &[u8]) -> (tempfile::TempDir, Result<(), Error>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    std::fs::write(&path, bytes).unwrap();
    let result = open_gguf(&path).map(|_| ());
    (dir, result, path)
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file")
}

#[test]
fn truncated_files_name_the_offset() {
    let bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    for cut in [40, bytes.len() - 100] {
        let (_dir, result, _) = open_bytes(&bytes[..cut]);
        let msg = result.unwrap_err().to_string();
        assert!(
            msg.contains("offset") && msg.contains("truncated"),
            "cut at {cut}: {msg}"
        );
    }
}

#[test]
fn unsupported_quant_type_names_type_and_tensor() {
    let mut bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    // Tensor info: name, u32 n_dims, n_dims x u64 dims, u32 type. Make blk.0.attn_v a Q2_K (10).
    let name = b"blk.0.attn_v.weight";
    let at = find(&bytes, name) + name.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let ty = at + 4 + 8 * n_dims;
    bytes[ty..ty + 4].copy_from_slice(&10u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q2k.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let (_, src, _) = open_gguf(&path).unwrap();
    let msg = src
        .load("model.layers.0.self_attn.v_proj.weight")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("Q2_K") && msg.contains("blk.0.attn_v.weight"),
        "{msg}"
    );
    // The other tensors still load.
    assert!(src.load("model.layers.0.self_attn.q_proj.weight").is_ok());
}

#[test]
fn unsupported_architecture_is_named() {
    let mut bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    // key, u32 type (8 = string), u64 length, then the value "llama".
    let at = find(&bytes, b"general.architecture") + "general.architecture".len() + 4 + 8;
    assert_eq!(&bytes[at..at + 5], b"llama");
    bytes[at..at + 5].copy_from_slice(b"gemma");
    let (_dir, result, _) = open_bytes(&bytes);
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("gemma"), "{msg}");
}
