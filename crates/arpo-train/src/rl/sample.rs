//! Rollout rounds of one RL step: take tasks in order from the run's [`TaskCursor`], roll them
//! out, score every leaf, and with DAPO dynamic sampling drop groups whose leaves all scored
//! the same, rolling out further tasks (one batched rollout per round) until
//! `ppo.batch_prompts` groups are kept or `advantage.max_refill_rounds` extra rounds are spent.
//!
//! Departure from DAPO: a refill round rolls out the number of prompts that the keep rate seen
//! so far predicts will fill the batch (at most `batch_prompts`), not a whole generation batch;
//! DAPO always rolls out a full batch and truncates. Groups kept beyond `batch_prompts` are
//! dropped here too; every prompt rolled out counts as consumed, so the run's task position
//! advances by all of them and a resumed run continues at the same task.

use arpo_core::{RolloutTree, Task};
use arpo_model::CausalLm;
use arpo_rollout::{rollout, RolloutStats};
use burn::tensor::backend::Backend;

use super::{rollout_inputs, RlContext};
use crate::advantage::keeps_group;
use crate::{Error, Result};

/// Where a run stands in its task list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskPosition {
    /// Index of the next task to roll out.
    pub next: usize,
    /// Passes over the task list completed.
    pub epoch: u64,
}

/// Hands out tasks in order, wrapping around at the end of the list.
#[derive(Debug, Clone)]
pub struct TaskCursor<'a> {
    tasks: &'a [Task],
    position: TaskPosition,
}

impl<'a> TaskCursor<'a> {
    /// A cursor at `position` of `tasks` (which must hold that position).
    pub fn new(tasks: &'a [Task], position: TaskPosition) -> Result<Self> {
        if position.next >= tasks.len() {
            return Err(Error::Usage(format!(
                "task position {} is past the {} tasks",
                position.next,
                tasks.len()
            )));
        }
        Ok(Self { tasks, position })
    }

    /// Where the cursor stands.
    pub fn position(&self) -> TaskPosition {
        self.position
    }

    /// The next `n` tasks, advancing past them.
    pub fn take(&mut self, n: usize) -> Vec<Task> {
        (0..n)
            .map(|_| {
                let task = self.tasks[self.position.next].clone();
                self.position.next += 1;
                if self.position.next == self.tasks.len() {
                    self.position.next = 0;
                    self.position.epoch += 1;
                }
                task
            })
            .collect()
    }
}

/// (score, correct, format_ok) of one leaf.
pub(super) type LeafScore = (f32, bool, bool);

/// What the rollout rounds of one step produced.
pub(super) struct Sampled {
    /// Kept groups, in rollout order, at most `ppo.batch_prompts`.
    pub trees: Vec<RolloutTree>,
    /// Every leaf rolled out (kept or not).
    pub scores: Vec<LeafScore>,
    /// Rollout counters summed over the rounds.
    pub stats: RolloutStats,
    /// Prompts rolled out.
    pub prompts: usize,
    /// Rollout rounds.
    pub rounds: usize,
}

/// Scores every leaf of `tree` (writing `leaf.reward`).
fn score_tree(tree: &mut RolloutTree, task: &Task, ctx: &RlContext) -> Vec<LeafScore> {
    let prompt_len = tree.prompt_len();
    let overlong = ctx.train.advantage.overlong;
    (0..tree.leaves.len())
        .map(|l| {
            let outcome = ctx.reward.score(task, &tree.response_text(l));
            let len = tree.leaf_tokens(l).len().saturating_sub(prompt_len);
            let score = outcome.score + overlong.map_or(0.0, |o| o.penalty(len));
            tree.leaves[l].reward = Some(score);
            (score, outcome.correct, outcome.format_ok)
        })
        .collect()
}

/// The rollout seed of round `round`: round 0 uses the step seed itself; refill rounds get
/// distinct streams (the rollout numbers its prompts from 0 in every call).
fn round_seed(seed: u64, round: usize) -> u64 {
    if round == 0 {
        seed
    } else {
        arpo_rollout::seeds::mix(seed ^ arpo_rollout::seeds::mix(round as u64))
    }
}

