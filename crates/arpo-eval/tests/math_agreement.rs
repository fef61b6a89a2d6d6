//! Math equivalence against an independent grader: on the committed (prediction, gold) pairs built
//! from real benchmark answers by `scripts/eval/math_pairs.py`, `math_equal` must agree with the
//! verdict of the PyPI package `math-verify` on at least 99% of the pairs. Disagreements are
//! printed (run with `--nocapture`).

use std::path::Path;

use arpo_eval::math_equal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Pair {
    source: String,
    gold: String,
    pred: String,
    rewrite: String,
    intended: bool,
    math_verify: bool,
}

#[test]
fn agrees_with_math_verify() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/math_pairs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pairs: Vec<Pair> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect();
    assert!(pairs.len() >= 500, "only {} pairs", pairs.len());
    let mut disagree = Vec::new();
    let mut intended_ok = 0;
    for p in &pairs {
        let ours = math_equal(&p.pred, &p.gold);
        intended_ok += usize::from(ours == p.intended);
        if ours != p.math_verify {
            disagree.push(p);
        }
    }
    let agreement = 1.0 - disagree.len() as f64 / pairs.len() as f64;
    eprintln!(
        "math_equal vs math-verify: {}/{} agree ({:.2}%); vs the intended labels: {}/{}",
        pairs.len() - disagree.len(),
        pairs.len(),
        100.0 * agreement,
        intended_ok,
        pairs.len()
    );
    for p in &disagree {
        eprintln!(
            "  {} [{}] gold {:?} pred {:?}: math-verify {}, ours {}, intended {}",
            p.source, p.rewrite, p.gold, p.pred, p.math_verify, !p.math_verify, p.intended
        );
    }
    assert!(agreement >= 0.99, "agreement {:.4} below 0.99", agreement);
}
