//! The rollout engine against a scripted mock policy whose entropy jumps after tool results, and
//! a mock search tool with random latency.
//!
//! Checked against properties that must hold: exactly M leaves per prompt; N = M never branches;
//! branching happens only right after tool results, with the frequency the formula gives;
//! AEPO's penalty forbids consecutive branches when set to 1; a tree replays bit-identically
//! whatever the tool latencies.

use std::sync::Arc;
use std::time::Duration;

use arpo_core::{Origin, Policy, RolloutTree, TokenId, Tokenizer, Tool, ToolError};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::SamplingConfig;
use arpo_rollout::{rollout, AepoOptions, ArpoConfig, RolloutConfig, RolloutInput, RolloutMode};
use arpo_tools::{RunnerConfig, ToolRunner, ToolSpec};
use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};

type B = Flex;

const SEARCH_OPEN: TokenId = 262;
const SEARCH_CLOSE: TokenId = 263;
const RESULT_CLOSE: TokenId = 265;
const EOS: TokenId = 257;
const VOCAB: usize = 270;

/// Writes `lead` free letters, then `<search>x</search>`, `calls` times, then EOS. Letters are
/// peaked (low entropy) before the first tool result and uniform over a–z (high entropy) after.
struct ScriptedPolicy {
    prompt_len: usize,
    lead: usize,
    calls: usize,
    /// Favour one free letter chosen by the history's length, so that the logits depend on
    /// every token the policy was fed (a token missing from the cache changes them).
    length_aware: bool,
}

impl ScriptedPolicy {
    fn logits_after(&self, history: &[TokenId]) -> Vec<f32> {
        let response = &history[self.prompt_len.min(history.len())..];
        let results = response.iter().filter(|&&t| t == RESULT_CLOSE).count();
        let since = response
            .iter()
            .rev()
            .take_while(|&&t| t != RESULT_CLOSE)
            .count();
        let mut logits = vec![-30.0f32; VOCAB];
        let forced = |logits: &mut Vec<f32>, t: TokenId| logits[t as usize] = 30.0;
        if since == self.lead && results < self.calls {
            forced(&mut logits, SEARCH_OPEN);
        } else if since == self.lead + 1 && results < self.calls {
            forced(&mut logits, b'q' as TokenId);
        } else if since == self.lead + 2 && results < self.calls {
            forced(&mut logits, SEARCH_CLOSE);
        } else if since >= self.lead && results == self.calls {
            forced(&mut logits, EOS);
        } else {
            for c in b'a'..=b'z' {
                logits[c as usize] = 0.0;
            }
            if results == 0 {
                logits[b'e' as usize] = 5.0;
            }
            if self.length_aware {
                logits[usize::from(b'a') + history.len() % 26] += 3.0;
            }
        }
        logits
    }
}

impl Policy<B> for ScriptedPolicy {
    type Cache = Vec<TokenId>;

    fn device(&self) -> burn::backend::flex::FlexDevice {
        Default::default()
    }
    fn vocab_size(&self) -> usize {
        VOCAB
    }
    fn new_cache(&self) -> Vec<TokenId> {
        Vec::new()
    }
    fn cache_len(&self, cache: &Vec<TokenId>) -> usize {
        cache.len()
    }
    fn extend(
        &self,
        tokens: &[Vec<TokenId>],
        caches: &mut [Vec<TokenId>],
    ) -> arpo_core::Result<Tensor<B, 2>> {
        let mut flat = Vec::with_capacity(tokens.len() * VOCAB);
        for (t, c) in tokens.iter().zip(caches.iter_mut()) {
            c.extend(t);
            flat.extend(self.logits_after(c));
        }
        Ok(Tensor::from_data(
            TensorData::new(flat, [tokens.len(), VOCAB]),
            &Default::default(),
        ))
    }
}

/// Answers after a random delay (from the OS clock, deliberately unseeded).
struct SlowSearch;

#[async_trait::async_trait]
impl Tool for SlowSearch {
    fn name(&self) -> &str {
        "search"
    }
    async fn call(&self, input: &str) -> Result<String, ToolError> {
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 3_000_000;
        tokio::time::sleep(Duration::from_nanos(jitter as u64)).await;
        Ok(format!("Page 1: facts about {input}"))
    }
}

