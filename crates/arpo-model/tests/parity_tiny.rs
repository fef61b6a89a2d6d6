//! Parity with HF transformers on tiny random checkpoints (Qwen2 with q/k/v bias and untied head,
//! Llama with tied head and Llama-3 RoPE scaling, Qwen3 with q/k norm), and the cached paths
//! against the full forward.
//!
//! Reference: `scripts/reference/make_tiny_fixtures.py` wrote each checkpoint with transformers
//! and stored transformers' float32 logits for a batch of prompts of different lengths.

use std::path::PathBuf;

use arpo_model::{load_model, CausalLm, KvCache, PaddedBatch};
use burn::backend::Flex;
use burn::tensor::Tensor;

type B = Flex;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Reference {
    prompts: Vec<Vec<u32>>,
    /// `[prompt][position][vocab]`
    logits: Vec<Vec<Vec<f32>>>,
}

fn reference(name: &str) -> Reference {
    let text = std::fs::read_to_string(fixture(name).join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    Reference {
        prompts: serde_json::from_value(v["prompts"].clone()).unwrap(),
        logits: serde_json::from_value(v["logits"].clone()).unwrap(),
    }
}

fn model(name: &str) -> CausalLm<B> {
    load_model::<B>(&fixture(name), 256, &Default::default()).unwrap()
}

fn rows(t: Tensor<B, 3>) -> Vec<Vec<Vec<f32>>> {
    let [b, s, v] = t.dims();
    let flat = t.into_data().to_vec::<f32>().unwrap();
    (0..b)
        .map(|i| {
            (0..s)
                .map(|j| flat[(i * s + j) * v..(i * s + j + 1) * v].to_vec())
                .collect()
        })
        .collect()
}

/// Logits of one sequence's full (uncached) forward, `[position][vocab]`.
fn full_forward(m: &CausalLm<B>, seq: &[u32]) -> Vec<Vec<f32>> {
    let batch = PaddedBatch::<B>::new(&[seq.to_vec()], &m.device()).unwrap();
    rows(m.forward(batch.tokens).unwrap()).remove(0)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Full forward of a padded batch against transformers' logits: ≤ 1e-4.
fn check_full_forward(name: &str) {
    let r = reference(name);
    let m = model(name);
    let batch = PaddedBatch::<B>::new(&r.prompts, &m.device()).unwrap();
    let got = rows(m.forward(batch.tokens).unwrap());
    let mut worst = 0.0f32;
    for (i, p) in r.prompts.iter().enumerate() {
        for j in 0..p.len() {
            worst = worst.max(max_abs_diff(&got[i][j], &r.logits[i][j]));
        }
    }
    eprintln!("{name}: max abs diff {worst:e} vs transformers");
    assert!(
        worst <= 1e-4,
        "{name}: max abs diff {worst} vs transformers"
    );
}

#[test]
fn qwen2_with_bias_and_untied_head_matches_transformers() {
    check_full_forward("tiny-qwen2");
}

#[test]
fn llama_with_tied_head_and_llama3_rope_matches_transformers() {
    check_full_forward("tiny-llama");
}

#[test]
fn qwen3_with_qk_norm_matches_transformers() {
    check_full_forward("tiny-qwen3");
}

/// One-token-at-a-time decoding with a cache equals the full forward (≤ 1e-5), for each prompt.
#[test]
fn cached_decoding_equals_full_forward() {
    for name in ["tiny-qwen2", "tiny-llama", "tiny-qwen3"] {
        let r = reference(name);
        let m = model(name);
        for p in &r.prompts {
            let full = full_forward(&m, p);
            let mut caches = vec![m.new_cache()];
            for (j, &t) in p.iter().enumerate() {
                let step = m
                    .extend(&[vec![t]], &mut caches)
                    .unwrap()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap();
                let d = max_abs_diff(&step, &full[j]);
                assert!(d <= 1e-5, "{name}: position {j} differs by {d}");
            }
            assert_eq!(caches[0].len(), p.len());
        }
    }
}

/// A fork shares the prefix: two branches and the parent continue differently, and each equals
/// the full forward of its own sequence. Branch `a` decodes last, so any write into the shared
/// chunk by `b` or the parent would show up in `a`'s logits.
#[test]
fn forked_caches_equal_full_forward_of_each_branch() {
    let m = model("tiny-qwen2");
    let prefix: Vec<u32> = vec![3, 14, 15, 92, 65, 35];
    let full_of = |tail: &[u32]| {
        let seq: Vec<u32> = prefix.iter().chain(tail).copied().collect();
        full_forward(&m, &seq)
    };
    let decode = |cache: &mut KvCache<B>, tail: &[u32], label: &str| {
        let full = full_of(tail);
        let mut caches = vec![cache.clone()];
        for (j, &t) in tail.iter().enumerate() {
            let step = m
                .extend(&[vec![t]], &mut caches)
                .unwrap()
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let d = max_abs_diff(&step, &full[prefix.len() + j]);
            assert!(d <= 1e-5, "{label}: position {j} differs by {d}");
        }
        *cache = caches.remove(0);
    };
    let mut parent = vec![m.new_cache()];
    m.extend(&[prefix.clone()], &mut parent).unwrap();
    let mut a = parent[0].clone();
    let mut b = parent[0].clone();
    decode(&mut b, &[32, 38, 46, 26], "branch b");
    let mut p = parent.remove(0);
    decode(&mut p, &[1, 2], "parent");
    decode(&mut a, &[8, 9, 79], "branch a");
    assert!(
        a.num_chunks() >= 2 && b.num_chunks() >= 2,
        "branches write their own chunks"
    );
    assert_eq!((a.len(), b.len(), p.len()), (9, 10, 8));
}

/// Batched extension of sequences with different histories and lengths equals each sequence's
/// own full forward at its last position.
#[test]
fn batched_extend_with_ragged_histories_equals_full_forward() {
    let m = model("tiny-llama");
    let r = reference("tiny-llama");
    // Different prefixes already in the caches, then different numbers of new tokens.
    let splits = [3usize, 9, 1];
    let mut caches: Vec<_> = r.prompts.iter().map(|_| m.new_cache()).collect();
    for (i, p) in r.prompts.iter().enumerate() {
        m.extend(&[p[..splits[i]].to_vec()], &mut caches[i..i + 1])
            .unwrap();
    }
    let rest: Vec<Vec<u32>> = r
        .prompts
        .iter()
        .zip(splits)
        .map(|(p, s)| p[s..].to_vec())
        .collect();
    let out = m.extend(&rest, &mut caches).unwrap();
    let v = m.vocab_size();
    let flat = out.into_data().to_vec::<f32>().unwrap();
    for (i, p) in r.prompts.iter().enumerate() {
        let d = max_abs_diff(&flat[i * v..(i + 1) * v], &r.logits[i][p.len() - 1]);
        assert!(d <= 1e-4, "row {i}: {d} vs transformers");
        assert_eq!(caches[i].len(), p.len());
    }
}

/// A packed tree (shared prefix once, each branch attending to its ancestors only, positions =
/// depth) gives every token the logits of its own root-to-leaf sequence.
#[test]
fn tree_packed_forward_equals_per_branch_forward() {
    use arpo_model::attention_mask;
    use burn::tensor::{Int, TensorData};
    let m = model("tiny-qwen3");
    let device = m.device();
    // prefix [0..3), branch A [3..5), branch B [5..7)
    let tokens: Vec<i64> = vec![11, 22, 33, 44, 55, 66, 77];
    let parent: [Option<usize>; 7] = [None, Some(0), Some(1), Some(2), Some(3), Some(2), Some(5)];
    let mut depth = vec![0i64; 7];
    let mut allowed = vec![vec![false; 7]; 7];
    for i in 0..7 {
        let mut a = Some(i);
        while let Some(j) = a {
            allowed[i][j] = true;
            a = parent[j];
        }
        depth[i] = allowed[i].iter().filter(|&&x| x).count() as i64 - 1;
    }
    let t = Tensor::<B, 2, Int>::from_data(TensorData::new(tokens.clone(), [1, 7]), &device);
    let p = Tensor::<B, 2, Int>::from_data(TensorData::new(depth, [1, 7]), &device);
    let packed = rows(
        m.head(
            m.forward_hidden_masked(t, p, attention_mask::<B>(&allowed, &device))
                .unwrap(),
        ),
    )
    .remove(0);
    let seq_a: Vec<u32> = [11, 22, 33, 44, 55].to_vec();
    let seq_b: Vec<u32> = [11, 22, 33, 66, 77].to_vec();
    let full = rows(
        m.forward(
            PaddedBatch::<B>::new(&[seq_a, seq_b], &device)
                .unwrap()
                .tokens,
        )
        .unwrap(),
    );
    let expect = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 3), (1, 4)];
    for (i, (row, pos)) in expect.into_iter().enumerate() {
        let d = max_abs_diff(&packed[i], &full[row][pos]);
        assert!(d <= 1e-5, "packed token {i}: {d}");
    }
}

