//! One evaluation run: questions go to the agent in chunks (a progress report after each), every
//! response is scored, the judge is asked where the metric needs it, and the records and summary
//! are written to a run folder.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arpo_core::Task;
use arpo_tools::ToolRunner;
use serde::{Deserialize, Serialize};

use super::score::{judge_input, score_response};
use super::{Agent, EvalSpec};
use crate::judge::{JudgeClient, Verdict};
use crate::summary::{
    markdown_table, read_records, write_lines, write_records, QuestionRecord, Summary,
};
use crate::{Error, Result};

/// How a run is carried out besides the benchmark's own settings.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// The benchmark's settings.
    pub spec: &'a EvalSpec,
    /// The LLM judge, if one is configured.
    pub judge: Option<&'a JudgeClient>,
    /// Ask the judge about math answers that fail the equivalence check.
    pub judge_math: bool,
    /// Questions handed to the agent at once; progress is reported after each chunk.
    pub chunk: usize,
    /// Sampling seed of the run.
    pub seed: u64,
    /// Keep each full response in its record.
    pub keep_responses: bool,
    /// A JSON-lines journal: each chunk's records are appended (and synced) as soon as they are
    /// scored, and questions that already have all their samples in it are not asked again, so
    /// an interrupted run goes on where it stopped. Resumed questions keep their records;
    /// the rest are sampled with the seeds of their new chunks.
    pub journal: Option<&'a Path>,
}

/// Where a run stands, reported after each chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Questions answered.
    pub done: usize,
    /// Questions in the run.
    pub total: usize,
    /// Responses judged correct so far (before the LLM judge).
    pub correct: usize,
    /// Responses so far (questions × samples).
    pub responses: usize,
    /// Tool calls so far.
    pub tool_calls: usize,
    /// Generated tokens so far.
    pub tokens: usize,
    /// Seconds since the run started.
    pub elapsed: f64,
}

