//! Scoring one response for the harness, with the same functions as the RL rewards: the answer
//! is extracted once, then compared by math equivalence, token F1 / exact match, and — for the
//! judged benchmarks — handed to the LLM judge when the string checks do not already accept it
//! (the reference asks the judge only after a string math-equivalence check).

use serde::{Deserialize, Serialize};

use crate::scoring::{extract_answer, AnswerScore};
use crate::Metric;

/// String-level scores of one response and whether the judge should still be asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The extracted final answer.
    pub answer: Option<String>,
    /// Token F1 against the gold aliases.
    pub f1: f64,
    /// Normalised exact match.
    pub em: bool,
    /// Math equivalence with a gold alias.
    pub math: bool,
    /// The verdict from string metrics alone.
    pub correct: bool,
    /// The judge decides this response (when a judge is configured).
    pub needs_judge: bool,
}

/// Scores `response` under `metric`. Math: correct when math-equivalent (the judge is asked
/// about the rest only when `judge_math`). Token F1: correct on normalised exact match, F1
/// reported beside. LLM judge: correct when math-equivalent or an exact match; otherwise the
/// judge decides.
pub fn score_response<S: AsRef<str>>(
    metric: Metric,
    response: &str,
    golds: &[S],
    judge_math: bool,
) -> Scored {
    let answer = extract_answer(response);
    let s = AnswerScore::of(answer.as_deref(), golds);
    let (correct, needs_judge) = match metric {
        Metric::MathEquivalence => (s.math, judge_math && !s.math && answer.is_some()),
        Metric::TokenF1 => (s.em, false),
        Metric::LlmJudge => {
            let by_string = s.math || s.em;
            (by_string, !by_string)
        }
    };
    Scored {
        answer,
        f1: s.f1,
        em: s.em,
        math: s.math,
        correct,
        needs_judge,
    }
}

/// What the judge reads as the model output: the extracted answer, or the last few non-empty
/// lines of the response when no answer was given (the reference passes the last lines).
pub fn judge_input(scored: &Scored, response: &str) -> String {
    if let Some(a) = &scored.answer {
        return a.clone();
    }
    let lines: Vec<&str> = response
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    let start = tail.len().saturating_sub(2000);
    let start = (start..=tail.len())
        .find(|&i| tail.is_char_boundary(i))
        .unwrap_or(tail.len());
    tail[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_rules() {
        let golds = ["18"];
        let r = r"<answer> The final answer is \[ \boxed{18} \] </answer>";
        let s = score_response(Metric::MathEquivalence, r, &golds, true);
        assert!(s.correct && s.math && !s.needs_judge);
        let wrong = r"<answer> \boxed{17} </answer>";
        let s = score_response(Metric::MathEquivalence, wrong, &golds, false);
        assert!(!s.correct && !s.needs_judge);
        assert!(score_response(Metric::MathEquivalence, wrong, &golds, true).needs_judge);
        // No answer at all: nothing for the math judge to compare.
        assert!(!score_response(Metric::MathEquivalence, "none", &golds, true).needs_judge);

        let golds = ["Paris", "City of Paris"];
        let s = score_response(
            Metric::TokenF1,
            r"<answer>\boxed{the city of Paris}</answer>",
            &golds,
            false,
        );
        assert!(s.correct && s.em && (s.f1 - 1.0).abs() < 1e-12);
        let s = score_response(
            Metric::TokenF1,
            r"<answer>\boxed{Paris, France}</answer>",
            &golds,
            false,
        );
        assert!(!s.correct && s.f1 > 0.0 && s.f1 < 1.0);

        let s = score_response(
            Metric::LlmJudge,
            r"<answer>\boxed{paris}</answer>",
            &golds,
            false,
        );
        assert!(s.correct && !s.needs_judge);
        let s = score_response(
            Metric::LlmJudge,
            r"<answer>\boxed{Lutetia}</answer>",
            &golds,
            false,
        );
        assert!(!s.correct && s.needs_judge);
    }

    #[test]
    fn judge_reads_the_answer_or_the_last_lines() {
        let s = score_response(
            Metric::LlmJudge,
            r"x <answer>\boxed{Lutetia}</answer>",
            &["Paris"],
            false,
        );
        assert_eq!(judge_input(&s, ""), "Lutetia");
        let text = "a\nb\n\nc\nd\ne\nf\ng";
        let s = score_response(Metric::LlmJudge, text, &["Paris"], false);
        assert_eq!(judge_input(&s, text), "c\nd\ne\nf\ng");
    }
}
