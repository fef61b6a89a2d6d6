//! The tokenizer and chat template built from SmolLM2-135M-Instruct.Q4_1.gguf's metadata, compared
//! with transformers' AutoTokenizer built from the same file (fixture by
//! scripts/reference/tokenizer_fixtures.py): ids and decoded text for ASCII, digits, whitespace,
//! unicode and inline special tokens, and the ChatML prompt with its ids.
//!
//! Needs `.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf` (scripts/fetch-smollm2.sh): skipped with
//! a note when absent, failed when `ARPO_REQUIRE_SMOLLM=1`.

mod smollm2_common;
mod tokenizer_common;

use smollm2_common::smollm2_path;
use std::path::PathBuf;

use arpo_model::tokenizer::load_tokenizer;
use serde_json::Value;

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
