//! The ARPO reward against the reference: on the committed responses of
//! `scripts/eval/reward_cases.py` (scored there by the transcribed reference `compute_score`),
//! `ArpoReward::f1()` gives the same score and extracted answer. The math variant and the tag
//! options are checked on hand-computed cases.

use std::path::Path;

use arpo_core::{Domain, Reward, Task};
use arpo_eval::scoring::{FormatError, ToolTags};
use arpo_eval::ArpoReward;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    kind: String,
    golds: Vec<String>,
    response: String,
    score: f64,
    answer: Option<String>,
}

#[test]
fn f1_reward_equals_the_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reward_cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reward = ArpoReward::f1();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let c: Case = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        let task = Task::new(i.to_string(), "t", Domain::Knowledge, "q", c.golds.clone());
        let got = reward.score(&task, &c.response);
        let at = format!("line {} [{}] golds {:?}", i + 1, c.kind, c.golds);
        assert!(
            (f64::from(got.score) - c.score).abs() < 1e-6,
            "{at}: score {} != reference {}",
            got.score,
            c.score
        );
        assert_eq!(got.format_ok, c.score != -1.0, "{at}");
        assert_eq!(got.answer, c.answer, "{at}");
        n += 1;
    }
    assert!(n >= 100, "only {n} cases");
}

fn task(domain: Domain, gold: &str) -> Task {
    Task::new("0", "t", domain, "q", vec![gold.to_string()])
}

const TOOLS: &str = "<think>a</think><search>q</search><result>r</result><python>1</python><result>1</result><think>b</think>";

#[test]
fn math_reward_decides_equivalence() {
    let half = task(Domain::Math, r"\frac{1}{2}");
    let response = |ans: &str| format!("<think>t</think><answer>\\boxed{{{ans}}}</answer>");
    // F1 sees no common token between `0.5` and `\frac{1}{2}`; equivalence does.
    assert_eq!(ArpoReward::f1().score(&half, &response("0.5")).score, 0.0);
    let m = ArpoReward::math().score(&half, &response("0.5"));
    assert_eq!((m.score, m.correct, m.format_ok), (1.0, true, true));
    assert_eq!(
        ArpoReward::math()
            .score(&half, &response(r"\dfrac{2}{4}"))
            .score,
        1.0
    );
    assert_eq!(ArpoReward::math().score(&half, &response("0.6")).score, 0.0);
    // Bonus only with a correct answer and both tools.
    let with_tools = format!("{TOOLS}<answer>\\boxed{{0.5}}</answer>");
    assert!((ArpoReward::math().score(&half, &with_tools).score - 1.1).abs() < 1e-6);
    let wrong_with_tools = format!("{TOOLS}<answer>\\boxed{{7}}</answer>");
    assert_eq!(
        ArpoReward::math().score(&half, &wrong_with_tools).score,
        0.0
    );
    assert_eq!(
        ArpoReward::math()
            .score(&half, "<answer>\\boxed{0.5}</answer>")
            .score,
        -1.0
    );
}

#[test]
fn by_domain_switches_metric() {
    let r = ArpoReward::by_domain();
    let response = "<think>t</think><answer>\\boxed{0.5}</answer>";
    assert_eq!(
        r.score(&task(Domain::Math, r"\frac12"), response).score,
        1.0
    );
    assert_eq!(
        r.score(&task(Domain::Knowledge, r"\frac12"), response)
            .score,
        0.0
    );
    let partial = "<think>t</think><answer>\\boxed{New York}</answer>";
    let s = r.score(&task(Domain::Knowledge, "New York City"), partial);
    assert!((s.score - 0.8).abs() < 1e-6 && !s.correct);
}

#[test]
fn tags_are_configurable() {
    let r = ArpoReward {
        tags: ToolTags {
            code: "code".into(),
            search: "web".into(),
            result: "output".into(),
        },
        ..ArpoReward::f1()
    };
    let t = task(Domain::Knowledge, "Paris");
    let ok = "<think>a</think><web>q</web><output>r</output><code>1</code><output>1</output><answer>\\boxed{Paris}</answer>";
    let d = r.evaluate(&t, ok);
    assert_eq!((d.search_calls, d.code_calls), (1, 1));
    assert!((d.outcome.score - 1.1).abs() < 1e-6 && d.outcome.correct);
    let missing = "<think>a</think><code>1</code><answer>\\boxed{Paris}</answer>";
    assert_eq!(
        r.evaluate(&t, missing).format,
        Err(FormatError::ToolIncomplete("code".into()))
    );
    // With the default tags the custom tool tags are plain text: no bonus.
    assert_eq!(ArpoReward::f1().score(&t, ok).score, 1.0);
}

#[test]
fn the_format_penalty_is_configurable_and_touches_only_malformed_responses() {
    // Reference: −1 for a failed format gate (docs/arpo.md §5); a penalty of 0 scores a malformed
    // response like a wrong one and leaves well-formed scores unchanged.
    let t = task(Domain::Math, "12");
    let malformed = "<think>a</think><python>1</python><answer>\\boxed{12}</answer>";
    let right = "<think>a</think><answer>\\boxed{12}</answer>";
    let wrong = "<think>a</think><answer>\\boxed{13}</answer>";
    let reference = ArpoReward::math();
    let lenient = ArpoReward {
        format_penalty: 0.0,
        ..ArpoReward::math()
    };
    assert_eq!(reference.score(&t, malformed).score, -1.0);
    assert_eq!(lenient.score(&t, malformed).score, 0.0);
    assert!(!lenient.score(&t, malformed).format_ok);
    for text in [right, wrong] {
        assert_eq!(reference.score(&t, text), lenient.score(&t, text));
    }
    // A config written before the field existed loads with the reference penalty.
    let mut json = serde_json::to_value(&reference).unwrap();
    json.as_object_mut().unwrap().remove("format_penalty");
    let old: ArpoReward = serde_json::from_value(json).unwrap();
    assert_eq!(old.format_penalty, -1.0);
}
