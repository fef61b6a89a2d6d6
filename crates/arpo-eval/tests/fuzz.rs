//! Properties on arbitrary input: extraction, normalisation, F1, math equivalence, the format gate
//! and the rewards never panic, stay in range, and math equivalence is symmetric and reflexive.

use arpo_core::{Domain, Reward, Task};
use arpo_eval::scoring::{
    answer_block, check_format, exact_match, extract_answer, last_boxed, ToolTags,
};
use arpo_eval::{math_equal, normalize_answer, token_f1, ArpoReward};
use proptest::prelude::*;

/// Strings dense in the characters the parsers care about.
fn latexish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\\frac".to_string()),
            Just("\\sqrt".to_string()),
            Just("\\boxed{".to_string()),
            Just("\\left(".to_string()),
            Just("\\right)".to_string()),
            Just("\\pm".to_string()),
            Just("\\text{".to_string()),
            Just("\\begin{pmatrix}".to_string()),
            Just("\\end{pmatrix}".to_string()),
            Just("\\geq ".to_string()),
            Just("\\lfloor".to_string()),
            Just("\\max".to_string()),
            Just("C: ".to_string()),
            Just(":".to_string()),
            Just("<".to_string()),
            Just("<answer>".to_string()),
            Just("</answer>".to_string()),
            Just("<think>".to_string()),
            Just("</think>".to_string()),
            Just("<python>".to_string()),
            Just("</python>".to_string()),
            Just("<search>".to_string()),
            Just("</search>".to_string()),
            Just("<result>".to_string()),
            Just("</result>".to_string()),
            "[0-9]{1,4}".prop_map(|s| s),
            "[a-zA-Z]".prop_map(|s| s),
            "[{}()\\[\\],.^_=+*/!|&$% \\\\-]".prop_map(|s| s),
            "\\PC".prop_map(|s| s),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn extraction_never_panics(s in latexish()) {
        let _ = answer_block(&s);
        let _ = last_boxed(&s);
        if let Some(a) = extract_answer(&s) {
            prop_assert!(!a.is_empty());
        }
    }

    #[test]
    fn extraction_on_any_unicode(s in "\\PC*") {
        let _ = extract_answer(&s);
        let _ = check_format(&s, &ToolTags::default());
    }

    #[test]
    fn boxed_content_round_trips(a in "[a-z0-9+ ]{0,5}", b in "[a-z0-9+ ]{0,5}", c in "[a-z0-9+ ]{0,5}", nest in 0usize..3) {
        // Balanced inner text (nested `{…}` groups) comes back unchanged from `\boxed{…}`.
        let mut inner = b.clone();
        for _ in 0..nest {
            inner = format!("{a}{{{inner}}}{c}");
        }
        let text = format!("{c} \\boxed{{{inner}}} {a}");
        prop_assert_eq!(last_boxed(&text), Some(inner.as_str()));
    }

    #[test]
    fn f1_and_em_in_range(p in "\\PC{0,30}", g in "\\PC{0,30}") {
        let f1 = token_f1(&p, &[g.as_str()]);
        prop_assert!((0.0..=1.0).contains(&f1));
        if exact_match(&p, &[g.as_str()]) && !normalize_answer(&p).is_empty() && !["yes", "no", "noanswer"].contains(&normalize_answer(&p).as_str()) {
            prop_assert!((f1 - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn math_equal_is_symmetric_and_reflexive(a in latexish(), b in latexish()) {
        prop_assert_eq!(math_equal(&a, &b), math_equal(&b, &a), "{:?} vs {:?}", a, b);
        if !a.trim().is_empty() {
            prop_assert!(math_equal(&a, &a));
        }
    }

    #[test]
    fn rewards_stay_in_range(s in latexish(), gold in "[a-z0-9 ]{1,8}") {
        let task = Task::new("0", "fuzz", Domain::Math, "q", vec![gold]);
        for reward in [ArpoReward::f1(), ArpoReward::math(), ArpoReward::by_domain()] {
            let o = reward.score(&task, &s);
            prop_assert!(o.score == -1.0 || (0.0..=1.1 + 1e-6).contains(&o.score), "{}", o.score);
            prop_assert_eq!(o.format_ok, o.score != -1.0);
        }
    }
}
