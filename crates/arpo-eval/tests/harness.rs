//! The benchmark harness end to end against a mock OpenAI-compatible completions server (a
//! scripted model that calls Python once, then answers with what the tool returned) and a mock
//! judge: the requests the agent sends (ChatML prompt with the reference system prompt, paper
//! decoding, stop at the closing tool tag, continuation after the tool result), the scores,
//! pass@k, the judge path, error handling and the files written.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arpo_core::{Domain, Task, Tool, ToolError};
use arpo_eval::harness::{
    chatml, run_benchmark, system_prompt, write_report, CompletionsAgent, CompletionsConfig,
    EvalSpec, RunOptions, RunReport, ToolLimits,
};
use arpo_eval::judge::{JudgeClient, JudgeConfig};
use arpo_eval::summary::read_records;
use arpo_eval::{load_verl_parquet, Benchmark};
use async_trait::async_trait;
use common::mock_server::{chat, serve, Reply};

/// Stands in for the sandboxed interpreter: prints 42 for `print(6*7)`.
struct FakePython;

#[async_trait]
impl Tool for FakePython {
    fn name(&self) -> &str {
        "python"
    }

    async fn call(&self, input: &str) -> Result<String, ToolError> {
        match input.trim() {
            "print(6*7)" => Ok("42".into()),
            other => Err(ToolError::Failed(format!("unexpected code {other:?}"))),
        }
    }
}

