//! The quickstart's results: the comparison table (SFT / GRPO / ARPO) and the report folder
//! (`summary.json`, `report.md`, learning-curve and SFT-loss SVG charts).

use std::fmt::Write;
use std::path::Path;

use arpo_eval::plot::{LinePlot, Series};
use arpo_eval::PairedComparison;
use arpo_train::{StepMetrics, ValidationMetrics};
use serde::{Deserialize, Serialize};

use super::{io_err, EvalSummary, QuickstartConfig, QuickstartError};

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRow {
    /// `SFT`, `ARPO` or `GRPO`.
    pub stage: String,
    /// Held-out evaluation of the stage's final weights.
    pub eval: EvalSummary,
    /// RL steps run (0 for SFT).
    pub rl_steps: usize,
    /// Tool calls made by the training rollouts, per RL step.
    pub rl_tool_calls_per_step: f64,
    /// Branch copies made by the training rollouts, all steps together.
    pub rl_branch_copies: usize,
    /// Tokens sampled by the training rollouts, all steps together.
    pub rl_generated_tokens: usize,
    /// Tokens forwarded by the training rollouts, all steps together.
    pub rl_forwarded_tokens: usize,
    /// Training accuracy (fraction of correct leaves) over the last quarter of RL steps.
    pub rl_final_train_accuracy: Option<f64>,
    /// Training wall time of the stage (SFT, or the RL run).
    pub train_seconds: f64,
    /// Held-out questions gained and lost against SFT, with the exact sign test (RL rows; a
    /// `summary.json` written before the field has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_sft: Option<PairedComparison>,
    /// The validation curve of an RL run: the first held-out questions before RL and every
    /// few steps (empty for SFT, and when validation is off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<ValidationMetrics>,
}

impl StageRow {
    /// The SFT row.
    pub fn sft(eval: EvalSummary, seconds: f64) -> Self {
        Self {
            stage: "SFT".into(),
            eval,
            rl_steps: 0,
            rl_tool_calls_per_step: 0.0,
            rl_branch_copies: 0,
            rl_generated_tokens: 0,
            rl_forwarded_tokens: 0,
            rl_final_train_accuracy: None,
            train_seconds: seconds,
            vs_sft: None,
            validation: Vec::new(),
        }
    }

    /// An RL row from its per-step metrics.
    pub fn rl(stage: &str, eval: EvalSummary, steps: &[StepMetrics], seconds: f64) -> Self {
        let n = steps.len().max(1) as f64;
        let tail = &steps[steps.len() - steps.len().div_ceil(4)..];
        Self {
            stage: stage.into(),
            eval,
            rl_steps: steps.len(),
            rl_tool_calls_per_step: steps.iter().map(|s| s.tool_calls).sum::<usize>() as f64 / n,
            rl_branch_copies: steps.iter().map(|s| s.branch_copies).sum(),
            rl_generated_tokens: steps.iter().map(|s| s.generated_tokens).sum(),
            rl_forwarded_tokens: steps.iter().map(|s| s.rollout_forwarded_tokens).sum(),
            rl_final_train_accuracy: (!tail.is_empty())
                .then(|| tail.iter().map(|s| s.accuracy).sum::<f64>() / tail.len() as f64),
            train_seconds: seconds,
            vs_sft: None,
            validation: Vec::new(),
        }
    }
}

/// Everything the run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartReport {
    /// The settings of the run.
    pub config: QuickstartConfig,
    /// Backend the run used.
    pub backend: String,
    /// SFT, ARPO and GRPO rows.
    pub rows: Vec<StageRow>,
    /// SFT examples (demonstrations replayed through the tools).
    pub sft_examples: usize,
    /// Seconds spent making the SFT data (running the demonstrations' tool calls).
    pub data_seconds: f64,
    /// Whole-run wall time.
    pub total_seconds: f64,
}

/// One line per RL method of `metric` against the step.
fn per_step_plot(
    curves: &[(String, Vec<StepMetrics>)],
    title: &str,
    y_label: &str,
    metric: fn(&StepMetrics) -> f64,
) -> LinePlot {
    LinePlot {
        title: title.into(),
        x_label: "RL step".into(),
        y_label: y_label.into(),
        series: curves
            .iter()
            .map(|(name, steps)| Series {
                name: name.clone(),
                points: steps.iter().map(|s| (s.step as f64, metric(s))).collect(),
            })
            .collect(),
    }
}

/// A p-value with two significant digits (`0.031`, `4.2e-5`).
fn p_text(p: f64) -> String {
    if p >= 0.001 {
        let decimals = (1 - p.log10().floor() as i32).max(0) as usize;
        format!("{p:.decimals$}")
    } else {
        format!("{p:.1e}")
    }
}

/// Prints one evaluation result as it comes in.
pub fn stage_line(stage: &str, e: &EvalSummary) {
    eprintln!(
        "{stage} held-out: accuracy {:.3} ({}/{}), format errors {}, tool calls/question {:.2}, \
         tokens/question {:.0}, {:.1}s",
        e.accuracy,
        (e.accuracy * e.questions as f64).round(),
        e.questions,
        e.format_errors,
        e.tool_calls_per_question,
        e.tokens_per_question,
        e.seconds
    );
}

impl QuickstartReport {
    /// The validation curves as text (one line per RL method; empty without validation).
    pub fn validation_text(&self) -> String {
        let curves: Vec<&StageRow> = self
            .rows
            .iter()
            .filter(|r| !r.validation.is_empty())
            .collect();
        let Some(first) = curves.first() else {
            return String::new();
        };
        let steps: Vec<String> = first
            .validation
            .iter()
            .map(|v| v.step.to_string())
            .collect();
        let mut t = format!(
            "Validation accuracy on the first {} held-out questions (the same questions and \
             sampling streams at every point) after {} RL steps:\n",
            first.validation[0].responses,
            steps.join(" / ")
        );
        for r in curves {
            let points: Vec<String> = r
                .validation
                .iter()
                .map(|v| format!("{:.3}", v.accuracy))
                .collect();
            let _ = writeln!(t, "- {}: {}", r.stage, points.join(" → "));
        }
        t
    }