fn runner() -> Arc<ToolRunner> {
    Arc::new(
        ToolRunner::new(
            RunnerConfig::default(),
            vec![ToolSpec::new(Arc::new(SlowSearch))],
        )
        .unwrap(),
    )
}

fn prompts(tok: &ByteTokenizer, n: usize) -> Vec<RolloutInput> {
    (0..n)
        .map(|i| RolloutInput {
            task_id: format!("q{i}"),
            prompt_tokens: tok.encode(&format!("question {i:02}?")).unwrap(),
        })
        .collect()
}

fn run(mode: RolloutMode, calls: usize, n_prompts: usize, seed: u64) -> Vec<RolloutTree> {
    let tok = ByteTokenizer::with_tool_tags();
    let inputs = prompts(&tok, n_prompts);
    let policy = ScriptedPolicy {
        prompt_len: inputs[0].prompt_tokens.len(),
        lead: 6,
        calls,
        length_aware: false,
    };
    run_policy(&policy, mode, &inputs, seed)
}

fn run_policy(
    policy: &ScriptedPolicy,
    mode: RolloutMode,
    inputs: &[RolloutInput],
    seed: u64,
) -> Vec<RolloutTree> {
    let tok = ByteTokenizer::with_tool_tags();
    let mut config = RolloutConfig::new(mode, SamplingConfig::default(), vec![EOS]);
    config.max_response_tokens = 512;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(rollout::<B, _>(
        policy,
        &tok,
        runner(),
        inputs,
        &config,
        seed,
    ))
    .unwrap()
    .trees
}

fn arpo(total: usize, initial: usize) -> ArpoConfig {
    ArpoConfig {
        total,
        initial,
        entropy_window: 4,
        ..ArpoConfig::default()
    }
}

#[test]
fn every_mode_gives_exactly_m_leaves() {
    let precheck = ArpoConfig {
        aepo: AepoOptions {
            consecutive_penalty: 0.05,
            precheck_gain: Some(0.5),
        },
        ..arpo(8, 2)
    };
    for mode in [
        RolloutMode::Trajectory { samples: 8 },
        RolloutMode::Arpo(arpo(8, 2)),
        RolloutMode::Arpo(arpo(8, 8)),
        RolloutMode::Arpo(arpo(8, 1)),
        RolloutMode::Arpo(precheck),
    ] {
        for tree in run(mode.clone(), 3, 4, 11) {
            tree.validate().unwrap();
            assert_eq!(tree.leaves.len(), 8, "{mode:?}");
            assert!(tree.leaves.iter().all(|l| l.tool_calls == 3));
        }
    }
}

#[test]
fn n_equal_m_never_branches() {
    for tree in run(RolloutMode::Arpo(arpo(6, 6)), 2, 3, 5) {
        assert_eq!(tree.nodes.len(), 1 + 6, "root plus one node per trajectory");
        assert!(tree
            .nodes
            .iter()
            .flat_map(|n| &n.decisions)
            .all(|d| d.copies == 0));
    }
}

#[test]
fn branching_follows_the_formula_right_after_tool_results() {
    let trees = run(RolloutMode::Arpo(arpo(64, 8)), 3, 6, 2024);
    let config = arpo(64, 8);
    let mut decisions = 0usize;
    let (mut branched, mut expected, mut variance) = (0.0, 0.0, 0.0);
    for tree in &trees {
        assert_eq!(tree.leaves.len(), 64);
        for node in &tree.nodes {
            for d in &node.decisions {
                decisions += 1;
                // The rule, replayed from the recorded draw.
                let rule = d.draw + config.entropy_weight * (d.step_entropy - d.initial_entropy)
                    > config.threshold;
                assert_eq!(rule, d.branched);
                // Entropy jumps after results: the step entropy is the uniform-letter one.
                assert!(d.step_entropy > d.initial_entropy + 0.3, "{d:?}");
                // The fork point is the end of a tool segment.
                let mut seen = 0;
                let seg = node.segments.iter().find(|s| {
                    seen += s.len();
                    seen == d.at_token
                });
                assert_eq!(
                    seg.map(|s| s.origin),
                    Some(Origin::Tool),
                    "decision not at a tool result"
                );
                branched += d.branched as u8 as f64;
                expected += d.probability;
                variance += d.probability * (1.0 - d.probability);
            }
        }
    }
    assert!(decisions > 200, "{decisions} decisions");
    // Sum of Bernoulli(p_i): mean Σp, variance Σp(1-p); 4 standard deviations.
    assert!(
        (branched - expected).abs() <= 4.0 * variance.sqrt(),
        "{branched} branched vs {expected} expected"
    );
}