/// The spec's tool runner with the fake interpreter.
fn python_runner(spec: &EvalSpec) -> Arc<arpo_tools::ToolRunner> {
    let python: Arc<dyn Tool> = Arc::new(FakePython);
    Arc::new(
        spec.tool_runner(Some(python), None)
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn completion(text: &str, tokens: usize) -> Reply {
    Reply::Status(
        200,
        serde_json::json!({
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": tokens},
        })
        .to_string(),
    )
}

/// The scripted model: the first turn opens a Python call (the server strips the stop string),
/// the second answers with the number in the tool result.
fn scripted_model(_: usize, body: &str) -> Reply {
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let prompt = body["prompt"].as_str().unwrap_or_default();
    match prompt.rsplit_once("<result>\n") {
        Some((_, tail)) => {
            let number = tail.split('\n').next().unwrap_or_default();
            completion(
                &format!(" <think> done </think> <answer> The final answer is \\[ \\boxed{{{number}}} \\] </answer>"),
                12,
            )
        }
        None => completion("<think> compute </think> <python>print(6*7)", 9),
    }
}

fn agent(url: &str) -> CompletionsAgent {
    let mut config = CompletionsConfig::new(url, "policy-model");
    config.endpoint.timeout = Duration::from_secs(10);
    config.endpoint.backoff = Duration::from_millis(10);
    config.concurrency = 3;
    CompletionsAgent::new(config, chatml()).unwrap_or_else(|e| panic!("{e}"))
}

fn math_tasks() -> Vec<Task> {
    vec![
        Task::new(
            "a",
            "gsm8k",
            Domain::Math,
            "What is 6*7?",
            vec!["42".into()],
        ),
        Task::new(
            "b",
            "gsm8k",
            Domain::Math,
            "What is 6*7 minus 1?",
            vec!["41".into()],
        ),
    ]
}

fn options(spec: &EvalSpec) -> RunOptions<'_> {
    RunOptions {
        spec,
        judge: None,
        judge_math: false,
        chunk: 1,
        seed: 5,
        keep_responses: true,
        journal: None,
    }
}

#[tokio::test]
async fn tool_calling_run_against_a_completions_server() {
    let (url, seen) = serve(scripted_model).await;
    let mut spec = EvalSpec::paper(Benchmark::Gsm8k);
    spec.samples = 2;
    let runner = python_runner(&spec);
    let mut lines = Vec::new();
    let report = run_benchmark(
        &agent(&url),
        &math_tasks(),
        &runner,
        &options(&spec),
        &mut |p| lines.push((p.done, p.correct)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    // Progress after each chunk of one question; question b's answer 42 is wrong.
    assert_eq!(lines, vec![(1, 2), (2, 2)]);
    assert_eq!(report.records.len(), 4);
    for r in &report.records {
        assert_eq!(r.correct, r.id == "a", "{r:?}");
        assert_eq!(r.answer.as_deref(), Some("42"));
        assert_eq!(r.tool_calls.get("python"), Some(&1));
        assert_eq!(r.tokens, 21);
        let response = r.response.as_deref().unwrap_or_default();
        assert!(
            response.starts_with("<think> compute </think> <python>print(6*7)</python> <result>\n42\n</result> <think> done"),
            "{response}"
        );
    }
    assert_eq!(report.summary.accuracy, 0.5);
    // pass@1 only: 5 and 10 exceed the 2 samples.
    assert_eq!(report.summary.pass_at_k, vec![(1, 0.5)]);

    let seen = seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 8, "two completions per trajectory");
    let system = system_prompt(ToolLimits {
        python: Some(5),
        search: None,
    });
    for s in &seen {
        assert!(
            s.head.starts_with("POST /v1/completions HTTP/1.1"),
            "{}",
            s.head
        );
        let body: serde_json::Value = serde_json::from_str(&s.body).unwrap_or_default();
        assert_eq!(body["model"], "policy-model");
        assert_eq!(body["temperature"], 0.6);
        assert_eq!(body["top_p"], 0.95);
        assert_eq!(body["top_k"], 20);
        assert_eq!(body["repetition_penalty"], 1.1);
        assert_eq!(body["stop"], serde_json::json!(["</python>"]));
        let prompt = body["prompt"].as_str().unwrap_or_default();
        assert!(
            prompt.starts_with(&format!(
                "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nWhat is 6*7"
            )),
            "{prompt}"
        );
        if prompt.ends_with("</result>") {
            // The continuation's budget: 4096 minus 9 generated and the result's ~6 tokens.
            let result_cost = " <result>\n42\n</result>".len().div_ceil(4) as u64;
            assert_eq!(body["max_tokens"].as_u64(), Some(4096 - 9 - result_cost));
        } else {
            assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");
            assert_eq!(body["max_tokens"], 4096);
        }
    }

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_report(dir.path(), &report).unwrap_or_else(|e| panic!("{e}"));
    let back = read_records(&dir.path().join("records.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, report.records);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap_or_default();
    assert!(md.contains("| gsm8k | 2 | 4 | 50.0 |"), "{md}");
    assert!(
        md.contains("accuracy of each run (sample index): 50.0, 50.0 — mean 50.0 ± 0.0"),
        "{md}"
    );
    let json = std::fs::read_to_string(dir.path().join("summary.json")).unwrap_or_default();
    assert!(json.contains("\"accuracy\": 0.5"), "{json}");
}

#[tokio::test]
async fn judged_benchmark_asks_the_judge_only_when_strings_disagree() {
    let (url, _) = serve(|_, body| {
        let gold_paris = body.contains("capital of France");
        chat_completion(if gold_paris { "Lutetia" } else { "Ottawa" })
    })
    .await;
    let (judge_url, judge_seen) = serve(|_, _| chat("Correct")).await;
    let spec = EvalSpec::paper(Benchmark::Gaia).with_tools(ToolLimits::NONE);
    let runner = Arc::new(
        spec.tool_runner(None, None)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let tasks = vec![
        Task::new(
            "p",
            "gaia",
            Domain::DeepSearch,
            "What is the capital of France?",
            vec!["Paris".into()],
        ),
        Task::new(
            "o",
            "gaia",
            Domain::DeepSearch,
            "What is the capital of Canada?",
            vec!["Ottawa".into()],
        ),
    ];
    // No judge: the string metrics reject Lutetia and the run says one response went unjudged.
    let report = run_benchmark(&agent(&url), &tasks, &runner, &options(&spec), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.judged, report.unjudged), (0, 1));
    assert_eq!(report.summary.accuracy, 0.5);

    let report = run_judged(&url, &judge_url, &tasks, &spec).await;
    assert_eq!((report.judged, report.unjudged), (1, 0));
    assert_eq!(report.summary.accuracy, 1.0);
    let p = report
        .records
        .iter()
        .find(|r| r.id == "p")
        .unwrap_or_else(|| panic!("record p"));
    assert_eq!(p.judge, Some(true));
    let o = report
        .records
        .iter()
        .find(|r| r.id == "o")
        .unwrap_or_else(|| panic!("record o"));
    assert_eq!(o.judge, None, "an exact match needs no judge");
    let asked = judge_seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0]
            .body
            .contains("Model Output (Last few lines): Lutetia"),
        "{}",
        asked[0].body
    );
}

/// A run of `spec` without tools against the agent at `url`, judged by the judge at `judge_url`.
async fn run_judged(url: &str, judge_url: &str, tasks: &[Task], spec: &EvalSpec) -> RunReport {
    let runner = Arc::new(
        spec.tool_runner(None, None)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let judge =
        JudgeClient::new(JudgeConfig::new(judge_url, "judge")).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        judge: Some(&judge),
        ..options(spec)
    };
    run_benchmark(&agent(url), tasks, &runner, &opts, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn chat_completion(answer: &str) -> Reply {
    completion(
        &format!("<think> recall </think> <answer> \\boxed{{{answer}}} </answer>"),
        7,
    )
}

#[tokio::test]
async fn server_errors_name_the_endpoint_and_retry_only_transient_ones() {
    let spec = EvalSpec::paper(Benchmark::Gaia).with_tools(ToolLimits::NONE);
    let runner = Arc::new(
        spec.tool_runner(None, None)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let tasks = &math_tasks()[..1];

    let (url, seen) = serve(|_, _| Reply::Status(400, "{\"error\": \"bad model\"}".into())).await;
    let err = run_benchmark(&agent(&url), tasks, &runner, &options(&spec), &mut |_| {})
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("/v1/completions") && err.contains("400") && err.contains("bad model"),
        "{err}"
    );
    assert_eq!(
        seen.lock().map(|l| l.len()).unwrap_or(0),
        1,
        "4xx is not retried"
    );

    let (url, seen) = serve(|_, _| Reply::Status(503, "busy".into())).await;
    let err = run_benchmark(&agent(&url), tasks, &runner, &options(&spec), &mut |_| {})
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert_eq!(seen.lock().map(|l| l.len()).unwrap_or(0), 3);
}

#[test]
fn two_tool_prompt_is_the_reference_system_prompt() {
    // The reference RL data carries its system prompt in prompt[0] (with \boxed repaired on load).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rl/valid_tiny.parquet");
    let tasks = load_verl_parquet(&path).unwrap_or_else(|e| panic!("{e}"));
    let reference = &tasks[0]
        .prompt
        .as_ref()
        .unwrap_or_else(|| panic!("no prompt"))[0]
        .content;
    let both = ToolLimits {
        python: Some(5),
        search: Some(10),
    };
    assert_eq!(&system_prompt(both), reference);
    // One-tool prompts describe only that tool.
    let python_only = system_prompt(ToolLimits {
        python: Some(5),
        search: None,
    });
    assert!(
        python_only.contains("<python> python code here </python>")
            && !python_only.contains("<search>")
    );
    let search_only = system_prompt(ToolLimits {
        python: None,
        search: Some(10),
    });
    assert!(
        search_only.contains("<search> search query here </search>")
            && !search_only.contains("<python>")
    );
}

#[test]
fn paper_defaults_per_benchmark() {
    for b in Benchmark::ALL {
        let spec = EvalSpec::paper(b);
        assert_eq!(spec.decoding.max_new_tokens, 4096);
        assert_eq!(
            (
                spec.decoding.temperature,
                spec.decoding.top_p,
                spec.decoding.top_k
            ),
            (0.6, 0.95, 20)
        );
        assert_eq!(spec.decoding.repetition_penalty, 1.1);
        let t = spec.tools;
        assert!(
            t.python.is_none_or(|n| n == 5) && t.search.is_none_or(|n| n == 10),
            "{b}"
        );
        match b.info().domain {
            Domain::Math => assert!(t.python.is_some() && t.search.is_none(), "{b}"),
            Domain::Knowledge => assert!(t.search.is_some() && t.python.is_none(), "{b}"),
            Domain::DeepSearch => assert!(t.search.is_some() && t.python.is_some(), "{b}"),
        }
    }
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_its_journal() {
    let (url, seen) = serve(scripted_model).await;
    let mut spec = EvalSpec::paper(Benchmark::Gsm8k);
    spec.samples = 2;
    let runner = python_runner(&spec);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.jsonl");
    let opts = RunOptions {
        journal: Some(&journal),
        ..options(&spec)
    };
    let full = run_benchmark(&agent(&url), &math_tasks(), &runner, &opts, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The journal holds every record, chunk by chunk, in run order.
    let logged = read_records(&journal).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(logged, full.records);

    // Interrupted after question a, with one sample of b already written: b is asked again.
    let kept: Vec<String> = std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .lines()
        .take(3)
        .map(str::to_string)
        .collect();
    std::fs::write(&journal, kept.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let before = seen.lock().map(|l| l.len()).unwrap_or(0);
    let mut done = Vec::new();
    let resumed = run_benchmark(&agent(&url), &math_tasks(), &runner, &opts, &mut |p| {
        done.push(p.done)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let asked = seen.lock().map(|l| l.len()).unwrap_or(0) - before;
    assert_eq!(
        asked, 4,
        "only question b's two trajectories (two completions each)"
    );
    assert_eq!(resumed.resumed, 1);
    assert_eq!(
        done,
        vec![2],
        "progress counts the resumed question as done"
    );
    assert_eq!(
        (
            resumed.summary.accuracy,
            &resumed.summary.pass_at_k,
            resumed.summary.samples
        ),
        (
            full.summary.accuracy,
            &full.summary.pass_at_k,
            full.summary.samples
        )
    );
    let ids: Vec<(&str, usize)> = resumed
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.sample))
        .collect();
    assert_eq!(ids, vec![("a", 0), ("a", 1), ("b", 0), ("b", 1)]);
}

#[tokio::test]
async fn a_failing_judge_keeps_the_string_verdicts() {
    let (url, _) = serve(|_, _| chat_completion("Lutetia")).await;
    let (judge_url, _) = serve(|_, _| Reply::Status(401, "{\"error\": \"bad key\"}".into())).await;
    let spec = EvalSpec::paper(Benchmark::Gaia).with_tools(ToolLimits::NONE);
    let tasks = vec![Task::new(
        "p",
        "gaia",
        Domain::DeepSearch,
        "Capital of France?",
        vec!["Paris".into()],
    )];
    let report = run_judged(&url, &judge_url, &tasks, &spec).await;
    assert_eq!((report.judged, report.judge_failures), (0, 1));
    assert_eq!(report.records[0].judge, None);
    assert!(!report.records[0].correct);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_report(dir.path(), &report).unwrap_or_else(|e| panic!("{e}"));
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap_or_default();
    assert!(md.contains("1 judge request(s) failed"), "{md}");
}