/// After a 20-token prompt: single tokens, a 30-token block that overflows the first 64-row
/// chunk, singles, a 40-token block that overflows the grown one, singles (150 tokens in all).
fn engine_pieces() -> Vec<std::ops::Range<usize>> {
    (20..55)
        .map(|i| i..i + 1)
        .chain([55..85])
        .chain((85..100).map(|i| i..i + 1))
        .chain([100..140])
        .chain((140..150).map(|i| i..i + 1))
        .collect()
}

/// The rollout engine's pattern on one forked sequence: a prompt, single decoded tokens, a
/// multi-token tool result that overflows the chunk (so the buffer grows), more single tokens,
/// another block, more singles — every logits row equals the full forward of the whole sequence.
/// (Growth of a private chunk is the path exercised here; the tests above stay within one
/// 64-token buffer.)
#[test]
fn cache_growth_across_blocks_equals_full_forward() {
    let m = model("tiny-llama");
    let seq: Vec<u32> = (0..150u32).map(|i| (i * 37 + 11) % 97).collect();
    let full = full_forward(&m, &seq);
    let mut start = vec![m.new_cache()];
    m.extend(&[seq[..20].to_vec()], &mut start).unwrap();
    // A second holder of the prompt chunk, as the engine keeps the prefilled prompt for refills.
    let mut caches = vec![start[0].clone()];
    let pieces = engine_pieces();
    for piece in pieces {
        let out = m
            .extend(&[seq[piece.clone()].to_vec()], &mut caches)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let d = max_abs_diff(&out, &full[piece.end - 1]);
        assert!(d <= 1e-4, "after {piece:?}: logits differ by {d}");
    }
    assert_eq!(caches[0].len(), 150);
}

