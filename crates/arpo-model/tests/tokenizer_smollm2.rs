//! The tokenizer and chat template built from SmolLM2-135M-Instruct.Q4_1.gguf's metadata, compared
//! with transformers' AutoTokenizer built from the same file (fixture by
//! scripts/reference/tokenizer_fixtures.py): ids and decoded text for ASCII, digits, whitespace,
//! unicode and inline special tokens, and the ChatML prompt with its ids.
//!
//! Needs `.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf` (scripts/fetch-smollm2.sh): skipped with
//! a note when absent, failed when `ARPO_REQUIRE_SMOLLM=1`.

mod tokenizer_common;

use std::path::PathBuf;

use arpo_model::tokenizer::load_tokenizer;
use serde_json::Value;

fn smollm2_path() -> Option<PathBuf> {
    let path = std::env::var_os("ARPO_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("ARPO_REQUIRE_SMOLLM").is_ok_and(|v| v == "1") {
        panic!(
            "ARPO_REQUIRE_SMOLLM=1 but {} is missing (run scripts/fetch-smollm2.sh)",
            path.display()
        );
    }
    eprintln!(
        "note: {} absent, test skipped (run scripts/fetch-smollm2.sh)",
        path.display()
    );
    None
}

#[test]
fn smollm2_gguf_tokenizer_equals_transformers() {
    let Some(path) = smollm2_path() else { return };
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer/smollm2_gguf.json");
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let tok = load_tokenizer(&path).expect("tokenizer from GGUF");
    tokenizer_common::check_tokenizer(tok.as_ref(), &fx);
    assert_eq!(tok.vocab_size(), 49152);
    // <|endoftext|> (0) and <|im_end|> (2, also the GGUF's EOS) end generation.
    assert_eq!(tok.stop_token_ids(), vec![0, 2]);
}
