//! The pieces of a tiny RL run for integration tests: tasks, a reward that makes chosen groups
//! uniform, a from-scratch model on the byte tokenizer, rollout settings, and weights as
//! floats for comparisons.

use std::sync::Arc;

use arpo_core::{Domain, Reward, RewardOutcome, Task, Tokenizer};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{from_scratch, CausalLm, ModelConfig, SamplingConfig};
use arpo_rollout::{RolloutConfig, RolloutMode};
use arpo_tools::{RunnerConfig, ToolRunner};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// The test backend.
pub type B = Autodiff<Flex>;

/// Tasks `t0`, `t1`, … with distinct questions.
pub fn tasks(n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| {
            Task::new(
                format!("t{i}"),
                "toy",
                Domain::Math,
                format!("Say something {i}."),
                vec!["x".into()],
            )
        })
        .collect()
}

/// Index of a task made by [`tasks`].
pub fn task_index(task: &Task) -> usize {
    task.id.trim_start_matches('t').parse().expect("task id tN")
}

/// Every leaf of an even-numbered task scores 0.5 (a uniform group, which dynamic sampling
/// drops); an odd-numbered task's leaves score a hash of their text in [0, 1), so two leaves
/// score the same only when they wrote the same text.
pub struct EvenTasksUniform;

impl Reward for EvenTasksUniform {
    fn score(&self, task: &Task, response: &str) -> RewardOutcome {
        let score = if task_index(task).is_multiple_of(2) {
            0.5
        } else {
            let h = response.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            (h % 1000) as f32 / 1000.0
        };
        RewardOutcome {
            score,
            correct: score > 0.5,
            format_ok: true,
            answer: None,
        }
    }
}

/// A one-layer model of width 32 on the byte tokenizer with tool tags.
pub fn model(tok: &ByteTokenizer, seed: u64) -> CausalLm<B> {
    from_scratch::<B>(
        &ModelConfig::small(tok.vocab_size(), 32, 1),
        seed,
        &Default::default(),
    )
    .expect("from_scratch")
}

/// Rollout settings: `mode`, sampling at temperature 1, responses of at most `max_tokens`.
pub fn rollout_config(tok: &ByteTokenizer, mode: RolloutMode, max_tokens: usize) -> RolloutConfig {
    let mut r = RolloutConfig::new(mode, SamplingConfig::default(), tok.stop_token_ids());
    r.max_response_tokens = max_tokens;
    r
}

/// A tool runner with no tools.
pub fn no_tools() -> Arc<ToolRunner> {
    Arc::new(ToolRunner::new(RunnerConfig::default(), vec![]).expect("tool runner"))
}

/// A single-threaded tokio runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

struct Collect(Vec<f32>);

impl<Bk: Backend> ModuleVisitor<Bk> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.0.extend(data.into_vec::<f32>().expect("f32 weights"));
    }
}

/// Every weight of `model`, in visiting order.
pub fn weights(model: &CausalLm<B>) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// Largest absolute difference of two weight vectors of the same model shape.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "weight counts differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}