#[test]
fn aepo_full_penalty_forbids_consecutive_branches() {
    let config = ArpoConfig {
        aepo: AepoOptions {
            consecutive_penalty: 1.0,
            precheck_gain: None,
        },
        ..arpo(32, 4)
    };
    let mut checked = 0;
    for tree in run(RolloutMode::Arpo(config), 3, 3, 8) {
        for leaf in 0..tree.leaves.len() {
            let path = tree.path(tree.leaves[leaf].node);
            let mut flags: Vec<(usize, bool)> = Vec::new();
            for &n in &path {
                for d in &tree.nodes[n].decisions {
                    flags.push((d.tool_round, d.branched));
                }
            }
            // Decisions on this path (others in shared nodes belong to it too: one writer per node).
            flags.sort();
            flags.dedup_by_key(|f| f.0);
            assert!(
                flags.windows(2).all(|w| !(w[0].1 && w[1].1)),
                "consecutive branches: {flags:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// The tree without what legitimately varies between runs: tool wall times.
fn replayable(trees: &[RolloutTree]) -> String {
    let mut trees = trees.to_vec();
    for tree in &mut trees {
        tree.validate().unwrap();
        for seg in tree.nodes.iter_mut().flat_map(|n| n.segments.iter_mut()) {
            if let Some(call) = seg.tool_call.as_mut() {
                call.latency_ms = 0.0;
            }
        }
    }
    serde_json::to_string(&trees).unwrap()
}

#[test]
fn same_seed_replays_bit_identically_despite_tool_jitter() {
    let mode = RolloutMode::Arpo(arpo(12, 3));
    let a = replayable(&run(mode.clone(), 3, 4, 99));
    let b = replayable(&run(mode.clone(), 3, 4, 99));
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    assert!(
        a == b,
        "replay differs at byte {at}: {} vs {}",
        &a[at.saturating_sub(300)..(at + 200).min(a.len())],
        &b[at.saturating_sub(300)..(at + 200).min(b.len())]
    );
    let c = replayable(&run(mode, 3, 4, 100));
    assert_ne!(a, c);
}

/// Every model token's stored log-prob is the policy's log-prob given the whole sequence before
/// it, tool calls' closing tags and results included: the engine feeds the policy exactly the
/// tokens the tree records (the trainer recomputes log-probs from those tokens, so any token
/// missing from the rollout's cache would make the PPO ratio wrong from the first update).
#[test]
fn stored_logprobs_condition_on_every_token_of_the_leaf() {
    let tok = ByteTokenizer::with_tool_tags();
    let inputs = prompts(&tok, 2);
    let policy = ScriptedPolicy {
        prompt_len: inputs[0].prompt_tokens.len(),
        lead: 6,
        calls: 2,
        length_aware: true,
    };
    for mode in [
        RolloutMode::Trajectory { samples: 3 },
        RolloutMode::Arpo(arpo(4, 2)),
    ] {
        for tree in run_policy(&policy, mode.clone(), &inputs, 3) {
            for leaf in 0..tree.leaves.len() {
                let tokens = tree.leaf_tokens(leaf);
                let mut at = 0;
                for seg in tree.leaf_segments(leaf) {
                    for (j, &t) in seg.tokens.iter().enumerate() {
                        if seg.origin == Origin::Model {
                            let logits = policy.logits_after(&tokens[..at]);
                            let max = logits.iter().copied().fold(f32::MIN, f32::max);
                            let norm: f32 = logits.iter().map(|l| (l - max).exp()).sum();
                            let want = logits[t as usize] - max - norm.ln();
                            assert!(
                                (seg.logprobs[j] - want).abs() < 1e-4,
                                "{mode:?} leaf {leaf} position {at}: stored {} vs {want}",
                                seg.logprobs[j]
                            );
                        }
                        at += 1;
                    }
                }
                assert!(
                    at > inputs[0].prompt_tokens.len() + 10,
                    "leaf has a response"
                );
            }
        }
    }
}
