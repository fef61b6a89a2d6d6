//! SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to f32): greedy decoding of 40 tokens for
//! chat-templated prompts equals, token for token, HF transformers loading the same file in
//! float32, and the first step's top-5 log-probs agree within 1e-3.
//!
//! Reference: scripts/reference/smollm2_greedy.py → tests/fixtures/smollm2_greedy.json. The
//! reference does not stop at EOS, so neither does this test.

use arpo_model::tokenizer::load_tokenizer;
use arpo_model::{generate, load_model, GenerateConfig, SamplingConfig};
use burn::backend::Flex;
use serde_json::Value;

mod smollm2_common;

fn ids(v: &Value) -> Vec<u32> {
    let v = if let Some(s) = v.as_str() {
        serde_json::from_str(s).unwrap()
    } else {
        v.clone()
    };
    serde_json::from_value(v).unwrap()
}

#[test]
fn greedy_decoding_matches_transformers_token_for_token() {
    let Some(path) = smollm2_common::smollm2_path() else {
        return;
    };
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/smollm2_greedy.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let model = load_model::<Flex>(&path, 512, &Default::default()).unwrap();
    let tokenizer = load_tokenizer(&path).unwrap();
    for case in fx["cases"].as_array().unwrap() {
        let messages: Vec<arpo_core::ChatMessage> =
            serde_json::from_value(case["messages"].clone()).unwrap();
        let text = tokenizer.apply_chat_template(&messages, true).unwrap();
        let prompt = tokenizer.encode(&text).unwrap();
        assert_eq!(prompt, ids(&case["prompt_ids"]), "prompt tokens");
        let expected = ids(&case["generated_ids"]);
        let config = GenerateConfig {
            sampling: SamplingConfig::greedy(),
            max_new_tokens: expected.len(),
            stop_tokens: vec![],
        };
        let (out, _) = generate(&model, std::slice::from_ref(&prompt), &[0], &config).unwrap();
        assert_eq!(
            out[0].tokens, expected,
            "greedy tokens differ from transformers"
        );
        // First step: top-5 log-probs.
        let mut cache = vec![model.new_cache()];
        let logits = model
            .extend(&[prompt], &mut cache)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let (logp, _) = arpo_model::sampler::log_softmax_entropy(&logits, 1.0);
        let top = &case["first_step_top5"];
        for (id, lp) in ids(&top["ids"])
            .into_iter()
            .zip(top["logprobs"].as_array().unwrap())
        {
            let d = (logp[id as usize] - lp.as_f64().unwrap()).abs();
            assert!(d <= 1e-3, "top-5 token {id}: log-prob differs by {d}");
        }
    }
}