    /// The comparison table in Markdown.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "| stage | held-out accuracy | format errors | tool calls / question | tokens / question \
             | vs SFT: gained / lost (p) | RL tool calls / step | RL branch copies \
             | RL train accuracy (last quarter) | train time |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let rl = |v: String| {
                if r.rl_steps == 0 {
                    "–".to_string()
                } else {
                    v
                }
            };
            let _ = writeln!(
                t,
                "| {} | {:.3} | {}/{} | {:.2} | {:.0} | {} | {} | {} | {} | {:.0} s |",
                r.stage,
                r.eval.accuracy,
                r.eval.format_errors,
                r.eval.questions,
                r.eval.tool_calls_per_question,
                r.eval.tokens_per_question,
                r.vs_sft.map_or("–".into(), |p| format!(
                    "+{} / −{} (p = {})",
                    p.gained,
                    p.lost,
                    p_text(p.p_value)
                )),
                rl(format!("{:.1}", r.rl_tool_calls_per_step)),
                rl(r.rl_branch_copies.to_string()),
                r.rl_final_train_accuracy
                    .map_or("–".into(), |a| format!("{a:.3}")),
                r.train_seconds
            );
        }
        t
    }

    /// Writes `summary.json`, `report.md`, `learning_curve.svg` and `sft_loss.svg` into `dir`.
    pub fn write(
        &self,
        dir: &Path,
        sft_losses: &[(f64, f64)],
        curves: &[(String, Vec<StepMetrics>)],
        held_out_question: &str,
    ) -> Result<(), QuickstartError> {
        let write = |name: &str, text: String| -> Result<(), QuickstartError> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io_err(&path))
        };
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| QuickstartError::Task(format!("summary: {e}")))?;
        write("summary.json", json + "\n")?;
        let mut accuracy = per_step_plot(
            curves,
            "RL accuracy: validation (fixed questions) and training (each step's prompts)",
            "accuracy",
            |s| s.accuracy,
        );
        for s in &mut accuracy.series {
            s.name = format!("{} train", s.name);
        }
        for r in self.rows.iter().filter(|r| !r.validation.is_empty()) {
            accuracy.series.push(Series {
                name: format!("{} validation", r.stage),
                points: r
                    .validation
                    .iter()
                    .map(|v| (v.step as f64, v.accuracy))
                    .collect(),
            });
        }
        write("learning_curve.svg", accuracy.to_svg())?;
        let tools = per_step_plot(curves, "Tool calls per RL step", "tool calls", |s| {
            s.tool_calls as f64
        });
        write("tool_calls.svg", tools.to_svg())?;
        let sft = LinePlot {
            title: "SFT loss (masked cross-entropy)".into(),
            x_label: "SFT step".into(),
            y_label: "loss".into(),
            series: vec![Series {
                name: "SFT".into(),
                points: sft_losses.to_vec(),
            }],
        };
        write("sft_loss.svg", sft.to_svg())?;
        let mut md = format!(
            "# arpo-rs quickstart (seed {})\n\nBackend {}; {} SFT examples; total {:.0} s.\n\n",
            self.config.seed, self.backend, self.sft_examples, self.total_seconds
        );
        md.push_str(&self.table());
        let validation = self.validation_text();
        if !validation.is_empty() {
            md.push('\n');
            md.push_str(&validation);
        }
        md.push_str(
            "\nFiles: `summary.json` (this table and the config), `sft/metrics.jsonl`, \
             `arpo/metrics.jsonl`, `grpo/metrics.jsonl` (one JSON line per step), \
             `arpo/validation.jsonl`, `grpo/validation.jsonl` (one line per validation), \
             `eval/*.jsonl` (one record per held-out question), `learning_curve.svg`, \
             `tool_calls.svg`, `sft_loss.svg`, `trees/arpo-start.html` and \
             `trees/arpo-end.html` (one ARPO rollout tree before and after RL), `corpus.jsonl`, \
             and the trained policies as HF folders, `arpo/model` and `grpo/model`.\n",
        );
        // The search settings and prompt the policy was trained with (see `setup::build_runner`).
        let _ = write!(
            md,
            "\nAsk the ARPO policy a held-out question yourself (real tools, HTML tree):\n\n\
             ```text\ncargo run --release --example chat -- --model {dir}/arpo/model \\\n    \
             --corpus {dir}/corpus.jsonl --top-k {top_k} --page-format snippet \
             --snippet-chars 200 \\\n    {prompt}--max-tokens {budget} --mode arpo --samples {leaves} \
             --initial {initial} \\\n    --question {question:?}\n```\n",
            dir = dir.display(),
            top_k = arpo_eval::synthetic::SUGGESTED_TOP_K,
            prompt = if self.config.system_prompt { "" } else { "--no-system-prompt " },
            budget = self.config.max_response_tokens,
            leaves = self.config.leaves,
            initial = self.config.arpo_initial,
            question = held_out_question,
        );
        write("report.md", md)
    }
}

#[cfg(test)]
mod tests {
    use super::p_text;

    #[test]
    fn p_values_keep_two_significant_digits() {
        assert_eq!(p_text(1.0), "1.0");
        assert_eq!(p_text(0.5), "0.50");
        assert_eq!(p_text(0.0312), "0.031");
        assert_eq!(p_text(0.00456), "0.0046");
        assert_eq!(p_text(4.2e-5), "4.2e-5");
    }
}
