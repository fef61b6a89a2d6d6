//! Token F1 and exact match with the reference normalisation (SQuAD's `normalize_answer` as used
//! by the ARPO reference `deep_research.py`): lowercase, drop ASCII punctuation, drop the articles
//! a/an/the, collapse whitespace. F1 follows the reference `get_f1_score`, including its HotpotQA
//! rule that a yes/no/noanswer prediction or gold scores 0 unless both are equal.

use std::collections::HashMap;

/// The reference normalisation: `white_space_fix(remove_articles(remove_punc(lower(s))))`.
pub fn normalize_answer(s: &str) -> String {
    let lowered = s.to_lowercase();
    let no_punc: String = lowered
        .chars()
        .filter(|c| !is_ascii_punctuation(*c))
        .collect();
    let no_articles = remove_articles(&no_punc);
    no_articles
        .split(is_py_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Python's `string.punctuation`.
fn is_ascii_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// Python's `str.isspace` (Rust's `char::is_whitespace` plus the ASCII separators U+001C–U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A character of Python's `\w` for `str` patterns (alphanumeric or `_`). Rust's alphanumeric set
/// also counts a few combining marks that Python does not; it matters only for an article glued
/// to such a mark.
fn is_py_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `re.sub(r"\b(a|an|the)\b", " ", text)`: a maximal run of word characters equal to an article
/// is replaced by one space.
fn remove_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let is_word = is_py_word(c);
        let end = rest
            .find(|ch: char| is_py_word(ch) != is_word)
            .unwrap_or(rest.len());
        let run = &rest[..end];
        if is_word && matches!(run, "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(run);
        }
        rest = &rest[end..];
    }
    out
}

/// Normalised exact match against any gold alias (the reference `em_check`).
pub fn exact_match<S: AsRef<str>>(prediction: &str, golds: &[S]) -> bool {
    let pred = normalize_answer(prediction);
    golds.iter().any(|g| normalize_answer(g.as_ref()) == pred)
}

/// Token F1, max over gold aliases (the reference `get_f1_score`).
pub fn token_f1<S: AsRef<str>>(prediction: &str, golds: &[S]) -> f64 {
    let pred = normalize_answer(prediction);
    golds
        .iter()
        .map(|g| f1_normalized(&pred, &normalize_answer(g.as_ref())))
        .fold(0.0, f64::max)
}

const SPECIAL: [&str; 3] = ["yes", "no", "noanswer"];

fn f1_normalized(pred: &str, gold: &str) -> f64 {
    if (SPECIAL.contains(&pred) || SPECIAL.contains(&gold)) && pred != gold {
        return 0.0;
    }
    let pred_tokens: Vec<&str> = pred.split(' ').filter(|t| !t.is_empty()).collect();
    let gold_tokens: Vec<&str> = gold.split(' ').filter(|t| !t.is_empty()).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &gold_tokens {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0usize;
    for t in &pred_tokens {
        if let Some(n) = counts.get_mut(t) {
            if *n > 0 {
                *n -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / pred_tokens.len() as f64;
    let recall = same as f64 / gold_tokens.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_by_hand() {
        assert_eq!(
            normalize_answer("The  Eiffel-Tower, Paris!"),
            "eiffeltower paris"
        );
        assert_eq!(normalize_answer("an apple a day"), "apple day");
        assert_eq!(normalize_answer("Anna and the theme"), "anna and theme");
    }

    #[test]
    fn f1_by_hand() {
        // pred tokens {new, york}, gold {new, york, city}: p = 1, r = 2/3, f1 = 0.8.
        assert!((token_f1("New York", &["New York City"]) - 0.8).abs() < 1e-12);
        assert_eq!(token_f1("yes", &["no"]), 0.0);
        assert_eq!(token_f1("yes", &["yes"]), 1.0);
        assert_eq!(token_f1("anything", &[] as &[&str]), 0.0);
        assert!(exact_match("the Big Apple", &["NYC", "big apple"]));
    }
}
