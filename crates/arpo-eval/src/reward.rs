//! The ARPO reward (docs/arpo.md §5, reference `deep_research.py`): −1 (configurable) when the
//! format gate fails, else the answer score, plus 0.1 when the answer scores above zero and the response
//! called both the search and the code tool. The answer score is token F1 (the reference), math
//! equivalence (1 or 0), or chosen by the task's domain.

use arpo_core::{Domain, Reward, RewardOutcome, Task};
use serde::{Deserialize, Serialize};

use crate::scoring::{
    answer_block, check_format, exact_match, last_boxed, math_equal_any, token_f1, FormatError,
    ToolTags,
};

/// How the extracted answer is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerMetric {
    /// Token F1 against the gold aliases (the reference reward, also for math); `correct` is the
    /// normalised exact match.
    TokenF1,
    /// 1 when math-equivalent to a gold alias, else 0.
    MathEquivalence,
    /// Math equivalence for [`Domain::Math`] tasks, token F1 for the others.
    ByDomain,
}

/// The reference reward with its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArpoReward {
    /// Answer scoring.
    pub metric: AnswerMetric,
    /// Tool tag names, for the format gate and the multi-tool bonus.
    pub tags: ToolTags,
    /// Bonus for a correct answer that used both tools (0.1 in the reference).
    pub multi_tool_bonus: f32,
    /// Score of a response that fails the format gate (−1 in the reference). A value of 0 makes
    /// the reward pure correctness: a malformed response then scores like a wrong one.
    #[serde(default = "reference_format_penalty")]
    pub format_penalty: f32,
}

fn reference_format_penalty() -> f32 {
    -1.0
}

impl ArpoReward {
    /// The reference reward: token F1, default tags, bonus 0.1.
    pub fn f1() -> Self {
        Self {
            metric: AnswerMetric::TokenF1,
            tags: ToolTags::default(),
            multi_tool_bonus: 0.1,
            format_penalty: reference_format_penalty(),
        }
    }

    /// The math reward: math equivalence instead of F1.
    pub fn math() -> Self {
        Self {
            metric: AnswerMetric::MathEquivalence,
            ..Self::f1()
        }
    }

    /// Math equivalence for math tasks, F1 for the others (mixed training data).
    pub fn by_domain() -> Self {
        Self {
            metric: AnswerMetric::ByDomain,
            ..Self::f1()
        }
    }

    /// Scores a response with every intermediate fact.
    pub fn evaluate(&self, task: &Task, response: &str) -> RewardDetail {
        let metric = match (self.metric, task.domain) {
            (AnswerMetric::ByDomain, Domain::Math) => AnswerMetric::MathEquivalence,
            (AnswerMetric::ByDomain, _) => AnswerMetric::TokenF1,
            (m, _) => m,
        };
        let calls = (
            ToolTags::count_calls(response, &self.tags.search),
            ToolTags::count_calls(response, &self.tags.code),
        );
        let fail = |e: FormatError| RewardDetail {
            outcome: RewardOutcome {
                score: self.format_penalty,
                correct: false,
                format_ok: false,
                answer: None,
            },
            format: Err(e),
            accuracy: 0.0,
            search_calls: calls.0,
            code_calls: calls.1,
        };
        if let Err(e) = check_format(response, &self.tags) {
            return fail(e);
        }
        // The gate guarantees one answer block; an unclosed `\boxed{` is a format failure, as the
        // reference's box extraction raises on it.
        let Some(answer) = answer_block(response).and_then(last_boxed) else {
            return fail(FormatError::NoBoxed);
        };
        let (accuracy, correct) = match metric {
            AnswerMetric::MathEquivalence => {
                let ok = math_equal_any(answer, &task.answers);
                (if ok { 1.0 } else { 0.0 }, ok)
            }
            _ => (
                token_f1(answer, &task.answers),
                exact_match(answer, &task.answers),
            ),
        };
        let bonus = accuracy > 0.0 && calls.0 > 0 && calls.1 > 0;
        let score = accuracy as f32 + if bonus { self.multi_tool_bonus } else { 0.0 };
        RewardDetail {
            outcome: RewardOutcome {
                score,
                correct,
                format_ok: true,
                answer: Some(answer.to_string()),
            },
            format: Ok(()),
            accuracy,
            search_calls: calls.0,
            code_calls: calls.1,
        }
    }
}

impl Default for ArpoReward {
    fn default() -> Self {
        Self::f1()
    }
}

impl Reward for ArpoReward {
    fn score(&self, task: &Task, response: &str) -> RewardOutcome {
        self.evaluate(task, response).outcome
    }
}

/// A reward with the facts behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardDetail {
    /// What the trainer consumes.
    pub outcome: RewardOutcome,
    /// The format gate's verdict.
    pub format: Result<(), FormatError>,
    /// Answer score before the bonus (F1, or 1/0 for math equivalence).
    pub accuracy: f64,
    /// Completed search calls.
    pub search_calls: usize,
    /// Completed code calls.
    pub code_calls: usize,
}
