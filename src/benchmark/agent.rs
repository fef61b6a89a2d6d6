//! The in-process agent: a burn policy answering through the same rollout engine and tools as
//! training (trajectory mode, `samples` leaves per question, all questions of a chunk decoded as
//! one batch).

use std::sync::Arc;

use arpo_core::{ChatMessage, Policy, Tokenizer};
use arpo_eval::harness::{Agent, Decoding, Trajectory};
use arpo_model::SamplingConfig;
use arpo_rollout::{rollout, RolloutConfig, RolloutInput, RolloutMode};
use arpo_tools::ToolRunner;
use async_trait::async_trait;
use burn::tensor::backend::Backend;

/// A policy and its tokenizer as a harness agent.
pub struct PolicyAgent<'a, B: Backend, P: Policy<B>> {
    /// The model.
    pub policy: &'a P,
    /// Its tokenizer (chat template, stop tokens).
    pub tokenizer: &'a dyn Tokenizer,
    /// What the model is, for reports.
    pub label: String,
    /// Rows per forward (`None`: every ready sequence at once).
    pub max_batch_rows: Option<usize>,
    /// The backend type.
    pub backend: std::marker::PhantomData<B>,
}

#[async_trait(?Send)]
impl<B: Backend, P: Policy<B>> Agent for PolicyAgent<'_, B, P> {
    fn describe(&self) -> String {
        self.label.clone()
    }

    async fn answer(
        &self,
        prompts: &[Vec<ChatMessage>],
        samples: usize,
        decoding: &Decoding,
        runner: &Arc<ToolRunner>,
        seed: u64,
    ) -> arpo_eval::Result<Vec<Vec<Trajectory>>> {
        let inputs = prompts
            .iter()
            .enumerate()
            .map(|(i, messages)| {
                let text = self.tokenizer.apply_chat_template(messages, true)?;
                Ok(RolloutInput {
                    task_id: i.to_string(),
                    prompt_tokens: self.tokenizer.encode(&text)?,
                })
            })
            .collect::<arpo_core::Result<Vec<_>>>()?;
        let sampling = SamplingConfig {
            temperature: decoding.temperature,
            top_k: decoding.top_k,
            top_p: decoding.top_p,
            repetition_penalty: decoding.repetition_penalty,
        };
        let mut config = RolloutConfig::new(
            RolloutMode::Trajectory { samples },
            sampling,
            self.tokenizer.stop_token_ids(),
        );
        config.max_response_tokens = decoding.max_new_tokens;
        // Evaluation shows the limit message and lets the model go on (arpo.md §6).
        config.end_on_tool_limit = false;
        config.max_batch_rows = self.max_batch_rows;
        let out = rollout::<B, P>(
            self.policy,
            self.tokenizer,
            runner.clone(),
            &inputs,
            &config,
            seed,
        )
        .await?;
        // One batch decodes every trajectory: each is charged an equal share of its time.
        let share = out.stats.wall_secs / (prompts.len() * samples).max(1) as f64;
        Ok(out
            .trees
            .iter()
            .map(|tree| {
                (0..tree.leaves.len())
                    .map(|leaf| Trajectory::from_leaf(tree, leaf, share))
                    .collect()
            })
            .collect())
    }
}
