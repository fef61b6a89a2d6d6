//! SFT data and loss: assistant spans from the chat template, ShareGPT parsing and its errors,
//! demonstrations from rollout trees, and a loss that falls when trained.

mod common;

use arpo_core::{ChatMessage, Tokenizer};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{from_scratch, CausalLm, ModelConfig};
use arpo_train::optim::{LrSchedule, Optim, OptimizerConfig};
use arpo_train::sft::{example_from_leaf, parse_sharegpt, sft_loss, tokenize_conversation};
use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;

type B = Autodiff<Flex>;

#[test]
fn only_assistant_content_and_end_of_turn_are_trained() {
    let _graphs = arpo_train::autodiff_section();
    let tok = ByteTokenizer::new();
    let conv = vec![
        ChatMessage::system("s"),
        ChatMessage::user("hi"),
        ChatMessage::assistant("ok"),
        ChatMessage::user("more"),
        ChatMessage::assistant("done"),
    ];
    let ex = tokenize_conversation(&tok, &conv).unwrap();
    // Turn-by-turn tokens concatenate to the whole rendering.
    assert_eq!(
        ex.tokens,
        tok.encode(&tok.apply_chat_template(&conv, false).unwrap())
            .unwrap()
    );
    let trained: Vec<u32> = ex
        .tokens
        .iter()
        .zip(&ex.loss_mask)
        .filter(|(_, &m)| m)
        .map(|(&t, _)| t)
        .collect();
    assert_eq!(
        tok.decode(&trained).unwrap(),
        "ok<|im_end|>\ndone<|im_end|>\n"
    );
}

#[test]
fn sharegpt_parses_arrays_and_lines_and_names_bad_records() {
    let _graphs = arpo_train::autodiff_section();
    let arr = r#"[{"conversations":[{"from":"system","value":"s"},{"from":"human","value":"q"},{"from":"gpt","value":"a"}]}]"#;
    let convs = parse_sharegpt(arr, "a.json").unwrap();
    assert_eq!(
        convs[0],
        vec![
            ChatMessage::system("s"),
            ChatMessage::user("q"),
            ChatMessage::assistant("a")
        ]
    );
    let lines = "{\"conversations\":[{\"from\":\"human\",\"value\":\"q\"}]}\n\n{\"conversations\":[{\"from\":\"bot\",\"value\":\"x\"}]}\n";
    let err = parse_sharegpt(lines, "d.jsonl").unwrap_err().to_string();
    assert!(
        err.contains("d.jsonl:3") && err.contains("conversations[0].from"),
        "{err}"
    );
    assert!(parse_sharegpt("{not json", "e.jsonl")
        .unwrap_err()
        .to_string()
        .contains("e.jsonl:1"));
    // No assistant turn: nothing to learn.
    assert!(tokenize_conversation(&ByteTokenizer::new(), &[ChatMessage::user("q")]).is_err());
}

#[test]
fn demonstrations_from_trees_train_model_tokens_only() {
    let _graphs = arpo_train::autodiff_section();
    let tree = common::branched_tree(97);
    let ex = example_from_leaf(&tree, 0);
    assert_eq!(ex.tokens, tree.leaf_tokens(0));
    let model_tokens: usize = tree
        .leaf_segments(0)
        .iter()
        .filter(|s| s.origin == arpo_core::Origin::Model)
        .map(|s| s.len())
        .sum();
    assert_eq!(ex.loss_mask.iter().filter(|&&m| m).count(), model_tokens);
    assert!(!ex.loss_mask[0]);
}

#[test]
fn sft_loss_is_masked_cross_entropy_and_falls_with_training() {
    let _graphs = arpo_train::autodiff_section();
    let device = Default::default();
    let tok = ByteTokenizer::new();
    let data: Vec<_> = common::sft_conversations()
        .iter()
        .map(|c| tokenize_conversation(&tok, c).unwrap())
        .collect();
    let batch: Vec<_> = data.iter().take(8).collect();
    let mut model: CausalLm<B> = from_scratch(&ModelConfig::small(260, 32, 2), 7, &device).unwrap();
    // At initialisation the logits are nearly uniform: the loss is close to ln(vocab).
    let (l0, n) = sft_loss(&model, &batch).unwrap();
    let l0 = l0.into_data().to_vec::<f32>().unwrap()[0];
    assert!((l0 - (260f32).ln()).abs() < 0.15, "initial loss {l0}");
    assert_eq!(
        n,
        batch
            .iter()
            .map(|e| e.loss_mask[1..].iter().filter(|&&m| m).count())
            .sum::<usize>()
    );
    let mut optim = Optim::new(
        OptimizerConfig {
            lr: 3e-3,
            ..Default::default()
        },
        LrSchedule::Constant,
    );
    let mut last = l0;
    for _ in 0..30 {
        let (loss, _) = sft_loss(&model, &batch).unwrap();
        last = loss.clone().into_data().to_vec::<f32>().unwrap()[0];
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(model, grads).0;
    }
    assert!(last < 0.5 * l0, "loss {l0} → {last}");
}