impl Progress {
    /// Adds one scored response to the running totals.
    fn count(&mut self, record: &QuestionRecord) {
        self.correct += usize::from(record.correct);
        self.responses += 1;
        self.tool_calls += record.tool_calls.values().sum::<usize>();
        self.tokens += record.tokens;
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The agent's description.
    pub agent: String,
    /// The settings used.
    pub spec: EvalSpec,
    /// Aggregates.
    pub summary: Summary,
    /// Responses the LLM judge decided.
    pub judged: usize,
    /// Responses that needed the judge but had none (scored by string metrics only).
    pub unjudged: usize,
    /// Judge requests that failed after their retries (those responses keep their string
    /// verdict; the run is not lost for them).
    #[serde(default)]
    pub judge_failures: usize,
    /// Questions whose records came from the journal of an earlier, interrupted run.
    #[serde(default)]
    pub resumed: usize,
    /// Wall time of the run, judge included.
    pub wall_seconds: f64,
    /// One record per (question, sample); written as JSON lines, not into the summary file.
    #[serde(skip)]
    pub records: Vec<QuestionRecord>,
}

/// Runs `agent` on `tasks` with the tools of `runner`, scores and judges every response.
pub async fn run_benchmark(
    agent: &dyn Agent,
    tasks: &[Task],
    runner: &Arc<ToolRunner>,
    options: &RunOptions<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunReport> {
    let spec = options.spec;
    if tasks.is_empty() {
        return Err(Error::Config(format!(
            "{}: no questions to evaluate",
            spec.benchmark
        )));
    }
    if spec.samples == 0 {
        return Err(Error::Config("samples must be at least 1".into()));
    }
    let start = Instant::now();
    let mut records = Vec::with_capacity(tasks.len() * spec.samples);
    let mut pending_judge = Vec::new();
    let mut state = Progress {
        done: 0,
        total: tasks.len(),
        correct: 0,
        responses: 0,
        tool_calls: 0,
        tokens: 0,
        elapsed: 0.0,
    };
    let earlier = match options.journal {
        Some(path) if path.exists() => {
            finished_questions(&read_records(path)?, tasks, spec.samples)
        }
        _ => Vec::new(),
    };
    let resumed = earlier.len() / spec.samples;
    for r in earlier {
        if let Some(response) = &r.response {
            let scored = score_response(spec.metric, response, &r.golds, options.judge_math);
            if scored.needs_judge {
                pending_judge.push((records.len(), judge_input(&scored, response)));
            }
        }
        state.count(&r);
        records.push(r);
    }
    state.done = resumed;
    let answered: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let todo: Vec<Task> = tasks
        .iter()
        .filter(|t| !answered.contains(t.id.as_str()))
        .cloned()
        .collect();
    for (chunk_index, chunk) in todo.chunks(options.chunk.max(1)).enumerate() {
        let first_new = records.len();
        let prompts: Vec<_> = chunk.iter().map(|t| spec.messages(t)).collect();
        // A seed per chunk, so that chunks do not repeat each other's random streams.
        let seed = options
            .seed
            .wrapping_add((chunk_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let answers = agent
            .answer(&prompts, spec.samples, &spec.decoding, runner, seed)
            .await?;
        if answers.len() != chunk.len() || answers.iter().any(|a| a.len() != spec.samples) {
            return Err(Error::Config(format!(
                "agent {} returned {} answer lists for {} prompts (or not {} samples each)",
                agent.describe(),
                answers.len(),
                chunk.len(),
                spec.samples
            )));
        }
        for (task, samples) in chunk.iter().zip(answers) {
            for (sample, t) in samples.into_iter().enumerate() {
                let scored =
                    score_response(spec.metric, &t.response, &task.answers, options.judge_math);
                if scored.needs_judge {
                    pending_judge.push((records.len(), judge_input(&scored, &t.response)));
                }
                let record = QuestionRecord {
                    benchmark: spec.benchmark.clone(),
                    id: task.id.clone(),
                    sample,
                    question: task.question.clone(),
                    golds: task.answers.clone(),
                    answer: scored.answer,
                    correct: scored.correct,
                    f1: scored.f1,
                    em: scored.em,
                    judge: None,
                    tool_calls: t.tool_calls,
                    tokens: t.generated_tokens,
                    seconds: t.seconds,
                    response: options.keep_responses.then_some(t.response),
                };
                state.count(&record);
                records.push(record);
            }
        }
        if let Some(path) = options.journal {
            append_records(path, &records[first_new..])?;
        }
        state.done += chunk.len();
        state.elapsed = start.elapsed().as_secs_f64();
        progress(&state);
    }
    let (judged, unjudged, judge_failures) = match options.judge {
        Some(judge) => {
            let (judged, failures) = judge_all(judge, &mut records, pending_judge).await?;
            (judged, 0, failures)
        }
        None => (0, pending_judge.len(), 0),
    };
    let summary = Summary::from_records(&spec.benchmark, &records, &spec.pass_at_k)?;
    Ok(RunReport {
        agent: agent.describe(),
        spec: spec.clone(),
        summary,
        judged,
        unjudged,
        judge_failures,
        resumed,
        wall_seconds: start.elapsed().as_secs_f64(),
        records,
    })
}

/// The journal's records of questions of `tasks` that have all their samples there.
fn finished_questions(
    journal: &[QuestionRecord],
    tasks: &[Task],
    samples: usize,
) -> Vec<QuestionRecord> {
    tasks
        .iter()
        .flat_map(|t| {
            let mine: Vec<_> = journal.iter().filter(|r| r.id == t.id).cloned().collect();
            let complete = (0..samples).all(|s| mine.iter().any(|r| r.sample == s));
            let mut mine: Vec<_> = if complete { mine } else { Vec::new() };
            mine.sort_by_key(|r| r.sample);
            mine.dedup_by_key(|r| r.sample);
            mine
        })
        .collect()
}

/// Appends records to the journal and syncs them to disk.
fn append_records(path: &Path, records: &[QuestionRecord]) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    write_lines(path, &file, records)?;
    file.sync_data().map_err(|e| Error::io(path, e))
}

/// Asks the judge about each pending record (a few requests in flight at once) and stores the
/// verdicts. Returns (judged, failed): a request that fails after its retries leaves the
/// record's string verdict in place and is counted, so a flaky judge does not lose the run.
async fn judge_all(
    judge: &JudgeClient,
    records: &mut [QuestionRecord],
    pending: Vec<(usize, String)>,
) -> Result<(usize, usize)> {
    const IN_FLIGHT: usize = 8;
    let mut set = tokio::task::JoinSet::new();
    let mut queue = pending.into_iter();
    let (mut judged, mut failed) = (0, 0);
    loop {
        while set.len() < IN_FLIGHT {
            let Some((index, predicted)) = queue.next() else {
                break;
            };
            let client = judge.clone();
            let (question, golds) = (
                records[index].question.clone(),
                records[index].golds.clone(),
            );
            set.spawn(async move { (index, client.judge(&question, &golds, &predicted).await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (index, verdict) = done.map_err(|e| Error::Judge(format!("judge task: {e}")))?;
        match verdict {
            Ok(v) => {
                let correct = v == Verdict::Correct;
                records[index].judge = Some(correct);
                records[index].correct = correct;
                judged += 1;
            }
            Err(e) => {
                tracing::warn!(id = %records[index].id, error = %e, "judge failed; string verdict kept");
                failed += 1;
            }
        }
    }
    Ok((judged, failed))
}

/// Writes a run folder: `records.jsonl` (one line per question and sample), `summary.json` and
/// `summary.md` (the table plus the settings).
pub fn write_report(dir: &Path, report: &RunReport) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_records(&dir.join("records.jsonl"), &report.records)?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Config(format!("summary of {}: {e}", report.spec.benchmark)))?;
    write_atomically(&dir.join("summary.json"), &json)?;
    let d = &report.spec.decoding;
    let mut md = format!(
        "# {} — {}\n\n{}\n* agent: {}\n* tools: python {:?}, search {:?}\n* decoding: temperature {}, \
         top-p {}, top-k {}, repetition penalty {}, {} new tokens; {} sample(s) per question\n\
         * wall time: {:.1} s; judged by the LLM judge: {}\n",
        report.spec.benchmark,
        report.agent,
        markdown_table(std::slice::from_ref(&report.summary)),
        report.agent,
        report.spec.tools.python,
        report.spec.tools.search,
        d.temperature,
        d.top_p,
        d.top_k,
        d.repetition_penalty,
        d.max_new_tokens,
        report.spec.samples,
        report.wall_seconds,
        report.judged,
    );
    let runs = &report.summary.run_accuracy;
    if runs.len() > 1 {
        let each: Vec<String> = runs.iter().map(|a| format!("{:.1}", 100.0 * a)).collect();
        md.push_str(&format!(
            "* accuracy of each run (sample index): {} — mean {:.1} ± {:.1} (sd over runs)\n",
            each.join(", "),
            100.0 * report.summary.accuracy,
            100.0 * report.summary.run_accuracy_std
        ));
    }
    if report.judge_failures > 0 {
        md.push_str(&format!(
            "* **{} judge request(s) failed after retries**: those responses keep their string verdict\n",
            report.judge_failures
        ));
    }
    if report.resumed > 0 {
        md.push_str(&format!(
            "* {} question(s) resumed from the journal of an interrupted run\n",
            report.resumed
        ));
    }
    if report.unjudged > 0 {
        md.push_str(&format!(
            "* **{} response(s) needed the LLM judge but no judge was given** (--judge-url): \
             they count by string metrics only, so accuracy is a lower bound\n",
            report.unjudged
        ));
    }
    write_atomically(&dir.join("summary.md"), &md)
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