/// Prompts for the next refill round: enough to fill the batch at the keep rate seen so far
/// (a full batch while nothing was kept), at most `batch`.
fn refill_size(batch: usize, kept: usize, sampled: usize) -> usize {
    let missing = batch - kept;
    if kept == 0 {
        batch
    } else {
        (missing * sampled).div_ceil(kept).clamp(1, batch)
    }
}

/// Rolls out and scores the step's groups (see the module docs for the refill rule).
pub(super) async fn sample_groups<B: Backend>(
    policy: &CausalLm<B>,
    tasks: &mut TaskCursor<'_>,
    ctx: &RlContext<'_>,
    seed: u64,
) -> Result<Sampled> {
    let batch = ctx.train.ppo.batch_prompts;
    let dynamic = ctx.train.advantage.dynamic_sampling;
    let max_rounds = if dynamic {
        1 + ctx.train.advantage.max_refill_rounds
    } else {
        1
    };
    let mut out = Sampled {
        trees: Vec::with_capacity(batch),
        scores: Vec::new(),
        stats: RolloutStats::default(),
        prompts: 0,
        rounds: 0,
    };
    let mut size = batch;
    while out.rounds < max_rounds {
        let round_tasks = tasks.take(size);
        let inputs = rollout_inputs(ctx.tokenizer, &round_tasks)?;
        let rolled = rollout::<B, _>(
            policy,
            ctx.tokenizer,
            ctx.runner.clone(),
            &inputs,
            ctx.rollout,
            round_seed(seed, out.rounds),
        )
        .await?;
        add_stats(&mut out.stats, &rolled.stats);
        for (mut tree, task) in rolled.trees.into_iter().zip(&round_tasks) {
            let scores = score_tree(&mut tree, task, ctx);
            let rewards: Vec<f32> = scores.iter().map(|s| s.0).collect();
            out.scores.extend(scores);
            if (!dynamic || keeps_group(&rewards)) && out.trees.len() < batch {
                out.trees.push(tree);
            }
        }
        out.prompts += round_tasks.len();
        out.rounds += 1;
        if out.trees.len() >= batch {
            break;
        }
        size = refill_size(batch, out.trees.len(), out.prompts);
    }
    if out.trees.len() < batch {
        tracing::warn!(
            kept = out.trees.len(),
            wanted = batch,
            rounds = out.rounds,
            "dynamic sampling: batch not full after advantage.max_refill_rounds refills"
        );
    }
    Ok(out)
}

fn add_stats(sum: &mut RolloutStats, s: &RolloutStats) {
    sum.forwarded_tokens += s.forwarded_tokens;
    sum.generated_tokens += s.generated_tokens;
    sum.tool_tokens += s.tool_tokens;
    sum.forward_calls += s.forward_calls;
    sum.tool_calls += s.tool_calls;
    sum.branch_copies += s.branch_copies;
    sum.wall_secs += s.wall_secs;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refill_size_follows_the_keep_rate_and_stays_within_one_batch() {
        // Half of 8 kept: 4 missing at rate 1/2 → 8; 1 of 8 kept: 7 × 8 = 56 → capped at 8.
        assert_eq!(refill_size(8, 4, 8), 8);
        assert_eq!(refill_size(8, 1, 8), 8);
        // 6 of 8 kept: 2 missing at rate 3/4 → ceil(2·8/6) = 3.
        assert_eq!(refill_size(8, 6, 8), 3);
        assert_eq!(refill_size(8, 0, 16), 8);
        assert_eq!(refill_size(4, 3, 4), 2);
    }

    #[test]
    fn cursor_wraps_and_counts_epochs() {
        let tasks: Vec<Task> = (0..3)
            .map(|i| Task::new(format!("t{i}"), "toy", arpo_core::Domain::Math, "q", vec![]))
            .collect();
        let mut c = TaskCursor::new(&tasks, TaskPosition::default()).unwrap();
        let ids: Vec<String> = c.take(5).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["t0", "t1", "t2", "t0", "t1"]);
        assert_eq!(c.position(), TaskPosition { next: 2, epoch: 1 });
        assert!(TaskCursor::new(&tasks, TaskPosition { next: 3, epoch: 0 }).is_err());
    }
}
