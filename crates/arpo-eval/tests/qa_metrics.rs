//! Token F1, exact match and the normalisation equal the ARPO reference implementation
//! (`deep_research.py`, the SQuAD normalisation with HotpotQA's yes/no rule) on the committed
//! table of cases written by `scripts/eval/qa_metrics.py`, which runs the reference code.

use std::path::Path;

use arpo_eval::scoring::{exact_match, normalize_answer, token_f1};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    source: String,
    pred: String,
    golds: Vec<String>,
    normalized: String,
    f1: f64,
    em: u8,
}

#[test]
fn equal_to_the_reference_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qa_metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let c: Case = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        let at = format!(
            "line {} ({}): {:?} vs {:?}",
            i + 1,
            c.source,
            c.pred,
            c.golds
        );
        assert_eq!(normalize_answer(&c.pred), c.normalized, "{at}");
        assert!(
            (token_f1(&c.pred, &c.golds) - c.f1).abs() < 1e-12,
            "{at}: f1 {} != {}",
            token_f1(&c.pred, &c.golds),
            c.f1
        );
        assert_eq!(exact_match(&c.pred, &c.golds), c.em == 1, "{at}");
        n += 1;
    }
    assert!(n >= 500, "only {n} cases");
}
