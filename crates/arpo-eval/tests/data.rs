//! Loader tests on the committed fixtures: every benchmark format and both RL parquet layouts
//! load with the values read independently from the fixture text, and malformed lines are
//! rejected with an error that names the file, the line and the field.

use std::path::{Path, PathBuf};

use arpo_core::{Domain, Role};
use arpo_eval::data::{load_by_name, load_verl_parquet, repair_escape_defects, Benchmark, RlData};
use arpo_eval::Error;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Non-blank lines of a fixture, counted without the loader.
fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

#[test]
fn every_benchmark_fixture_loads() {
    let root = fixtures().join("benchmarks");
    for b in Benchmark::ALL {
        let path = b.default_path(&root);
        let tasks = b.load(&path).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(tasks.len(), line_count(&path), "{b}");
        for t in &tasks {
            assert_eq!(t.benchmark, b.name());
            assert_eq!(t.domain, b.info().domain);
            assert!(
                !t.question.trim().is_empty() && !t.answers.is_empty(),
                "{b} {}",
                t.id
            );
        }
    }
}

#[test]
fn field_values_match_the_fixture_text() {
    let root = fixtures().join("benchmarks");
    let load = |b: Benchmark| {
        b.load(&b.default_path(&root))
            .unwrap_or_else(|e| panic!("{b}: {e}"))
    };
    // GSM8K: the number after `####`, thousands comma removed ("#### 18", "#### 2,125").
    let gsm = load(Benchmark::Gsm8k);
    assert_eq!(gsm[0].answers, ["18"]);
    assert_eq!(gsm[0].id, "0");
    assert_eq!(gsm[3].answers, ["2125"]);
    // AIME25: a JSON number answer and a string id.
    let aime25 = load(Benchmark::Aime25);
    assert_eq!(
        (aime25[0].id.as_str(), aime25[0].answers[0].as_str()),
        ("0", "70")
    );
    // AIME24: `problem` is the question, the integer id is kept.
    let aime24 = load(Benchmark::Aime24);
    assert_eq!(
        (aime24[0].id.as_str(), aime24[0].answers[0].as_str()),
        ("60", "204")
    );
    assert!(aime24[0].question.starts_with("Every morning Aya"));
    // 2Wiki: a list of aliases.
    let wiki = load(Benchmark::TwoWiki);
    assert_eq!(wiki[0].answers.len(), 8);
    assert_eq!(wiki[0].answers[2], "New York");
    assert_eq!(wiki[1].id, "1");
    // GAIA: `Question`, `task_id`.
    let gaia = load(Benchmark::Gaia);
    assert_eq!(gaia[1].id, "00000000-0000-4000-8000-000000000002");
    assert_eq!(gaia[1].answers, ["18"]);
    assert_eq!(gaia[0].domain, Domain::DeepSearch);
    // MATH500: LaTeX answers as strings.
    assert_eq!(
        load(Benchmark::Math500)[0].answers,
        [r"\left( 3, \frac{\pi}{2} \right)"]
    );
    // xbench: Chinese text survives.
    assert_eq!(load(Benchmark::Xbench)[2].answers, ["北京"]);
}

#[test]
fn names_and_aliases_resolve() {
    for b in Benchmark::ALL {
        assert_eq!(Benchmark::from_name(b.name()).ok(), Some(b));
        assert_eq!(b.name().parse::<Benchmark>().ok(), Some(b));
    }
    assert_eq!(
        Benchmark::from_name("2WikiMultihopQA").ok(),
        Some(Benchmark::TwoWiki)
    );
    assert_eq!(
        Benchmark::from_name("xbench-DeepSearch").ok(),
        Some(Benchmark::Xbench)
    );
    assert_eq!(
        Benchmark::from_name("SimpleQA").ok(),
        Some(Benchmark::SimpleQa)
    );
    let err = Benchmark::from_name("imagenet")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("imagenet") && err.contains("gsm8k"), "{err}");
    let path = fixtures().join("benchmarks/bamboogle/test.jsonl");
    assert_eq!(
        load_by_name("bamboogle", &path).map(|t| t.len()).ok(),
        Some(3)
    );
}

/// Writes `lines` to a temporary file and loads it as `b`; returns the error text.
fn error_for(b: Benchmark, lines: &[&str]) -> (String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("write: {e}"));
    let err = match b.load(&path) {
        Ok(t) => panic!("{b}: loaded {} tasks from a malformed file", t.len()),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Line { .. }), "{err:?}");
    (err.to_string(), path, dir)
}

