//! Per-question result records (one JSON line each) and the per-run summary with its markdown
//! table: accuracy, mean F1, exact match, pass@k, tool calls, tokens and time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::passk::mean_pass_at_k;
use crate::{Error, Result};

/// The outcome of one sampled response to one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecord {
    /// Benchmark name.
    pub benchmark: String,
    /// Task id within the benchmark.
    pub id: String,
    /// Index of this sample among the repeated runs of the question.
    pub sample: usize,
    /// The question.
    pub question: String,
    /// Gold aliases.
    pub golds: Vec<String>,
    /// The extracted answer.
    pub answer: Option<String>,
    /// Final verdict (metric of the benchmark, or the judge when one was used).
    pub correct: bool,
    /// Token F1 of the answer.
    pub f1: f64,
    /// Normalised exact match.
    pub em: bool,
    /// The LLM judge's verdict, when a judge was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<bool>,
    /// Tool calls by tool name.
    #[serde(default)]
    pub tool_calls: BTreeMap<String, usize>,
    /// Generated tokens.
    pub tokens: usize,
    /// Wall time of the rollout in seconds.
    pub seconds: f64,
    /// The full response, when kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// Writes records as JSON lines.
pub fn write_records(path: &Path, records: &[QuestionRecord]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    write_lines(path, &file, records)
}

/// Writes records as JSON lines to `file` (opened from `path`, named in errors), buffered and
/// flushed.
pub(crate) fn write_lines(
    path: &Path,
    file: &std::fs::File,
    records: &[QuestionRecord],
) -> Result<()> {
    let mut out = std::io::BufWriter::new(file);
    for r in records {
        let line =
            serde_json::to_string(r).map_err(|e| Error::Config(format!("record {}: {e}", r.id)))?;
        writeln!(out, "{line}").map_err(|e| Error::io(path, e))?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}

/// Reads records written by [`write_records`]; errors name the line.
pub fn read_records(path: &Path) -> Result<Vec<QuestionRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Aggregates of one run on one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Benchmark name.
    pub benchmark: String,
    /// Distinct questions.
    pub questions: usize,
    /// Records (questions × samples).
    pub samples: usize,
    /// Mean of `correct` over records (pass@1 averaged over the repeated runs).
    pub accuracy: f64,
    /// Mean token F1.
    pub mean_f1: f64,
    /// Mean exact match.
    pub em: f64,
    /// Unbiased pass@k for each requested k not above the fewest samples of a question.
    pub pass_at_k: Vec<(usize, f64)>,
    /// Accuracy of each run: run `s` is the `s`-th sample of every question (the paper reports
    /// the mean of 5 such runs).
    #[serde(default)]
    pub run_accuracy: Vec<f64>,
    /// Sample standard deviation of `run_accuracy` (0 for a single run).
    #[serde(default)]
    pub run_accuracy_std: f64,
    /// Mean tool calls per record.
    pub tool_calls: f64,
    /// Mean generated tokens per record.
    pub tokens: f64,
    /// Mean seconds per record.
    pub seconds: f64,
    /// Generated tokens over total seconds.
    pub tokens_per_second: f64,
}

impl Summary {
    /// Summarises `records` (all of one benchmark); `ks` are the pass@k values wanted.
    pub fn from_records(
        benchmark: &str,
        records: &[QuestionRecord],
        ks: &[usize],
    ) -> Result<Summary> {
        if records.is_empty() {
            return Err(Error::Config(format!(
                "{benchmark}: no records to summarise"
            )));
        }
        let n = records.len() as f64;
        let mean = |f: &dyn Fn(&QuestionRecord) -> f64| records.iter().map(f).sum::<f64>() / n;
        let mut per_question: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for r in records {
            let e = per_question.entry(r.id.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(r.correct);
        }
        let counts: Vec<(usize, usize)> = per_question.values().copied().collect();
        let fewest = counts.iter().map(|c| c.0).min().unwrap_or(0);
        let pass_at_k = ks
            .iter()
            .filter(|&&k| k >= 1 && k <= fewest)
            .map(|&k| mean_pass_at_k(&counts, k).map(|p| (k, p)))
            .collect::<Result<Vec<_>>>()?;
        let runs = records.iter().map(|r| r.sample + 1).max().unwrap_or(0);
        let run_accuracy: Vec<f64> = (0..runs)
            .map(|s| {
                let run: Vec<_> = records.iter().filter(|r| r.sample == s).collect();
                run.iter().filter(|r| r.correct).count() as f64 / run.len().max(1) as f64
            })
            .collect();
        let run_accuracy_std = if runs > 1 {
            let mean = run_accuracy.iter().sum::<f64>() / runs as f64;
            (run_accuracy.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (runs - 1) as f64)
                .sqrt()
        } else {
            0.0
        };
        let total_tokens: usize = records.iter().map(|r| r.tokens).sum();
        let total_seconds: f64 = records.iter().map(|r| r.seconds).sum();
        Ok(Summary {
            benchmark: benchmark.to_string(),
            questions: counts.len(),
            samples: records.len(),
            accuracy: mean(&|r| f64::from(u8::from(r.correct))),
            mean_f1: mean(&|r| r.f1),
            em: mean(&|r| f64::from(u8::from(r.em))),
            pass_at_k,
            run_accuracy,
            run_accuracy_std,
            tool_calls: mean(&|r| r.tool_calls.values().sum::<usize>() as f64),
            tokens: mean(&|r| r.tokens as f64),
            seconds: mean(&|r| r.seconds),
            tokens_per_second: if total_seconds > 0.0 {
                total_tokens as f64 / total_seconds
            } else {
                0.0
            },
        })
    }
}

/// A markdown table with one row per summary; pass@k columns are the union of the summaries' k.
pub fn markdown_table(summaries: &[Summary]) -> String {
    let mut ks: Vec<usize> = summaries
        .iter()
        .flat_map(|s| s.pass_at_k.iter().map(|p| p.0))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut out = String::from("| benchmark | questions | samples | accuracy | F1 | EM |");
    for k in &ks {
        out.push_str(&format!(" pass@{k} |"));
    }
    out.push_str(" tool calls | tokens | s/question | tokens/s |\n|---|---:|---:|---:|---:|---:|");
    out.push_str(&"---:|".repeat(ks.len() + 4));
    out.push('\n');
    for s in summaries {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            s.benchmark,
            s.questions,
            s.samples,
            100.0 * s.accuracy,
            100.0 * s.mean_f1,
            100.0 * s.em
        ));
        for k in &ks {
            match s.pass_at_k.iter().find(|p| p.0 == *k) {
                Some((_, p)) => out.push_str(&format!(" {:.1} |", 100.0 * p)),
                None => out.push_str(" – |"),
            }
        }
        out.push_str(&format!(
            " {:.2} | {:.0} | {:.2} | {:.1} |\n",
            s.tool_calls, s.tokens, s.seconds, s.tokens_per_second
        ));
    }
    out
}
