//! Paired comparison of two runs on the same questions: how many questions one run gets right
//! that the other gets wrong and back, and the exact sign test (McNemar's exact test) on those
//! discordant pairs. With a few hundred questions the accuracies of two checkpoints differ by a
//! few points through sampling alone; the paired test says whether a gain is more than that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::summary::QuestionRecord;
use crate::{Error, Result};

/// `after` against `before`, question by question (first sample of each).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Questions both runs answered.
    pub questions: usize,
    /// Wrong before, right after.
    pub gained: usize,
    /// Right before, wrong after.
    pub lost: usize,
    /// Two-sided exact p-value of `gained` vs `lost` under "no difference" (each discordant
    /// question equally likely to go either way).
    pub p_value: f64,
}

impl PairedComparison {
    /// Net change in accuracy (fraction of the questions).
    pub fn delta(&self) -> f64 {
        (self.gained as f64 - self.lost as f64) / self.questions.max(1) as f64
    }
}

/// Compares the records of two runs over the same question ids (sample 0 of each). Fails when
/// an id of one run is missing from the other, naming it.
pub fn paired_comparison(
    before: &[QuestionRecord],
    after: &[QuestionRecord],
) -> Result<PairedComparison> {
    let first = |records: &[QuestionRecord]| -> BTreeMap<String, bool> {
        records
            .iter()
            .filter(|r| r.sample == 0)
            .map(|r| (r.id.clone(), r.correct))
            .collect()
    };
    let (b, a) = (first(before), first(after));
    if let Some(id) = b.keys().find(|id| !a.contains_key(*id)) {
        return Err(Error::Config(format!(
            "paired comparison: question {id} is missing from the second run"
        )));
    }
    if let Some(id) = a.keys().find(|id| !b.contains_key(*id)) {
        return Err(Error::Config(format!(
            "paired comparison: question {id} is missing from the first run"
        )));
    }
    let (mut gained, mut lost) = (0, 0);
    for (id, was) in &b {
        match (was, a[id]) {
            (false, true) => gained += 1,
            (true, false) => lost += 1,
            _ => {}
        }
    }
    Ok(PairedComparison {
        questions: b.len(),
        gained,
        lost,
        p_value: sign_test(gained, lost),
    })
}

/// Two-sided exact binomial test of `x` successes against `y` failures at p = ½:
/// `min(1, 2·P[X ≤ min(x, y)])` with X ~ Bin(x + y, ½). Summed in log space, so it stays exact
/// to rounding for thousands of pairs.
pub fn sign_test(x: usize, y: usize) -> f64 {
    let n = x + y;
    if n == 0 {
        return 1.0;
    }
    let m = x.min(y);
    let ln_half_n = n as f64 * 0.5f64.ln();
    // ln C(n, k), built up from ln C(n, 0) = 0.
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0f64;
    for k in 0..=m {
        if k > 0 {
            ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed binomial tails: P[X ≤ m] for X ~ Bin(n, ½) is Σ C(n, k) / 2ⁿ.
    #[test]
    fn sign_test_matches_exact_binomial_tails() {
        assert_eq!(sign_test(0, 0), 1.0);
        assert!((sign_test(0, 5) - 2.0 / 32.0).abs() < 1e-15);
        assert!((sign_test(9, 1) - 2.0 * 11.0 / 1024.0).abs() < 1e-15);
        assert_eq!(sign_test(3, 3), 1.0, "a tie is no evidence");
        // n = 20, m = 5: (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20 = 21700 / 1048576.
        assert!((sign_test(5, 15) - 2.0 * 21700.0 / 1048576.0).abs() < 1e-15);
        // Symmetric, and shrinking as the imbalance grows at a fixed total.
        assert_eq!(sign_test(40, 60), sign_test(60, 40));
        assert!(sign_test(30, 70) < sign_test(40, 60));
        // Large n stays finite and tiny rather than underflowing to NaN.
        let p = sign_test(300, 500);
        assert!(p > 0.0 && p < 1e-10, "{p}");
    }

    fn record(id: &str, correct: bool) -> QuestionRecord {
        QuestionRecord {
            benchmark: "t".into(),
            id: id.into(),
            sample: 0,
            question: String::new(),
            golds: vec![],
            answer: None,
            correct,
            f1: 0.0,
            em: false,
            judge: None,
            tool_calls: Default::default(),
            tokens: 0,
            seconds: 0.0,
            response: None,
        }
    }

    #[test]
    fn counts_discordant_questions_by_id() {
        let before = [record("a", true), record("b", false), record("c", false)];
        // Another order: pairs are matched by id.
        let after = [record("c", true), record("a", false), record("b", true)];
        let p = paired_comparison(&before, &after).unwrap();
        assert_eq!((p.questions, p.gained, p.lost), (3, 2, 1));
        assert!((p.delta() - 1.0 / 3.0).abs() < 1e-12);
        let err = paired_comparison(&before, &after[..2]).unwrap_err();
        assert!(err.to_string().contains("question b"), "{err}");
    }
}