#[test]
fn malformed_lines_name_file_line_and_field() {
    let good = r#"{"question": "q", "answer": ["a"]}"#;
    let cases: &[(Benchmark, &str, usize, &str)] = &[
        (
            Benchmark::Bamboogle,
            r#"{"question": "q", "answer": ["a"]"#,
            2,
            "invalid JSON",
        ),
        (
            Benchmark::Bamboogle,
            r#"{"answer": ["a"]}"#,
            2,
            "missing field `question`",
        ),
        (
            Benchmark::Bamboogle,
            r#"{"question": 7, "answer": ["a"]}"#,
            2,
            "field `question`: expected a string",
        ),
        (
            Benchmark::Bamboogle,
            r#"{"question": "q", "answer": {"x": 1}}"#,
            2,
            "field `answer`",
        ),
        (
            Benchmark::Bamboogle,
            r#"{"question": "q", "answer": []}"#,
            2,
            "field `answer`: no non-empty answer",
        ),
        (
            Benchmark::Bamboogle,
            r#"{"question": "q", "answer": ["a", null]}"#,
            2,
            "field `answer`: item 1",
        ),
        (
            Benchmark::Bamboogle,
            r#"["q", "a"]"#,
            2,
            "expected a JSON object",
        ),
        (
            Benchmark::Gsm8k,
            r#"{"question": "q", "answer": "no marker"}"#,
            2,
            "field `answer`: no `####`",
        ),
        (
            Benchmark::Aime24,
            r#"{"id": 1, "answer": "5"}"#,
            2,
            "missing field `problem` (also tried `question`)",
        ),
        (
            Benchmark::Gaia,
            r#"{"Question": "q", "answer": "a", "task_id": [1]}"#,
            2,
            "field `task_id`",
        ),
    ];
    for (b, bad, line, field) in cases {
        let first = if *b == Benchmark::Gsm8k {
            r#"{"question": "q", "answer": "x\n#### 1"}"#
        } else if *b == Benchmark::Aime24 {
            r#"{"id": 0, "problem": "q", "answer": "1"}"#
        } else if *b == Benchmark::Gaia {
            r#"{"Question": "q", "answer": "a", "task_id": "t"}"#
        } else {
            good
        };
        let (msg, path, _dir) = error_for(*b, &[first, bad]);
        let location = format!("{}:{line}:", path.display());
        assert!(
            msg.starts_with(&location),
            "{msg} should start with {location}"
        );
        assert!(msg.contains(field), "{msg} should name {field}");
    }
    // Blank lines are skipped but still counted in line numbers.
    let (msg, path, _dir) = error_for(Benchmark::HotpotQa, &[good, "", "  ", "{oops"]);
    assert!(msg.starts_with(&format!("{}:4:", path.display())), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let path = fixtures().join("benchmarks/nope/test.jsonl");
    let msg = Benchmark::Gsm8k
        .load(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("nope/test.jsonl"), "{msg}");
}

#[test]
fn rl_parquet_fixtures_load_and_are_repaired() {
    let valid = load_verl_parquet(&fixtures().join("rl/valid_tiny.parquet"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Values printed by pyarrow when the fixture was made (scripts/eval/make_rl_fixture.py).
    let ids: Vec<&str> = valid.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "80", "81"]);
    assert_eq!(valid[0].answers, ["Eleanor Of Lancaster"]);
    assert_eq!(valid[2].answers, ["204"]);
    assert_eq!(
        valid.iter().map(|t| t.domain).collect::<Vec<_>>(),
        [
            Domain::Knowledge,
            Domain::Knowledge,
            Domain::Math,
            Domain::Math
        ]
    );
    assert_eq!(valid[0].benchmark, "DR_grpo_mix");
    assert!(valid[0]
        .question
        .starts_with("Who is older, William Henry Rodes Green"));
    for t in &valid {
        let prompt = t.prompt.as_deref().unwrap_or_default();
        assert_eq!(
            prompt.iter().map(|m| m.role).collect::<Vec<_>>(),
            [Role::System, Role::User]
        );
        assert!(!prompt[0].content.contains('\u{8}'));
        assert!(prompt[0].content.contains(r"\boxed{answer here}"));
        assert_eq!(prompt[1].content, t.question);
    }
    let search = RlData::HardSearch1k
        .load(&fixtures().join("rl/hard_search_tiny.parquet"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(search.len(), 3);
    assert_eq!(search[0].answers, ["E. H. Shepard"]);
    assert_eq!(search[0].domain, Domain::DeepSearch);
    assert_eq!(search[0].benchmark, "DR_simpledeepsearch0.8k");
    assert!(load_by_name("anything", &fixtures().join("rl/valid_tiny.parquet")).is_ok());
}

#[test]
fn escape_repair() {
    assert_eq!(repair_escape_defects("\u{8}oxed{x}"), r"\boxed{x}");
    assert_eq!(
        repair_escape_defects("in the form \u{c}rac{m}{n}"),
        r"in the form \frac{m}{n}"
    );
    assert_eq!(repair_escape_defects("in\u{c}finite"), "in\u{c}finite");
    assert_eq!(repair_escape_defects("plain"), "plain");
}

#[test]
fn corrupt_parquet_names_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("broken.parquet");
    std::fs::write(&path, b"PAR1 not really").unwrap_or_else(|e| panic!("{e}"));
    let msg = load_verl_parquet(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("broken.parquet"), "{msg}");
}

#[test]
fn malformed_parquet_rows_name_row_and_field() {
    let msg = load_verl_parquet(&fixtures().join("rl/bad_role.parquet"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("bad_role.parquet: row 1: field `prompt[0].role`: unknown role `robot`"),
        "{msg}"
    );
    let msg = load_verl_parquet(&fixtures().join("rl/no_reward_model.parquet"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("no_reward_model.parquet: row 0: missing field `reward_model`"),
        "{msg}"
    );
}
