//! Run summaries on hand-computed records: accuracy, F1, EM, unbiased pass@k, tool calls,
//! throughput, the JSON-lines round trip and the markdown table.

use std::collections::BTreeMap;

use arpo_eval::summary::{read_records, write_records};
use arpo_eval::{markdown_table, QuestionRecord, Summary};

fn record(
    id: &str,
    sample: usize,
    correct: bool,
    f1: f64,
    calls: usize,
    tokens: usize,
    seconds: f64,
) -> QuestionRecord {
    QuestionRecord {
        benchmark: "toy".into(),
        id: id.into(),
        sample,
        question: format!("question {id}"),
        golds: vec!["a".into()],
        answer: Some(if correct { "a" } else { "b" }.into()),
        correct,
        f1,
        em: correct,
        judge: None,
        tool_calls: BTreeMap::from([("python".to_string(), calls)]),
        tokens,
        seconds,
        response: None,
    }
}

fn records() -> Vec<QuestionRecord> {
    vec![
        record("q1", 0, true, 1.0, 1, 100, 1.0),
        record("q1", 1, true, 1.0, 2, 100, 1.0),
        record("q1", 2, false, 0.5, 0, 100, 1.0),
        record("q2", 0, false, 0.0, 3, 200, 2.0),
        record("q2", 1, true, 1.0, 0, 200, 2.0),
        record("q2", 2, false, 0.0, 0, 200, 2.0),
    ]
}

#[test]
fn aggregates_by_hand() {
    let s =
        Summary::from_records("toy", &records(), &[1, 2, 3, 5]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.questions, s.samples), (2, 6));
    assert!((s.accuracy - 0.5).abs() < 1e-12);
    assert!((s.mean_f1 - 3.5 / 6.0).abs() < 1e-12);
    assert!((s.em - 0.5).abs() < 1e-12);
    // q1: n=3, c=2; q2: n=3, c=1.
    // pass@1 = mean(2/3, 1/3) = 1/2; pass@2 = mean(1 - C(1,2)/C(3,2), 1 - C(2,2)/C(3,2)) = mean(1, 2/3);
    // pass@3 = 1 for both; k = 5 > 3 samples is left out.
    let ks: Vec<usize> = s.pass_at_k.iter().map(|p| p.0).collect();
    assert_eq!(ks, [1, 2, 3]);
    assert!((s.pass_at_k[0].1 - 0.5).abs() < 1e-12);
    assert!((s.pass_at_k[1].1 - 5.0 / 6.0).abs() < 1e-12);
    assert!((s.pass_at_k[2].1 - 1.0).abs() < 1e-12);
    // Runs by sample index: (q1 right, q2 wrong), (both right), (both wrong); sd of 0.5, 1, 0.
    assert_eq!(s.run_accuracy, vec![0.5, 1.0, 0.0]);
    assert!((s.run_accuracy_std - 0.5).abs() < 1e-12);
    assert!((s.tool_calls - 1.0).abs() < 1e-12);
    assert!((s.tokens - 150.0).abs() < 1e-12);
    assert!((s.seconds - 1.5).abs() < 1e-12);
    assert!((s.tokens_per_second - 100.0).abs() < 1e-12);
    assert!(Summary::from_records("toy", &[], &[1]).is_err());
}

#[test]
fn markdown_and_jsonl() {
    let s = Summary::from_records("toy", &records(), &[1, 2]).unwrap_or_else(|e| panic!("{e}"));
    let table = markdown_table(&[s]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("| pass@1 | pass@2 |"));
    assert_eq!(lines[0].matches('|').count(), lines[1].matches('|').count());
    assert_eq!(
        lines[2],
        "| toy | 2 | 6 | 50.0 | 58.3 | 50.0 | 50.0 | 83.3 | 1.00 | 150 | 1.50 | 100.0 |"
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("run.jsonl");
    write_records(&path, &records()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read_records(&path).unwrap_or_else(|e| panic!("{e}")),
        records()
    );
    std::fs::write(&path, "{\"benchmark\": 1}\n").unwrap_or_else(|e| panic!("{e}"));
    let msg = read_records(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("run.jsonl:1:"), "{msg}");
}
