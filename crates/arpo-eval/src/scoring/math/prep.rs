//! String clean-up before parsing a math answer: math delimiters, currency, LaTeX spacing,
//! `\dfrac`, `\left`/`\right`, degrees, percentages, `\text{}` units and trailing unit words.

use crate::scoring::extract::{last_boxed, matched_group};

/// A cleaned answer and what was stripped from it that still matters for comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    /// The cleaned LaTeX.
    pub text: String,
    /// The answer ended in a percent sign (`x%` may mean `x` or `x/100`).
    pub percent: bool,
}

/// One-for-one replacements: Unicode math symbols and LaTeX spellings that mean the same.
const REPLACE: &[(&str, &str)] = &[
    ("\u{2212}", "-"),
    ("\u{2013}", "-"),
    ("\u{00d7}", "\\times "),
    ("\u{00b7}", "\\cdot "),
    ("\u{22c5}", "\\cdot "),
    ("\u{00f7}", "\\div "),
    ("\u{221a}", "\\sqrt"),
    ("\u{03c0}", "\\pi "),
    ("\u{221e}", "\\infty "),
    ("\u{222a}", "\\cup "),
    ("\u{00b1}", "\\pm "),
    ("\u{ff0c}", ","),
    ("\u{ff1e}", ">"),
    ("\u{ff1c}", "<"),
    ("\u{2264}", "\\le "),
    ("\u{2265}", "\\ge "),
    ("\u{2260}", "\\ne "),
    ("\\_", "_"),
    ("\\thinspace", " "),
    ("\u{00b0}", ""),
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\cfrac", "\\frac"),
    ("\\dbinom", "\\binom"),
    ("\\tbinom", "\\binom"),
    ("\\displaystyle", ""),
    ("\\textstyle", ""),
    ("\\limits", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("^{\\circ }", ""),
    ("\\circ", ""),
    ("\\degree", ""),
    ("\\!", ""),
    ("{,}", ","),
    ("\\,", " "),
    ("\\;", " "),
    ("\\:", " "),
    ("\\qquad", " "),
    ("\\quad", " "),
    ("\\ ", " "),
    ("~", " "),
    ("\\$", ""),
    ("$", ""),
    ("\\(", ""),
    ("\\)", ""),
    ("\\[", ""),
    ("\\]", ""),
];

/// Commands whose argument is text (a unit, a word, or the whole answer).
const TEXT_COMMANDS: &[&str] = &[
    "\\text",
    "\\textbf",
    "\\textit",
    "\\textrm",
    "\\mbox",
    "\\mathrm",
    "\\textnormal",
];

/// Cleans an answer for parsing. Never fails; the result may be empty.
pub(crate) fn prepare(raw: &str) -> Prepared {
    let mut s = raw.trim();
    if let Some(inner) = last_boxed(s) {
        s = inner;
    }
    let mut s = s.to_string();
    for (from, to) in REPLACE {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s = drop_sizing(&s);
    // `a \approx b` states an approximation of `a`: keep the exact part.
    if let Some((exact, _)) = s.split_once("\\approx") {
        s = exact.to_string();
    }
    s = unwrap_text(&s);
    let mut t = s
        .trim()
        .trim_end_matches(['.', ';', ','])
        .trim_end()
        .to_string();
    let mut percent = false;
    for p in ["\\%", "%"] {
        if let Some(stripped) = t.strip_suffix(p) {
            t = stripped.trim_end().to_string();
            percent = true;
        }
    }
    let t = t.replace("\\%", "").replace('%', "");
    let t = t.trim_end_matches('\\');
    let t = strip_unit_words(t);
    Prepared {
        text: t
            .trim()
            .trim_end_matches(['.', ';', ','])
            .trim()
            .to_string(),
        percent,
    }
}

/// Removes `\left`, `\right`, `\big`… when they size a delimiter (not `\rightarrow`), and the `.`
/// of an invisible `\left.` / `\right.`.
fn drop_sizing(s: &str) -> String {
    const SIZING: &[&str] = &[
        "\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\big",
        "\\Big", "\\bigg", "\\Bigg",
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while !rest.is_empty() {
        if rest.starts_with('\\') {
            for cmd in SIZING {
                if let Some(after) = rest.strip_prefix(cmd) {
                    if !after.starts_with(|c: char| c.is_ascii_alphabetic()) {
                        rest = after.strip_prefix('.').unwrap_or(after);
                        continue 'outer;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Handles `\text{…}`-like groups: when the rest of the answer holds a number, the groups are
/// units or words and are dropped (with a following `^2` / `^3`; `and` / `or` become commas);
/// otherwise the answer is text and the groups are unwrapped.
fn unwrap_text(s: &str) -> String {
    let mut pieces: Vec<(usize, usize, &str)> = Vec::new();
    let mut from = 0;
    while let Some((start, cmd)) = TEXT_COMMANDS
        .iter()
        .filter_map(|c| find_command(&s[from..], c).map(|p| (from + p, *c)))
        .min_by_key(|(p, _)| *p)
    {
        let open = start + cmd.len();
        let open = open + s[open..].len() - s[open..].trim_start().len();
        let Some((inner, mut end)) = matched_group(s, open) else {
            break;
        };
        for pow in ["^{2}", "^{3}", "^2", "^3"] {
            if s[end..].starts_with(pow) {
                end += pow.len();
                break;
            }
        }
        pieces.push((start, end, inner));
        from = end;
    }
    if pieces.is_empty() {
        return s.to_string();
    }
    let mut remainder = String::new();
    let mut last = 0;
    for (start, end, _) in &pieces {
        remainder.push_str(&s[last..*start]);
        last = *end;
    }
    remainder.push_str(&s[last..]);
    let numeric = remainder.chars().any(|c| c.is_ascii_digit());
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (start, end, inner) in pieces {
        out.push_str(&s[last..start]);
        let word = inner.trim();
        if matches!(word, "and" | "or" | ",") {
            out.push(',');
        } else if !numeric || !word.chars().any(char::is_alphabetic) {
            // Text answers are unwrapped; next to a number only letter-free groups survive.
            out.push_str(inner);
        }
        out.push(' ');
        last = end;
    }
    out.push_str(&s[last..]);
    out
}

/// Position of `cmd` in `s` where it is not the prefix of a longer command name.
fn find_command(s: &str, cmd: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(cmd) {
        let at = from + p;
        let next = s[at + cmd.len()..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphabetic()) {
            return Some(at);
        }
        from = at + cmd.len();
    }
    None
}

/// Drops trailing unit words (`18 eggs`, `5 cm^2`) and turns standalone `and` / `or` into commas,
/// when the answer holds a number.
fn strip_unit_words(s: &str) -> String {
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return s.to_string();
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let is_unit = |w: &str| {
        let base = w.split('^').next().unwrap_or(w);
        base.len() >= 2 && base.chars().all(|c| c.is_ascii_alphabetic())
    };
    let mut keep = words.len();
    while keep > 1 && is_unit(words[keep - 1]) {
        keep -= 1;
    }
    words[..keep]
        .iter()
        .map(|w| if matches!(*w, "and" | "or") { "," } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        prepare(s).text
    }

    #[test]
    fn cleans_common_wrappers() {
        assert_eq!(p(r"$\boxed{\dfrac{1}{2}}$"), r"\frac{1}{2}");
        assert_eq!(p(r"\$32,\!348"), "32,348");
        assert_eq!(p(r"864 \mbox{ inches}^2"), "864");
        assert_eq!(p(r"\frac{270}7\text{ degrees}"), r"\frac{270}7");
        assert_eq!(p(r"\text{Evelyn}"), "Evelyn");
        assert_eq!(p(r"\text{(C)}"), "(C)");
        assert_eq!(p(r"90^\circ"), "90");
        assert_eq!(
            p(r"\left( 3, \frac{\pi}{2} \right)"),
            r"( 3, \frac{\pi}{2} )"
        );
        assert_eq!(p("18 eggs."), "18");
        assert_eq!(p(r"\rightarrow"), r"\rightarrow");
        let q = prepare(r"50\%");
        assert_eq!((q.text.as_str(), q.percent), ("50", true));
    }
}
