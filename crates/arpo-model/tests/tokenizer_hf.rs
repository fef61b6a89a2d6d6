//! `HfTokenizer` on a tiny trained BPE with a ChatML template (tests/fixtures/tokenizer/tiny_hf),
//! compared with transformers' AutoTokenizer on the same folder (fixture by
//! scripts/reference/tokenizer_fixtures.py): ids, decoded text, rendered chat templates, and the
//! template's `raise_exception`.

use std::path::PathBuf;

mod tokenizer_common;

use arpo_core::Tokenizer;
use arpo_model::tokenizer::{load_tokenizer, HfTokenizer};
use serde_json::Value;
use tokenizer_common::{check_tokenizer, ids};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer")
}

fn expected() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tiny_hf_expected.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn tiny_tokenizer_equals_transformers() {
    let fx = expected();
    let tok = HfTokenizer::from_folder(&fixtures().join("tiny_hf")).expect("load tiny_hf");
    check_tokenizer(&tok, &fx);
    let im_end = tok.token_id("<|im_end|>").unwrap();
    let eot = tok.token_id("<|endoftext|>").unwrap();
    assert_eq!(tok.stop_token_ids(), {
        let mut v = vec![im_end, eot];
        v.sort();
        v
    });
}

#[test]
fn load_tokenizer_accepts_folder_and_file() {
    let fx = expected();
    for path in [
        fixtures().join("tiny_hf"),
        fixtures().join("tiny_hf/tokenizer.json"),
    ] {
        let tok = load_tokenizer(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            tok.encode("Hello world").unwrap(),
            ids(&fx["texts"][0]["ids"])
        );
    }
    let missing = load_tokenizer(&fixtures().join("nope.gguf"))
        .err()
        .expect("missing file")
        .to_string();
    assert!(missing.contains("nope.gguf"), "{missing}");
}
