//! Held-out evaluation of one policy: one sampled trajectory per question through the same rollout
//! engine and tools as training, scored by the task's reward, summarised per stage.
//!
//! Decoding is the paper's evaluation setting (temperature 0.6, top-p 0.95, top-k 20) without its
//! repetition penalty: the task is copying names and numbers from the question and the tool
//! results, which a penalty on already-seen tokens would punish. Greedy decoding makes a tiny
//! model loop on tool calls.

use std::sync::Arc;

use arpo_core::{Reward, Task, Tokenizer};
use arpo_eval::{QuestionRecord, Trajectory};
use arpo_model::{CausalLm, SamplingConfig};
use arpo_rollout::{rollout, RolloutConfig, RolloutMode};
use arpo_tools::ToolRunner;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use super::QuickstartError;

/// What one stage (SFT, GRPO, ARPO) scores on the held-out questions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Questions evaluated.
    pub questions: usize,
    /// Fraction answered correctly.
    pub accuracy: f64,
    /// Responses that failed the format gate (tags, one boxed answer).
    pub format_errors: usize,
    /// Tool calls per question.
    pub tool_calls_per_question: f64,
    /// Generated tokens per question (tool results excluded).
    pub tokens_per_question: f64,
    /// Evaluation wall time in seconds.
    pub seconds: f64,
}

/// The evaluation's decoding (see the module docs), also the RL validation curve's.
pub fn eval_sampling() -> SamplingConfig {
    SamplingConfig {
        repetition_penalty: 1.0,
        ..SamplingConfig::paper_eval()
    }
}

/// Evaluates `model` on `tasks` (one seeded sample per question, evaluation's own tool state).
/// Returns the summary and one record per question.
pub async fn evaluate<B: Backend>(
    model: &CausalLm<B>,
    tokenizer: &dyn Tokenizer,
    runner: &Arc<ToolRunner>,
    reward: &dyn Reward,
    tasks: &[Task],
    max_response_tokens: usize,
    seed: u64,
) -> Result<(EvalSummary, Vec<QuestionRecord>), QuickstartError> {
    let inputs = arpo_train::rl::rollout_inputs(tokenizer, tasks)?;
    let mut config = RolloutConfig::new(
        RolloutMode::Trajectory { samples: 1 },
        eval_sampling(),
        tokenizer.stop_token_ids(),
    );
    config.max_response_tokens = max_response_tokens;
    // Evaluation shows the limit message and lets the model go on (arpo.md §6).
    config.end_on_tool_limit = false;
    let out = rollout::<B, _>(model, tokenizer, runner.clone(), &inputs, &config, seed).await?;
    let per_question = out.stats.wall_secs / tasks.len().max(1) as f64;
    let mut records = Vec::with_capacity(tasks.len());
    let mut format_errors = 0;
    for (tree, task) in out.trees.iter().zip(tasks) {
        let trajectory = Trajectory::from_leaf(tree, 0, per_question);
        let outcome = reward.score(task, &trajectory.response);
        format_errors += usize::from(!outcome.format_ok);
        records.push(QuestionRecord {
            benchmark: task.benchmark.clone(),
            id: task.id.clone(),
            sample: 0,
            question: task.question.clone(),
            golds: task.answers.clone(),
            answer: outcome.answer.clone(),
            correct: outcome.correct,
            f1: if outcome.correct { 1.0 } else { 0.0 },
            em: outcome.correct,
            judge: None,
            tool_calls: trajectory.tool_calls,
            tokens: trajectory.generated_tokens,
            seconds: trajectory.seconds,
            response: Some(trajectory.response),
        });
    }
    let n = records.len().max(1) as f64;
    let summary = EvalSummary {
        questions: records.len(),
        accuracy: records.iter().filter(|r| r.correct).count() as f64 / n,
        format_errors,
        tool_calls_per_question: records
            .iter()
            .map(|r| r.tool_calls.values().sum::<usize>())
            .sum::<usize>() as f64
            / n,
        tokens_per_question: records.iter().map(|r| r.tokens).sum::<usize>() as f64 / n,
        seconds: out.stats.wall_secs,
    };
    Ok((summary, records))
}

/// The held-out evaluation of the run: the same questions, tools, decoding and seed for every
/// stage; each stage's records go to `eval/{stage}.jsonl` in the report folder.
pub struct HeldOut<'a> {
    /// Encodes prompts, decodes responses.
    pub tokenizer: &'a dyn Tokenizer,
    /// The task's tools.
    pub runner: &'a Arc<ToolRunner>,
    /// The task's reward.
    pub reward: &'a dyn Reward,
    /// The held-out questions.
    pub tasks: &'a [Task],
    /// Response budget in tokens.
    pub max_response_tokens: usize,
    /// Rollout seed.
    pub seed: u64,
    /// Report folder.
    pub out_dir: &'a std::path::Path,
}

impl HeldOut<'_> {
    /// Evaluates `model` as `stage`, writes its records, prints its line and returns both.
    pub async fn run<B: Backend>(
        &self,
        stage: &str,
        model: &CausalLm<B>,
    ) -> Result<(EvalSummary, Vec<QuestionRecord>), QuickstartError> {
        let (summary, records) = evaluate(
            model,
            self.tokenizer,
            self.runner,
            self.reward,
            self.tasks,
            self.max_response_tokens,
            self.seed,
        )
        .await?;
        let path = self
            .out_dir
            .join(format!("eval/{}.jsonl", stage.to_lowercase()));
        arpo_eval::summary::write_records(&path, &records)?;
        super::report::stage_line(stage, &summary);
        Ok((summary, records))
    }
}
