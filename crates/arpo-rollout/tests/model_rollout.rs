//! The rollout engine on a real (tiny, randomly initialised) transformer.
//!
//! Compared with independent computations: trajectory rollout with branching off equals
//! `arpo_model::generate` run with the same per-trajectory seeds; the log-probs stored during
//! rollout equal the model's log-probs recomputed by a full forward over the finished sequences.

use std::sync::Arc;

use arpo_core::{Origin, Tokenizer};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{
    from_scratch, generate, token_logprobs, GenerateConfig, ModelConfig, PaddedBatch,
    SamplingConfig,
};
use arpo_rollout::seeds::{global_seed, prompt_seed};
use arpo_rollout::{rollout, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode};
use arpo_tools::{RunnerConfig, ToolRunner};
use burn::backend::Flex;

type B = Flex;

fn setup() -> (arpo_model::CausalLm<B>, ByteTokenizer, Vec<RolloutInput>) {
    let tok = ByteTokenizer::with_tool_tags();
    let model = from_scratch::<B>(
        &ModelConfig::small(tok.vocab_size(), 64, 2),
        7,
        &Default::default(),
    )
    .unwrap();
    let inputs = ["What is 2+2?", "Name a colour."]
        .iter()
        .enumerate()
        .map(|(i, q)| RolloutInput {
            task_id: format!("t{i}"),
            prompt_tokens: tok.encode(q).unwrap(),
        })
        .collect();
    (model, tok, inputs)
}

fn run(
    mode: RolloutMode,
    sampling: SamplingConfig,
    max_tokens: usize,
    seed: u64,
) -> Vec<arpo_core::RolloutTree> {
    run_batched(mode, sampling, max_tokens, seed, None).trees
}

fn run_batched(
    mode: RolloutMode,
    sampling: SamplingConfig,
    max_tokens: usize,
    seed: u64,
    max_batch_rows: Option<usize>,
) -> arpo_rollout::RolloutOutput {
    let (model, tok, inputs) = setup();
    // No tools: a random model must not call any.
    let runner = Arc::new(ToolRunner::new(RunnerConfig::default(), vec![]).unwrap());
    let mut config = RolloutConfig::new(mode, sampling, tok.stop_token_ids());
    config.max_response_tokens = max_tokens;
    config.max_batch_rows = max_batch_rows;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(rollout::<B, _>(
        &model, &tok, runner, &inputs, &config, seed,
    ))
    .unwrap()
}

#[test]
fn one_sequence_at_a_time_gives_the_batched_trees() {
    // Against the batched rollout itself: capping a forward at one row changes how many forwards
    // run, never what any path samples (each path draws from its own seeded stream).
    let mode = || {
        RolloutMode::Arpo(ArpoConfig {
            total: 4,
            initial: 2,
            ..ArpoConfig::default()
        })
    };
    let sampling = SamplingConfig {
        temperature: 0.9,
        ..SamplingConfig::default()
    };
    let batched = run_batched(mode(), sampling.clone(), 16, 11, None);
    let single = run_batched(mode(), sampling, 16, 11, Some(1));
    assert_eq!(batched.trees.len(), single.trees.len());
    for (a, b) in batched.trees.iter().zip(&single.trees) {
        assert_eq!(a.leaves.len(), b.leaves.len());
        for leaf in 0..a.leaves.len() {
            assert_eq!(a.leaf_tokens(leaf), b.leaf_tokens(leaf), "leaf {leaf}");
        }
    }
    assert_eq!(
        batched.stats.forwarded_tokens, single.stats.forwarded_tokens,
        "the same tokens are forwarded, only grouped differently"
    );
    // 2 prompts × 2 initial paths decode side by side: one row per forward takes 4× the calls.
    assert!(
        single.stats.forward_calls >= 3 * batched.stats.forward_calls,
        "{} single-row vs {} batched forwards",
        single.stats.forward_calls,
        batched.stats.forward_calls
    );
}

#[test]
fn trajectory_rollout_equals_independent_generation() {
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_k: 50,
        top_p: 0.9,
        repetition_penalty: 1.0,
    };
    let trees = run(
        RolloutMode::Trajectory { samples: 3 },
        sampling.clone(),
        24,
        5,
    );
    let (model, tok, inputs) = setup();
    for (i, (tree, input)) in trees.iter().zip(&inputs).enumerate() {
        let seeds: Vec<u64> = (0..3).map(|g| global_seed(prompt_seed(5, i), g)).collect();
        let config = GenerateConfig {
            sampling: sampling.clone(),
            max_new_tokens: 24,
            stop_tokens: tok.stop_token_ids(),
        };
        let (expected, _) = generate(
            &model,
            &vec![input.prompt_tokens.clone(); 3],
            &seeds,
            &config,
        )
        .unwrap();
        for (leaf, gen) in expected.iter().enumerate() {
            let tokens = tree.leaf_tokens(leaf);
            assert_eq!(
                &tokens[input.prompt_tokens.len()..],
                &gen.tokens[..],
                "prompt {i} trajectory {leaf}"
            );
        }
    }
}

#[test]
fn stored_logprobs_equal_full_forward_recomputation() {
    let arpo = ArpoConfig {
        total: 4,
        initial: 2,
        entropy_window: 4,
        ..ArpoConfig::default()
    };
    let sampling = SamplingConfig {
        temperature: 0.8,
        ..SamplingConfig::default()
    };
    let trees = run(RolloutMode::Arpo(arpo), sampling, 20, 3);
    let (model, _, _) = setup();
    let mut compared = 0;
    for tree in &trees {
        for leaf in 0..tree.leaves.len() {
            let tokens = tree.leaf_tokens(leaf);
            let batch = PaddedBatch::<B>::new(&[tokens.clone()], &model.device()).unwrap();
            let scored = token_logprobs(&model, batch.tokens, 0.8, true).unwrap();
            let lp = scored.logprobs.into_data().to_vec::<f32>().unwrap();
            let ent = scored
                .entropies
                .unwrap()
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let mut pos = 0;
            for seg in tree.leaf_segments(leaf) {
                for (j, _) in seg.tokens.iter().enumerate() {
                    if seg.origin == Origin::Model {
                        // Token at `pos` is predicted by position `pos - 1`.
                        assert!(
                            (seg.logprobs[j] - lp[pos - 1]).abs() <= 1e-4,
                            "logprob at {pos}"
                        );
                        assert!(
                            (seg.entropies[j] - ent[pos - 1]).abs() <= 1e-4,
                            "entropy at {pos}"
                        );
                        compared += 1;
                    }
                    pos += 1;
                }
            }
        }
    }
    assert!(compared > 50, "{compared}");
}