/// The same pattern batched with a second sequence that decodes one token per call, as paths of
/// a rollout share each forward: both rows equal their own full forwards at every call.
#[test]
fn batched_growth_beside_single_token_decoding_equals_full_forward() {
    let m = model("tiny-llama");
    let a: Vec<u32> = (0..150u32).map(|i| (i * 37 + 11) % 97).collect();
    let b: Vec<u32> = (0..150u32).map(|i| (i * 13 + 5) % 97).collect();
    let (full_a, full_b) = (full_forward(&m, &a), full_forward(&m, &b));
    let mut caches = vec![m.new_cache(), m.new_cache()];
    m.extend(&[a[..20].to_vec(), b[..20].to_vec()], &mut caches)
        .unwrap();
    let pieces = engine_pieces();
    let v = m.vocab_size();
    for (k, piece) in pieces.into_iter().enumerate() {
        let at_b = 20 + k;
        let out = m
            .extend(&[a[piece.clone()].to_vec(), vec![b[at_b]]], &mut caches)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let da = max_abs_diff(&out[..v], &full_a[piece.end - 1]);
        let db = max_abs_diff(&out[v..], &full_b[at_b]);
        assert!(da <= 1e-4 && db <= 1e-4, "after {piece:?}: {da} / {db}");
    }
}

/// Single-token decoding of a batch whose histories differ in length and layout — two branches
/// of a fork (a shared chunk plus their own) and an unforked sequence in one chunk, as in an
/// ARPO rollout step — gives every row its own sequence's full-forward logits at every step.
#[test]
fn batched_single_token_decoding_over_forked_and_ragged_histories() {
    let m = model("tiny-qwen3");
    let trunk: Vec<u32> = (0..12u32).map(|i| (i * 29 + 3) % 97).collect();
    let a: Vec<u32> = trunk
        .iter()
        .copied()
        .chain((0..30u32).map(|i| (i * 7 + 1) % 97))
        .collect();
    let b: Vec<u32> = trunk
        .iter()
        .copied()
        .chain((0..30u32).map(|i| (i * 11 + 2) % 97))
        .collect();
    let c: Vec<u32> = (0..70u32).map(|i| (i * 17 + 9) % 97).collect();
    let fulls = [
        full_forward(&m, &a),
        full_forward(&m, &b),
        full_forward(&m, &c),
    ];
    let mut trunk_cache = vec![m.new_cache()];
    m.extend(&[trunk.clone()], &mut trunk_cache).unwrap();
    let mut lone = vec![m.new_cache()];
    // c starts 28 tokens ahead, so the three histories never have equal lengths.
    m.extend(&[c[..40].to_vec()], &mut lone).unwrap();
    let mut caches = vec![
        trunk_cache[0].clone(),
        trunk_cache[0].clone(),
        lone.remove(0),
    ];
    let v = m.vocab_size();
    for step in 0..30 {
        let (at_ab, at_c) = (trunk.len() + step, 40 + step);
        let out = m
            .extend(
                &[vec![a[at_ab]], vec![b[at_ab]], vec![c[at_c]]],
                &mut caches,
            )
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        for (row, at) in [(0, at_ab), (1, at_ab), (2, at_c)] {
            let d = max_abs_diff(&out[row * v..(row + 1) * v], &fulls[row][at]);
            assert!(d <= 1e-4, "step {step}, row {row}: logits differ by {d}");
        }
    }
    assert!(caches[0].num_chunks() >= 2 && caches[2].num_chunks() >= 1);
    assert_eq!((caches[0].len(), caches[2].len()), (42, 70));
}
