//! Answer scoring shared by the benchmark harness and the RL rewards (one implementation):
//! extraction of the final answer, the reference QA normalisation with token F1 / exact match,
//! math equivalence, and the reference format gate.

mod extract;
mod format;
pub mod math;
mod qa;

use serde::{Deserialize, Serialize};

pub use extract::{answer_block, extract_answer, last_boxed};
pub use format::{check_format, FormatError, ToolTags};
pub use math::{math_equal, math_equal_any};
pub use qa::{exact_match, normalize_answer, token_f1};

/// String metrics of one extracted answer against the gold aliases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerScore {
    /// Token F1 (max over aliases) with the reference normalisation.
    pub f1: f64,
    /// Normalised exact match with any alias.
    pub em: bool,
    /// Math equivalence with any alias.
    pub math: bool,
}

impl AnswerScore {
    /// Scores `answer` against `golds`; no answer scores zero everywhere.
    pub fn of<S: AsRef<str>>(answer: Option<&str>, golds: &[S]) -> Self {
        match answer {
            None => Self {
                f1: 0.0,
                em: false,
                math: false,
            },
            Some(a) => Self {
                f1: token_f1(a, golds),
                em: exact_match(a, golds),
                math: math_equal_any(a, golds),
            },
        }
    }
}
