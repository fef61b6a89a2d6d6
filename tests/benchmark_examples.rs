//! Every per-benchmark example's entry point (`examples/<name>.rs` is one line calling
//! `arpo::benchmark::main`) runs end to end on its committed fixture: a tiny random model,
//! the benchmark's real tools (sandboxed Python, BM25 search over the fixture corpus), the paper's
//! settings, two samples per question, and a run folder with one record per question and sample.
//! Checked against the fixture itself: the number of questions, the golds and the files written.

use std::path::{Path, PathBuf};

use arpo::benchmark::run_cli;
use arpo::eval::summary::read_records;
use arpo::eval::Benchmark;
use arpo::tools::search::corpus::read_jsonl;
use arpo::tools::Bm25Index;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmark_example_runs_on_its_fixture() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let corpus = repo().join("crates/arpo-tools/tests/fixtures/wiki_fixture.jsonl");
    let docs = read_jsonl(&corpus).unwrap_or_else(|e| panic!("{e}"));
    let index = tmp.path().join("index");
    Bm25Index::build(&index, docs).unwrap_or_else(|e| panic!("{e}"));
    let fixtures = repo().join("crates/arpo-eval/tests/fixtures/benchmarks");
    let out = tmp.path().join("runs");
    for benchmark in Benchmark::ALL {
        let data = benchmark.default_path(&fixtures);
        let questions = fixture_lines(&data);
        let args = [
            "example",
            "--model",
            "tiny",
            "--data",
            data.to_str().unwrap_or_default(),
            "--index",
            index.to_str().unwrap_or_default(),
            "--samples",
            "2",
            "--max-new-tokens",
            "24",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap_or_default(),
        ];
        let report = run_cli(benchmark, args)
            .await
            .unwrap_or_else(|e| panic!("{benchmark}: {e:#}"));
        assert_eq!(report.summary.questions, questions, "{benchmark}");
        assert_eq!(report.summary.samples, 2 * questions, "{benchmark}");
        let dir = out.join(benchmark.name()).join("tiny-seed3");
        let records =
            read_records(&dir.join("records.jsonl")).unwrap_or_else(|e| panic!("{benchmark}: {e}"));
        assert_eq!(records, report.records, "{benchmark}");
        let tasks = benchmark.load(&data).unwrap_or_else(|e| panic!("{e}"));
        for r in &records {
            let task = tasks
                .iter()
                .find(|t| t.id == r.id)
                .unwrap_or_else(|| panic!("{}", r.id));
            assert_eq!(r.golds, task.answers, "{benchmark}");
            assert!(r.tokens <= 24, "{benchmark}: {} tokens", r.tokens);
            let allowed = report.spec.tools;
            for tool in r.tool_calls.keys() {
                let on = match tool.as_str() {
                    "python" => allowed.python.is_some(),
                    "search" => allowed.search.is_some(),
                    _ => false,
                };
                assert!(
                    on,
                    "{benchmark}: called {tool}, which the benchmark does not offer"
                );
            }
        }
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap_or_default();
        assert!(
            md.contains(&format!("| {} | {questions} |", benchmark.name())),
            "{md}"
        );
    }
}

#[tokio::test]
async fn missing_data_and_missing_tools_are_explained() {
    let err = run_cli(
        Benchmark::Gsm8k,
        ["x", "--model", "tiny", "--data", "/nonexistent/gsm8k.jsonl"],
    )
    .await
    .err()
    .map(|e| format!("{e:#}"))
    .unwrap_or_default();
    assert!(
        err.contains("no data file at /nonexistent/gsm8k.jsonl") && err.contains("--data"),
        "{err}"
    );
    let data = repo().join("crates/arpo-eval/tests/fixtures/benchmarks/bamboogle/test.jsonl");
    let err = run_cli(
        Benchmark::Bamboogle,
        [
            "x",
            "--model",
            "tiny",
            "--data",
            data.to_str().unwrap_or_default(),
        ],
    )
    .await
    .err()
    .map(|e| format!("{e:#}"))
    .unwrap_or_default();
    assert!(
        err.contains("search tool") && err.contains("--index"),
        "{err}"
    );
}

/// The mock OpenAI-compatible server of arpo-eval's tests, shared rather than copied.
#[path = "../crates/arpo-eval/tests/common/mock_server.rs"]
mod mock_server;

/// `--server`: the CLI's completions-server path end to end with the real sandboxed Python tool.
/// The scripted server model writes `print(18)`, then answers with whatever the tool printed, so
/// the first GSM8K question (gold 18) is right and the second (gold 3) wrong — which only happens
/// if the tool really ran and its output went back to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_example_runs_the_agent_loop_with_real_tools() {
    let (url, seen) = mock_server::serve(|_, body| {
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let prompt = body["prompt"].as_str().unwrap_or_default();
        let (text, tokens) = match prompt.rsplit_once("<result>\n") {
            Some((_, tail)) => (
                format!(
                    " <answer> \\boxed{{{}}} </answer>",
                    tail.split('\n').next().unwrap_or_default()
                ),
                9,
            ),
            None => ("<think> compute </think> <python>print(18)".to_string(), 11),
        };
        mock_server::Reply::Status(
            200,
            serde_json::json!({
                "choices": [{"text": text, "finish_reason": "stop"}],
                "usage": {"completion_tokens": tokens},
            })
            .to_string(),
        )
    })
    .await;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = repo().join("crates/arpo-eval/tests/fixtures/benchmarks/gsm8k/test.jsonl");
    let out = tmp.path().join("runs");
    let args = [
        "example",
        "--server",
        url.as_str(),
        "--server-model",
        "served-model",
        "--data",
        data.to_str().unwrap_or_default(),
        "--limit",
        "2",
        "--out",
        out.to_str().unwrap_or_default(),
    ];
    let report = run_cli(Benchmark::Gsm8k, args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let verdicts: Vec<bool> = report.records.iter().map(|r| r.correct).collect();
    assert_eq!(verdicts, vec![true, false]);
    for r in &report.records {
        assert_eq!(r.answer.as_deref(), Some("18"));
        assert_eq!(r.tool_calls.get("python"), Some(&1));
        assert_eq!(r.tokens, 20);
    }
    assert!(
        report.agent.starts_with("served-model at http://"),
        "{}",
        report.agent
    );
    let seen = seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 4);
    let first: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap_or_default();
    assert_eq!(first["model"], "served-model");
    assert!(first["prompt"]
        .as_str()
        .is_some_and(|p| p.starts_with("<|im_start|>system\nYou are a helpful assistant")));
    assert!(out.join("gsm8k/served-model-seed0/records.jsonl").is_file());
}
