//! Shared by the tokenizer tests: compares a tokenizer with a fixture written by
//! scripts/reference/tokenizer_fixtures.py from transformers' AutoTokenizer.

use arpo_core::{ChatMessage, Role, Tokenizer};
use serde_json::Value;

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn messages(v: &Value) -> Vec<ChatMessage> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let role = match m["role"].as_str().unwrap() {
                "system" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                other => panic!("role {other}"),
            };
            ChatMessage::new(role, m["content"].as_str().unwrap())
        })
        .collect()
}

/// Shared by this test and the SmolLM2 one: texts, decoding and chat templates equal the fixture.
pub fn check_tokenizer(tok: &dyn Tokenizer, fx: &Value) {
    for case in fx["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = tok.encode(text).unwrap();
        assert_eq!(got, ids(&case["ids"]), "encode {text:?}");
        assert_eq!(
            tok.decode(&got).unwrap(),
            case["decoded"].as_str().unwrap(),
            "decode {text:?}"
        );
    }
    for conv in fx["conversations"].as_array().unwrap() {
        let msgs = messages(&conv["messages"]);
        let gen = conv["add_generation_prompt"].as_bool().unwrap();
        let rendered = tok.apply_chat_template(&msgs, gen).unwrap();
        assert_eq!(rendered, conv["rendered"].as_str().unwrap());
        assert_eq!(
            tok.encode(&rendered).unwrap(),
            ids(&conv["ids"]),
            "ids of {rendered:?}"
        );
    }
    let bad = &fx["error_conversation"];
    let result = tok.apply_chat_template(&messages(&bad["messages"]), true);
    match bad["error"].as_str() {
        Some(py_error) => {
            let msg = result
                .expect_err("transformers raised, so must we")
                .to_string();
            let py_msg = py_error.split_once(": ").map_or(py_error, |(_, m)| m);
            assert!(msg.contains(py_msg), "{msg} vs transformers' {py_error}");
        }
        None => assert!(result.is_ok(), "transformers rendered this conversation"),
    }
    let eos = fx["eos_token_id"].as_u64().unwrap() as u32;
    assert!(tok.stop_token_ids().contains(&eos), "EOS {eos} stops");
    assert!(tok.vocab_size() >= fx["vocab_len"].as_u64().unwrap() as usize);
}
